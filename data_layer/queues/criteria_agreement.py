"""How much a queue's reviewers agree on each criterion of its rubric, beyond chance (`agreement.py`'s
statistics over the scores instead of the thumbs).

The scores counted are those of the votes the thumbs' agreement counts (whole-run votes of named
reviewers) on the queue's items. SQL counts each item's scores per value and groups the items into the
distinct profiles of (values, counts) with how many items have each, per criterion. A binary or a
categorical criterion is measured at the nominal level; an ordinal one by Fleiss' kappa on its five
points as categories and by Krippendorff's alpha at the ordinal level. A reviewer who leaves an optional
criterion out gives the item one score fewer: Fleiss' kappa takes the items with k scores, Krippendorff's
alpha every item with two or more.
"""

from __future__ import annotations

import numpy as np

from data_layer.queues import agreement
from data_layer.queues.rubric import SCALE, Criterion, Rubric

PROFILES = """
WITH counted AS (
    SELECT s.criterion, s.run_id, s.value, count(*) AS n
    FROM queue_items q
    JOIN vote_scores s ON s.run_id = q.run_id
    JOIN feedback f ON f.feedback_id = s.feedback_id
        AND f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL
    WHERE q.queue_name = $queue_name AND s.criterion IN (SELECT unnest(CAST($criteria AS TEXT[])))
    GROUP BY s.criterion, s.run_id, s.value
), items AS (
    SELECT criterion, array_agg(value ORDER BY value) AS scored, array_agg(n ORDER BY value) AS counts
    FROM counted
    GROUP BY criterion, run_id
)
SELECT criterion, scored, counts, count(*) AS items
FROM items
GROUP BY criterion, scored, counts
ORDER BY criterion
"""


def categories(criterion: Criterion) -> tuple[str, ...]:
    """A criterion's values as stored, in their order (the ordinal level needs the scale's)."""
    if criterion.kind == "binary":
        return ("no", "yes")
    if criterion.kind == "ordinal":
        return tuple(str(point) for point in SCALE)
    return criterion.options


def table(criterion: Criterion, profiles: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The criterion's profiles as counts per category (profiles x categories) and items per profile; a
    stored value the criterion does not know is left out."""
    places = {value: place for place, value in enumerate(categories(criterion))}
    counts = np.zeros((len(profiles), len(places)))
    for row, profile in enumerate(profiles):
        for value, n in zip(profile["scored"], profile["counts"], strict=True):
            if value in places:
                counts[row, places[value]] += int(n)
    return counts, np.array([int(profile["items"]) for profile in profiles], dtype=float)


def measure(rubric: Rubric, rows: list[dict], k: int) -> list[dict]:
    """Each criterion's agreement, in the rubric's order, from the rows of `PROFILES`."""
    found = []
    for criterion in rubric.criteria:
        counts, weight = table(criterion, [row for row in rows if row["criterion"] == criterion.name])
        level: agreement.Level = "ordinal" if criterion.kind == "ordinal" else "nominal"
        found.append(
            {
                "criterion": criterion.name,
                "kind": criterion.kind,
                "level": level,
                **agreement.statistics(counts, weight, k, level=level, unit="scores"),
            }
        )
    return found
