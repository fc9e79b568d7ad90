"""An admin's change to an open queue's definition, and the backfill it brings (`QueueRepo.change`).

What may change, and why the rest may not:
- instructions, reviewers per item, blind, assignees: how the queue is worked, nothing about its items;
- the selection: runs matching the new one enter (backfill); items the old one let in stay, as an
  item always does;
- the sample rate, upward only: the sample becomes every run whose point is under the new rate, so
  the runs between the two rates enter, and every sampled item's inclusion probability becomes the
  new rate (an item that entered by the selection alone and now falls in the sample turns `both`).
  A lower rate would leave sampled items outside the sample, and a new seed would draw another sample:
  both are a new queue, refused here with that advice;
- the rubric, by additions: each criterion it has keeps its name, kind, labels and options, so that
  every score given stays valid (its description and whether it is required may change).
"""

from __future__ import annotations

import dataclasses

from data_layer.errors import Conflict, InvalidInput
from data_layer.queues.membership import point_sql
from data_layer.queues.rubric import Rubric
from data_layer.queues.spec import QueueSpec

FIELDS = ("instructions", "selection", "sample_rate", "reviewers_per_item", "blind", "assignees", "rubric")

UPDATE = """
UPDATE queues SET instructions = $instructions, selection = $selection, sample_rate = $sample_rate,
    reviewers_per_item = $reviewers_per_item, blind = $blind, assignees = $assignees, rubric = $rubric
WHERE name = $name
"""

# Every item now in the sample (sampled before, or its point under the new rate) takes the new rate.
_RESAMPLE = """
UPDATE queue_items SET inclusion_probability = $sample_rate,
    reason = CASE WHEN reason = 'selected' THEN 'both' ELSE reason END
WHERE queue_name = $queue_name
  AND (inclusion_probability IS NOT NULL
       OR run_id IN (SELECT r.run_id FROM runs r WHERE ({point}) < $sample_rate))
"""


def changed(spec: QueueSpec, closed: bool, fields: dict) -> QueueSpec:
    """The queue's definition with `fields` changed, checked as a new definition is and against the
    rules above; `InvalidInput` or `Conflict` saying what may not change."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"a queue's {unknown[0][:40]} cannot change; what can: {', '.join(FIELDS)}")
    if closed:
        raise Conflict(f"queue {spec.name} is closed: define a new queue instead")
    new = dataclasses.replace(spec, **fields)
    if new.sample_rate < spec.sample_rate:
        raise InvalidInput(
            f"queue {spec.name}'s sample rate can only rise (it is {spec.sample_rate:g}): sampled items would "
            "fall outside the sample; define a new queue for a smaller sample"
        )
    _keeps(spec.rubric, new.rubric)
    return new


def _keeps(old: Rubric, new: Rubric) -> None:
    for criterion in old.criteria:
        kept = new.get(criterion.name)
        if kept is None:
            raise InvalidInput(f"criterion {criterion.name} has scores to keep: a rubric may only gain criteria")
        if (kept.kind, kept.labels, kept.options) != (criterion.kind, criterion.labels, criterion.options):
            raise InvalidInput(
                f"criterion {criterion.name}: its kind, labels and options stay as they are, so that every "
                "score given stays valid (its description and whether it is required may change)"
            )


def resample(conn, engine, old: QueueSpec, new: QueueSpec) -> None:
    """After a rise of the sample rate: every item in the sample takes the new inclusion probability."""
    if new.sample_rate == old.sample_rate:
        return
    params = {"queue_name": new.name, "sample_rate": new.sample_rate, "seed": new.seed}
    conn.execute(_RESAMPLE.format(point=point_sql(engine)), params)
