"""Which runs are items of a queue, and why: the deterministic sample and the selection.

A run's sample point in a queue is the first 32 bits of md5(`run_id:seed`) over 2^32, a number in
[0, 1) that depends on nothing but the run id and the queue's seed: the sample is the same whatever
the order runs arrive in, whoever looks and whichever engine computes it (`sample_point` is the same
function in Python, for tests and tools). A run is sampled when its point is under the queue's rate;
its inclusion probability is then the rate. A run matching the selection enters too; its `reason`
says which of the two let it in (`sampled`, `selected` or `both`), and a run that entered only by the
selection has no inclusion probability: it is no part of the random sample.

Runs enter as they arrive (the import's transaction calls `enter` with its runs) and when a queue is
created or changed (`enter` with every run; `change.py`). An item, once in, stays: a run that stops
matching the selection (a new complaint retracted) keeps its place and its votes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from data_layer.filters import conditions
from data_layer.queue import FILTERS as SELECTION
from data_layer.queues.spec import QueueSpec

# The engine's template (`Engine.hex32_to_int`) turns the md5's first 8 hex digits into an integer.
_POINT = "{number} / 4294967296.0"
_HEX = "substr(md5(r.run_id || ':' || CAST($seed AS TEXT)), 1, 8)"

_ENTER = """
INSERT INTO queue_items (queue_name, run_id, thread_id, reason, inclusion_probability, entered_at)
SELECT $queue_name, run_id, thread_id,
       CASE WHEN sampled AND selected THEN 'both' WHEN sampled THEN 'sampled' ELSE 'selected' END,
       CASE WHEN sampled THEN $sample_rate END,
       $now
FROM (
    SELECT r.run_id, r.thread_id, ({point}) < $sample_rate AS sampled, ({selected}) AS selected
    FROM runs r {arrivals}
) AS candidate
WHERE (sampled OR selected)
  AND NOT EXISTS (SELECT 1 FROM queue_items q WHERE q.queue_name = $queue_name AND q.run_id = candidate.run_id)
"""


def sample_point(run_id: str, seed: int) -> float:
    """The run's sample point in a queue of this seed, as the SQL of `enter` computes it."""
    return int(hashlib.md5(f"{run_id}:{seed}".encode()).hexdigest()[:8], 16) / 2**32


def point_sql(engine) -> str:
    """The SQL of a run's sample point (the run aliased `r`, the seed as `$seed`) on `engine`."""
    return _POINT.format(number=engine.hex32_to_int.format(hex=_HEX))


def enter(
    conn,
    engine,
    spec: QueueSpec,
    arrivals: str | None = None,
    now: datetime | None = None,
    arrival_params: dict | None = None,
) -> None:
    """Add the runs that belong in the queue and are not in it yet; `arrivals` (a query of `run_id`s, with
    its `arrival_params`) limits the candidates to those runs, else every stored run is one."""
    selection = spec.selection.as_dict()
    selected, params = conditions(spec.selection, SELECTION) if selection else ("FALSE", {})
    point = point_sql(engine)
    join = f"JOIN ({arrivals}) AS arrived ON arrived.run_id = r.run_id" if arrivals else ""
    sql = _ENTER.format(point=point, selected=selected, arrivals=join)
    params.update(
        arrival_params or {},
        queue_name=spec.name,
        seed=spec.seed,
        sample_rate=spec.sample_rate,
        now=now or datetime.now(UTC),
    )
    conn.execute(sql, params)
