"""Can end-user thumbs be trusted? Each end user's whole-run vote against the reviewers' majority on
the same run (Cohen's kappa), the runs where they disagree, and each reviewer against the other
reviewers' majority.

Another statistic than the stats page's reviewer agreement (`data_layer.stats.reviewers`, Fleiss'
kappa among reviewers). Both sources are the point here, so these take the run filters only (time,
assistant, model), never the vote filters.
"""

from __future__ import annotations

from collections import defaultdict

from data_layer import analysis, auth, rules
from data_layer.filters import RUNS, Filters, conditions
from data_layer.insights.counts import day, int_rows, none_last
from data_layer.queues import blind
from data_layer.rows import plain_all

# Each end-user whole-run vote on a run that reviewers also rated, against the reviewers' majority
# there: `majority` is 1 (more ups), -1 (more downs) or 0 (a tie, no majority).
_PAIRS = """
WITH reviewers AS (
    SELECT run_id, count(*) AS n, sum(rating) AS balance,
           count(*) FILTER (WHERE rating = 1) AS up, count(*) FILTER (WHERE rating = -1) AS down
    FROM feedback
    WHERE source = 'reviewer' AND scope = ''
    GROUP BY run_id
),
pairs AS (
    SELECT f.feedback_id, f.thread_id, f.run_id, f.owner_id, f.rating AS user_rating, f.comment, f.created_at,
           r.assistant_id, r.model_name, r.created_at AS run_at, v.up, v.down,
           CASE WHEN v.balance > 0 THEN 1 WHEN v.balance < 0 THEN -1 ELSE 0 END AS majority
    FROM feedback f
    JOIN runs r ON r.run_id = f.run_id
    JOIN reviewers v ON v.run_id = f.run_id
    WHERE f.source = 'end_user' AND f.scope = '' AND {run}
)
"""

_PAIR_TABLE = (
    _PAIRS
    + """
SELECT assistant_id, model_name, user_rating, majority, count(*) AS pairs
FROM pairs
GROUP BY assistant_id, model_name, user_rating, majority
"""
)

_PAIR_WEEKS = (
    _PAIRS
    + """
SELECT date_trunc('week', run_at) AS week, user_rating, majority, count(*) AS pairs
FROM pairs
GROUP BY 1, 2, 3
ORDER BY 1
"""
)

_DISAGREEMENTS = (
    _PAIRS
    + """
SELECT feedback_id, thread_id, run_id, assistant_id, model_name, owner_id, user_rating, up, down, comment, run_at
FROM pairs
WHERE majority <> 0 AND user_rating <> majority AND {open}
ORDER BY run_at DESC, feedback_id
LIMIT $limit OFFSET $offset
"""
)

_DISAGREEMENT_COUNT = (
    _PAIRS
    + """
SELECT count(*) FILTER (WHERE user_rating = 1) AS user_up, count(*) FILTER (WHERE user_rating = -1) AS user_down
FROM pairs
WHERE majority <> 0 AND user_rating <> majority AND {open}
"""
)

# A reviewer's whole-run vote against the majority of the OTHER reviewers of that run (none when
# nobody else voted or the others are split); activity from the gaps between their consecutive votes.
_REVIEWERS = """
WITH runs_rated AS (
    SELECT run_id, sum(rating) AS balance, count(*) AS n
    FROM feedback WHERE source = 'reviewer' AND scope = ''
    GROUP BY run_id
),
votes AS (
    SELECT f.owner_id, f.rating, f.created_at, v.balance - f.rating AS others,
           extract(epoch FROM f.created_at)
             - extract(epoch FROM lag(f.created_at) OVER (PARTITION BY f.owner_id ORDER BY f.created_at)) AS gap
    FROM feedback f
    JOIN runs r ON r.run_id = f.run_id
    JOIN runs_rated v ON v.run_id = f.run_id
    WHERE f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL AND {run}
)
SELECT owner_id AS reviewer,
       count(*) AS votes,
       count(*) FILTER (WHERE rating = 1) AS positive,
       count(DISTINCT CAST(date_trunc('day', created_at) AS DATE)) AS active_days,
       count(*) FILTER (WHERE others <> 0) AS compared,
       count(*) FILTER (WHERE others <> 0 AND (others > 0) = (rating > 0)) AS agreed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap_s
FROM votes
GROUP BY owner_id
ORDER BY 2 DESC, 1
LIMIT $limit
"""


def _runs(filters, reader: str) -> tuple[str, dict]:
    return conditions(Filters.of(filters, takes=RUNS, reader=reader), RUNS)


def _table(rows) -> list[list[int]]:
    """2x2 of (user up, user down) x (reviewers' majority up, down); ties are left out."""
    table = [[0, 0], [0, 0]]
    for row in rows:
        if row["majority"]:
            table[0 if row["user_rating"] == 1 else 1][0 if row["majority"] == 1 else 1] += int(row["pairs"])
    return table


def _agreement_row(rows: list[dict]) -> dict:
    table = _table(rows)
    ties = sum(int(row["pairs"]) for row in rows if not row["majority"])
    return {"table": table, "ties": ties, **analysis.kappa(table)}


def end_user_agreement(store, filters=None) -> dict:
    """End users against the reviewers' majority on the runs both rated (whole-run votes). Overall, per
    assistant, per model and per week: the 2x2 `table` [[user up & reviewers up, user up & reviewers
    down], [user down & up, user down & down]], `ties` (reviewers split evenly, left out), percent
    `agreement`, Cohen's `kappa` with `low`/`high`."""
    run, params = _runs(filters, "the end users' agreement")
    with store.engine.stale_read() as conn:
        cells = conn.all(_PAIR_TABLE.format(run=run), params)
        weeks = conn.all(_PAIR_WEEKS.format(run=run), params)
    out = {**_agreement_row(cells), "by_assistant": [], "by_model": [], "by_week": []}
    for key, name in (("by_assistant", "assistant_id"), ("by_model", "model_name")):
        groups: dict = defaultdict(list)
        for row in cells:
            groups[row[name]].append(row)
        out[key] = [{name: value, **_agreement_row(rows)} for value, rows in sorted(groups.items(), key=none_last)]
    by_week: dict = defaultdict(list)
    for row in weeks:
        by_week[day(row["week"])].append(row)
    out["by_week"] = [{"week": week, **_agreement_row(rows)} for week, rows in sorted(by_week.items())]
    return out


def disagreements(store, filters=None, *, actor: auth.Actor, limit: int = 100, offset: int = 0) -> dict:
    """Runs where an end user and the reviewers' majority disagree, newest first: `kind` is
    `user_up_reviewers_down` (the agent fooled the user) or `user_down_reviewers_up` (the user
    wanted something else). Returns `rows` (with the end user's id and comment), `total`, and the two
    counts `user_up` / `user_down`. The actor must be allowed to read; runs blind to it
    (`queues/blind.py`) are left out."""
    auth.authorize(actor, "read")
    run, params = _runs(filters, "the disagreements")
    shown, hidden = blind.run_open(actor, "pairs.run_id")
    params = {**params, **hidden}
    page = {
        **params,
        "limit": rules.integer(limit, "limit", low=1, high=10_000),
        "offset": rules.integer(offset, "offset", low=0, high=10**9),
    }
    with store.engine.stale_read() as conn:
        rows = plain_all(conn.all(_DISAGREEMENTS.format(run=run, open=shown), page))
        counts = conn.one(_DISAGREEMENT_COUNT.format(run=run, open=shown), params)
    for row in rows:
        row["kind"] = "user_up_reviewers_down" if row["user_rating"] == 1 else "user_down_reviewers_up"
        row["up"], row["down"] = int(row["up"]), int(row["down"])
    user_up, user_down = int(counts["user_up"] or 0), int(counts["user_down"] or 0)
    return {"rows": rows, "total": user_up + user_down, "user_up": user_up, "user_down": user_down}


def reviewers(store, filters=None, *, actor: auth.Actor, limit: int = 200) -> list[dict]:
    """Per reviewer: `votes`, `compared` (votes on runs where the other reviewers had a majority),
    `agreed` with that majority, the `calibration` rate with its Wilson interval, `votes_per_day`
    (on days they voted), and `median_gap_s` between two consecutive votes (a very short one is a
    reviewer who may click without reading). The actor must be allowed to read."""
    auth.authorize(actor, "read")
    run, params = _runs(filters, "the reviewers")
    with store.engine.stale_read() as conn:
        rows = conn.all(
            _REVIEWERS.format(run=run), {**params, "limit": rules.integer(limit, "limit", low=1, high=10_000)}
        )
    out = []
    for row in int_rows(rows, "votes", "positive", "active_days", "compared", "agreed"):
        low, high = analysis.wilson(row["agreed"], row["compared"])
        gap = row["median_gap_s"]
        out.append(
            {
                **row,
                "calibration": analysis.rate(row["agreed"], row["compared"]),
                "low": low,
                "high": high,
                "votes_per_day": row["votes"] / row["active_days"] if row["active_days"] else None,
                "median_gap_s": float(gap) if gap is not None else None,
            }
        )
    return out
