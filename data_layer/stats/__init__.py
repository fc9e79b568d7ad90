"""Aggregates for product managers, computed in SQL: headline numbers, rates over time and per
assistant or model, reason tags, follow-ups, reviewer activity and agreement, the worst runs.

`dashboard()` computes everything the stats page draws, over one connection; it names reviewers
and quotes comments, so it takes the `actor` asking, which must be allowed to read
(`auth.authorize`). Each aggregate is a function of a read connection and `Filters`
(data_layer/filters.py), in a module named for what it computes: `rates` (headline, over time, per
assistant or model, reason tags), `followups`, `reviewers` (activity, Fleiss' kappa among
reviewers), `worst` (the runs with the most thumbs-down), `criteria` (rubric scores); `sql` holds the pieces they share.

Time is the run's: a vote counts on the day of the run it judges, so a bad day of the agent shows
on that day however late its votes arrived. The date range, assistant and model narrow the runs;
the reviewer and the source narrow the votes. Results are plain dicts and lists; rates are
fractions in 0..1, None where there is nothing to divide.
"""

from __future__ import annotations

from data_layer import auth, rules
from data_layer.filters import RUNS, VOTES, Filters
from data_layer.stats.criteria import criteria
from data_layer.stats.followups import FOLLOW_UP_CLASSES, follow_ups
from data_layer.stats.rates import UNTAGGED, by_group, headline, over_time, tags_by_assistant, tags_over_time
from data_layer.stats.reviewers import reviewer_activity, reviewer_agreement
from data_layer.stats.sql import DAY_BUCKET_MAX_DAYS, bucket_for, data_bounds
from data_layer.stats.worst import worst_runs

__all__ = [
    "DAY_BUCKET_MAX_DAYS",
    "FOLLOW_UP_CLASSES",
    "TAKES",
    "UNTAGGED",
    "bounds",
    "dashboard",
    "overview",
    "reviewers_seen",
]

# The filters the stats take.
TAKES = (*RUNS, *VOTES)

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

_REVIEWERS = """
SELECT DISTINCT owner_id FROM feedback
WHERE source = 'reviewer' AND owner_id IS NOT NULL
ORDER BY owner_id
LIMIT 1000
"""


def overview(store) -> dict:
    """Headline counts over the whole store, with the positive rate (None when there are no votes)."""
    with store.engine.stale_read() as conn:
        counts = {key: int(value) for key, value in conn.one(_OVERVIEW).items()}
    return {**counts, "positive_rate": round(counts["positive"] / counts["votes"], 4) if counts["votes"] else None}


def bounds(store) -> dict:
    """First and last run times in the store (ISO 8601), None when there are no runs."""
    with store.engine.stale_read() as conn:
        return data_bounds(conn)


def reviewers_seen(store, *, actor: auth.Actor) -> list[str]:
    """Every reviewer who voted as a reviewer, for filter choices (reviewer ids: the actor must read)."""
    auth.authorize(actor, "read")
    with store.engine.stale_read() as conn:
        return [row["owner_id"] for row in conn.all(_REVIEWERS)]


def dashboard(store, filters=None, *, actor: auth.Actor, worst: int = 20) -> dict:
    """Every aggregate the stats page draws, over one connection (the unit a benchmark times): `bounds`,
    `bucket` (day or week, by the range), `headline`, `over_time`, `by_assistant`, `by_model`,
    `tags_over_time`, `tags_by_assistant`, `follow_ups`, `reviewers` (activity), `reviewer_agreement`
    (Fleiss' kappa among reviewers) and the `worst` runs with the most thumbs-down (`worst_runs`)."""
    auth.authorize(actor, "read")
    chosen = Filters.of(filters, takes=TAKES, reader="the stats")
    limit = rules.integer(worst, "worst", low=1, high=10_000)
    with store.engine.stale_read() as conn:
        data = data_bounds(conn)
        bucket = bucket_for(chosen, data)
        return {
            "bounds": data,
            "bucket": bucket,
            "headline": headline(conn, chosen),
            "over_time": over_time(conn, chosen, bucket),
            "by_assistant": by_group(conn, chosen, "assistant_id"),
            "by_model": by_group(conn, chosen, "model_name"),
            "tags_over_time": tags_over_time(conn, chosen, bucket),
            "tags_by_assistant": tags_by_assistant(conn, chosen),
            "follow_ups": follow_ups(conn, chosen),
            "reviewers": reviewer_activity(conn, chosen),
            "reviewer_agreement": reviewer_agreement(conn, chosen),
            "worst_runs": worst_runs(conn, chosen, actor, limit),
            "criteria": criteria(conn, chosen),
        }
