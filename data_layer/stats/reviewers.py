"""Reviewers on the stats page: each reviewer's activity, and how far reviewers agree with one
another on the runs two or more of them rated (Fleiss' kappa).

Both count reviewer votes only (source `reviewer`): end users are customers rating their own
conversation, not reviewers. How end users agree with the reviewers is another statistic, in
`data_layer.insights.agreement`.
"""

from __future__ import annotations

from data_layer.filters import RUNS, Filters, conditions
from data_layer.stats import cubes
from data_layer.stats.sql import counted, votes_where

# A reviewer's votes on one run are one per target, so the runs rated as a whole are the whole-run
# votes; a run rated only message by message is counted once more (few, and found among few).
_REVIEWER_ACTIVITY = """
WITH v AS (
    SELECT f.owner_id, f.run_id, f.scope, f.rating FROM feedback f
    WHERE {votes} AND f.source = 'reviewer' AND f.owner_id IS NOT NULL
),
by_message AS (
    SELECT owner_id, count(*) AS runs
    FROM (SELECT owner_id, run_id FROM v
          WHERE run_id IN (SELECT run_id FROM v WHERE scope <> '')
          GROUP BY owner_id, run_id
          HAVING count(*) FILTER (WHERE scope = '') = 0) m
    GROUP BY owner_id
)
SELECT a.reviewer, a.votes, a.positive, a.negative, a.whole + coalesce(m.runs, 0) AS runs
FROM (
    SELECT owner_id AS reviewer,
           count(*) AS votes,
           count(*) FILTER (WHERE rating = 1) AS positive,
           count(*) FILTER (WHERE rating = -1) AS negative,
           count(*) FILTER (WHERE scope = '') AS whole
    FROM v
    GROUP BY owner_id
) a
LEFT JOIN by_message m ON m.owner_id = a.reviewer
ORDER BY 2 DESC, 1
LIMIT $limit
"""


def reviewer_activity(conn, filters: Filters, limit: int = 50) -> list[dict]:
    """Votes per reviewer (most active first): `votes`, `positive`, `negative`, `runs`, the rate."""
    if cubes.usable(filters, by_reviewer=True):
        return [counted(row) for row in cubes.reviewer_activity(conn, filters, limit)]
    votes, params = votes_where(filters)
    return [counted(row) for row in conn.all(_REVIEWER_ACTIVITY.format(votes=votes), {**params, "limit": limit})]


# Per run rated by two or more reviewers (whole-run votes only): n raters, of whom `positive` said up,
# from the run's panel tallies. Agreeing rater pairs over all rater pairs gives that run's agreement
# P_i. One reviewer cannot agree with anyone, so the reviewer filter does not narrow agreement; the
# source filter either keeps every reviewer vote or none.
_AGREEMENT = """
WITH per_run AS (
    SELECT r.assistant_id, r.panel_positive + r.panel_negative AS n, r.panel_positive AS positive
    FROM runs r
    WHERE {run} AND r.panel_positive + r.panel_negative >= 2
)
SELECT assistant_id,
       GROUPING(assistant_id) AS is_total,
       count(*) AS runs,
       sum(n) AS ratings,
       sum(positive) AS positive,
       count(*) FILTER (WHERE positive = 0 OR positive = n) AS unanimous,
       sum(CAST(positive * (positive - 1) + (n - positive) * (n - positive - 1) AS DOUBLE PRECISION)
           / (n * (n - 1))) AS agreement_sum
FROM per_run
GROUP BY GROUPING SETS ((assistant_id), ())
ORDER BY 2 DESC, 1 NULLS LAST
"""


def _fleiss(row: dict | None) -> dict:
    if row is None:
        row = {"runs": 0, "ratings": 0, "positive": 0, "unanimous": 0, "agreement_sum": 0.0}
    runs, ratings, positive = int(row["runs"]), int(row["ratings"] or 0), int(row["positive"] or 0)
    agreement = float(row["agreement_sum"]) / runs if runs else None
    kappa = None
    if runs:
        p = positive / ratings
        chance = p * p + (1 - p) * (1 - p)
        kappa = (float(row["agreement_sum"]) / runs - chance) / (1 - chance) if chance < 1 else None
    return {
        "runs": runs,
        "ratings": ratings,
        "positive": positive,
        "unanimous": int(row["unanimous"] or 0),
        "percent_agreement": agreement,
        "kappa": kappa,
    }


def reviewer_agreement(conn, filters: Filters) -> dict:
    """Agreement of reviewers among themselves on runs that two or more of them rated (whole-run votes).

    `percent_agreement` is the mean over those runs of agreeing rater pairs / rater pairs (for two
    raters: the share of runs where they agree); `unanimous` counts runs where all agree. `kappa` is
    Fleiss' kappa, generalised to a varying number of raters per run: (P - Pe) / (1 - Pe), with P the
    percent agreement and Pe = p^2 + (1 - p)^2 from the share p of thumbs-up among those ratings; None
    when every rating is the same (Pe = 1) or there are no such runs. Also per assistant.
    """
    if cubes.usable(filters, by_reviewer=True):
        rows = cubes.agreement(conn, filters)
    else:
        run, params = conditions(filters, RUNS)
        if filters.source not in (None, "reviewer"):
            run = "FALSE"
        rows = conn.all(_AGREEMENT.format(run=run), params)
    total = next((row for row in rows if row["is_total"]), None)
    per_assistant = [{"assistant_id": row["assistant_id"], **_fleiss(row)} for row in rows if not row["is_total"]]
    return {**_fleiss(total), "by_assistant": per_assistant}
