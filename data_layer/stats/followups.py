"""Follow-ups by rating: how often a successful run is followed by another run in its thread,
split by that run's votes. A follow-up after a thumbs-down is the sign the agent failed."""

from __future__ import annotations

from data_layer.analysis import rate, wilson
from data_layer.filters import Filters
from data_layer.stats import cubes
from data_layer.stats.sql import per_run

FOLLOW_UP_CLASSES = ("negative", "mixed", "positive", "unrated")

# Upstream records a follow-up only after a successful run, so only successful runs are counted:
# a failed run can never have one, and would dilute the signal. A successful run without a
# counted vote is `unrated`.
_FOLLOW_UPS = """
SELECT CASE WHEN positive + negative = 0 THEN 'unrated'
            WHEN positive = 0 THEN 'negative'
            WHEN negative = 0 THEN 'positive'
            ELSE 'mixed' END AS rating,
       count(*) AS runs,
       count(*) FILTER (WHERE followed_up) AS followed_up
FROM ({runs}) p
WHERE status = 'success'
GROUP BY 1
"""


def follow_ups(conn, filters: Filters) -> list[dict]:
    """One row per rating class: `negative` (only thumbs-down), `mixed`, `positive` (only thumbs-up),
    `unrated`; each with `runs`, `followed_up`, `rate` and its Wilson interval."""
    if cubes.usable(filters):
        rows = cubes.follow_ups(conn, filters)
    else:
        runs, params = per_run(filters)
        rows = conn.all(_FOLLOW_UPS.format(runs=runs), params)
    found = {row["rating"]: row for row in rows}
    out = []
    for name in FOLLOW_UP_CLASSES:
        row = found.get(name, {"runs": 0, "followed_up": 0})
        count, followed = int(row["runs"]), int(row["followed_up"])
        low, high = wilson(followed, count)
        out.append(
            {
                "rating": name,
                "runs": count,
                "followed_up": followed,
                "rate": rate(followed, count),
                "low": low,
                "high": high,
            }
        )
    return out
