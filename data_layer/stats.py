"""Aggregates for product managers, computed in SQL (headline numbers, rates, breakdowns)."""

from __future__ import annotations

_OVERVIEW = """
SELECT
    (SELECT count(*) FROM threads) AS threads,
    (SELECT count(*) FROM runs) AS runs,
    (SELECT count(*) FROM run_events) AS events,
    (SELECT count(*) FROM feedback) AS votes,
    (SELECT count(*) FROM feedback WHERE rating = 1) AS positive,
    (SELECT count(*) FROM feedback WHERE rating = -1) AS negative,
    (SELECT count(DISTINCT run_id) FROM feedback) AS runs_with_feedback
"""


def overview(store) -> dict:
    """Headline counts over the whole store, with the positive rate (None when there are no votes)."""
    with store.engine.read() as conn:
        row = {key: int(value) for key, value in conn.one(_OVERVIEW).items()}
    row["positive_rate"] = round(row["positive"] / row["votes"], 4) if row["votes"] else None
    return row
