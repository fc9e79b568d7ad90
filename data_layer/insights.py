"""Answers for product managers: is B better than A, can end-user thumbs be trusted, why people
dislike answers, did something just break.

SQL here only counts (one query per question, aggregated in the database, the same text on DuckDB
and PostgreSQL); `data_layer.analysis` does the statistics on those counts. Filters are the stats
module's `Filters` (runs narrowed by time, assistant and model; votes by reviewer and source), and
time is the run's, as on the stats page. Only whole-run votes count (`scope = ''`): a reviewer's
extra vote on one message of the same run is not a second, independent opinion. Reviewer votes
and end-user votes are always counted apart and never added together.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from data_layer import analysis, phrases, rules
from data_layer.errors import InvalidInput
from data_layer.rows import plain_all
from data_layer.schema import FEEDBACK_SOURCES
from data_layer.stats import Filters, where

DIMENSIONS = {"model_name": "r.model_name", "assistant_id": "r.assistant_id"}
CORPUS_LIMIT = 20_000  # newest comments read for themes; enough for stable phrases, bounded memory
MAX_IDS_PER_PHRASE = 500


def _int_rows(rows: list[dict], *names: str) -> list[dict]:
    return [{**row, **{name: int(row[name] or 0) for name in names}} for row in rows]


def _dimension(name: str) -> str:
    if name not in DIMENSIONS:
        raise InvalidInput(f"dimension {name!r:.40} is not one of {', '.join(DIMENSIONS)}")
    return DIMENSIONS[name]


def _by_source(rows: list[dict]) -> dict[str, dict]:
    out = {source: {"votes": 0, "positive": 0} for source in FEEDBACK_SOURCES}
    for row in rows:
        out[row["source"]] = {"votes": int(row["votes"]), "positive": int(row["positive"])}
    return out


# ---------------------------------------------------------------------------------------------- compare

_SLICE_COUNTS = """
SELECT f.source, count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE {run} AND {vote} AND f.scope = ''
GROUP BY f.source
"""

_COUNTS_BY = """
SELECT {column} AS name, f.source, count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE {run} AND {vote} AND f.scope = ''
GROUP BY {column}, f.source
ORDER BY 1 NULLS LAST, 2
"""


def slice_counts(store, filters=None) -> dict[str, dict]:
    """Whole-run votes and thumbs-up of one slice, per source: `{"reviewer": {...}, "end_user": {...}}`."""
    run, vote, params = where(Filters.of(filters))
    with store.engine.read() as conn:
        return _by_source(conn.all(_SLICE_COUNTS.format(run=run, vote=vote), params))


def compare_slices(store, a=None, b=None) -> dict[str, dict]:
    """Slice B against slice A (each a `Filters` or its dict), separately for reviewer votes and for
    end-user votes: `{source: analysis.compare(...)}` with rates, intervals, test and verdict."""
    counts_a, counts_b = slice_counts(store, a), slice_counts(store, b)
    return {source: analysis.compare(counts_a[source], counts_b[source]) for source in FEEDBACK_SOURCES}


def counts_by(store, dimension: str = "model_name", filters=None) -> list[dict]:
    """Whole-run votes per model or assistant and source: rows of `name`, `source`, `votes`, `positive`."""
    column = _dimension(dimension)
    run, vote, params = where(Filters.of(filters))
    with store.engine.read() as conn:
        rows = conn.all(_COUNTS_BY.format(column=column, run=run, vote=vote), params)
    return _int_rows(rows, "votes", "positive")


def compare_all(store, dimension: str = "model_name", filters=None) -> dict[str, list[dict]]:
    """Every model (or assistant) against all the others together, per source, Holm-corrected for
    the number of groups tested: `{source: [analysis result with "name" and "p_holm"]}`."""
    grouped: dict[str, list[dict]] = {source: [] for source in FEEDBACK_SOURCES}
    for row in counts_by(store, dimension, filters):
        grouped[row["source"]].append({"name": row["name"], "votes": row["votes"], "positive": row["positive"]})
    return {source: analysis.each_against_rest(groups) for source, groups in grouped.items()}


# ---------------------------------------------------------------------------------------------- agreement

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
WHERE majority <> 0 AND user_rating <> majority
ORDER BY run_at DESC, feedback_id
LIMIT $limit OFFSET $offset
"""
)

_DISAGREEMENT_COUNT = (
    _PAIRS
    + """
SELECT count(*) FILTER (WHERE user_rating = 1) AS user_up, count(*) FILTER (WHERE user_rating = -1) AS user_down
FROM pairs
WHERE majority <> 0 AND user_rating <> majority
"""
)


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


def agreement(store, filters=None) -> dict:
    """End users against reviewers on the runs both rated (whole-run votes; the vote filters do not
    apply: both sources are the point). Overall, per assistant, per model and per week: the 2x2
    `table` [[user up & reviewers up, user up & reviewers down], [user down & up, user down & down]],
    `ties` (reviewers split evenly, left out), percent `agreement`, `kappa` with `low`/`high`."""
    run, _, params = where(replace(Filters.of(filters), reviewer=None, source=None))
    with store.engine.read() as conn:
        cells = conn.all(_PAIR_TABLE.format(run=run), params)
        weeks = conn.all(_PAIR_WEEKS.format(run=run), params)
    out = {**_agreement_row(cells), "by_assistant": [], "by_model": [], "by_week": []}
    for key, name in (("by_assistant", "assistant_id"), ("by_model", "model_name")):
        groups: dict = defaultdict(list)
        for row in cells:
            groups[row[name]].append(row)
        out[key] = [{name: value, **_agreement_row(rows)} for value, rows in sorted(groups.items(), key=_none_last)]
    by_week: dict = defaultdict(list)
    for row in weeks:
        by_week[_day(row["week"])].append(row)
    out["by_week"] = [{"week": week, **_agreement_row(rows)} for week, rows in sorted(by_week.items())]
    return out


def _none_last(item) -> tuple:
    return (item[0] is None, item[0] or "")


def _day(value) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat() if value.tzinfo else value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else value


def disagreements(store, filters=None, limit: int = 100, offset: int = 0) -> dict:
    """Runs where an end user and the reviewers' majority disagree, newest first: `kind` is
    `user_up_reviewers_down` (the agent fooled the user) or `user_down_reviewers_up` (the user
    wanted something else). Returns `rows`, `total`, and the two counts `user_up` / `user_down`."""
    run, _, params = where(replace(Filters.of(filters), reviewer=None, source=None))
    page = {
        **params,
        "limit": rules.integer(limit, "limit", low=1, high=10_000),
        "offset": rules.integer(offset, "offset", low=0, high=10**9),
    }
    with store.engine.read() as conn:
        rows = plain_all(conn.all(_DISAGREEMENTS.format(run=run), page))
        counts = conn.one(_DISAGREEMENT_COUNT.format(run=run), params)
    for row in rows:
        row["kind"] = "user_up_reviewers_down" if row["user_rating"] == 1 else "user_down_reviewers_up"
        row["up"], row["down"] = int(row["up"]), int(row["down"])
    user_up, user_down = int(counts["user_up"] or 0), int(counts["user_down"] or 0)
    return {"rows": rows, "total": user_up + user_down, "user_up": user_up, "user_down": user_down}


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


def reviewers(store, filters=None, limit: int = 200) -> list[dict]:
    """Per reviewer: `votes`, `compared` (votes on runs where the other reviewers had a majority),
    `agreed` with that majority, the `calibration` rate with its Wilson interval, `votes_per_day`
    (on days they voted), and `median_gap_s` between two consecutive votes (a very short one is a
    reviewer who may click without reading)."""
    run, _, params = where(replace(Filters.of(filters), reviewer=None, source=None))
    with store.engine.read() as conn:
        rows = conn.all(
            _REVIEWERS.format(run=run), {**params, "limit": rules.integer(limit, "limit", low=1, high=10_000)}
        )
    out = []
    for row in _int_rows(rows, "votes", "positive", "active_days", "compared", "agreed"):
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


# ---------------------------------------------------------------------------------------------- themes

_CORPUS = """
SELECT f.feedback_id, f.rating, f.comment, r.assistant_id, r.model_name
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE {run} AND {vote} AND f.comment IS NOT NULL AND f.comment <> ''
ORDER BY f.created_at DESC, f.feedback_id
LIMIT $limit
"""

_FEEDBACK_BY_IDS = """
SELECT f.feedback_id, f.thread_id, f.run_id, f.owner_id, f.source, f.rating, f.comment, f.tags, f.created_at,
       r.assistant_id, r.model_name
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE f.feedback_id IN (SELECT unnest(CAST($ids AS TEXT[])))
ORDER BY f.created_at DESC, f.feedback_id
LIMIT $limit
"""

_TAGS_BY = """
SELECT {column} AS name, t.tag, count(*) AS negative
FROM (
    SELECT f.run_id, unnest(f.tags) AS tag
    FROM feedback f
    WHERE f.rating = -1 AND {vote}
) t JOIN runs r ON r.run_id = t.run_id
WHERE {run}
GROUP BY 1, 2
ORDER BY 1 NULLS LAST, 3 DESC, 2
"""


def themes(store, filters=None, *, top: int = 30, min_count: int = 2, prior_strength: float | None = None) -> dict:
    """Words and two-word phrases typical of negative comments against positive ones.

    Reads only comment texts (newest CORPUS_LIMIT) with their rating, model and assistant. Each
    comment counts a phrase once. The score is the z of the weighted log-odds with an informative
    Dirichlet prior (`analysis.log_odds`); kept are phrases seen in at least `min_count` negative
    comments with z above 1.96, best first. Each phrase carries `feedback_ids` (up to
    MAX_IDS_PER_PHRASE, newest first) of the negative comments holding it and counts `by_model` /
    `by_assistant`, so a page can open the feedback and show where the theme comes from."""
    run, vote, params = where(Filters.of(filters))
    with store.engine.read() as conn:
        rows = conn.all(_CORPUS.format(run=run, vote=vote), {**params, "limit": CORPUS_LIMIT})
    negative, positive = Counter(), Counter()
    holders: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        found = phrases.phrases(row["comment"])
        (negative if row["rating"] == -1 else positive).update(found)
        if row["rating"] == -1:
            for phrase in found:
                holders[phrase].append(row)
    scores = analysis.log_odds(negative, positive, prior_strength)
    picked = sorted(
        (item for item in scores.items() if item[1]["target"] >= min_count and item[1]["z"] > analysis.Z95),
        key=lambda item: (-item[1]["z"], item[0]),
    )[:top]
    out = []
    for phrase, score in picked:
        comments = holders[phrase]
        out.append(
            {
                "phrase": phrase,
                "language": phrases.language(phrase),
                "z": score["z"],
                "log_odds": score["delta"],
                "negative": score["target"],
                "positive": score["other"],
                "feedback_ids": [row["feedback_id"] for row in comments[:MAX_IDS_PER_PHRASE]],
                "by_model": dict(Counter(row["model_name"] for row in comments).most_common()),
                "by_assistant": dict(Counter(row["assistant_id"] for row in comments).most_common()),
            }
        )
    return {
        "phrases": out,
        "negative_comments": sum(1 for row in rows if row["rating"] == -1),
        "positive_comments": sum(1 for row in rows if row["rating"] == 1),
        "truncated": len(rows) == CORPUS_LIMIT,
    }


def feedback_by_ids(store, ids, limit: int = 500) -> list[dict]:
    """The feedback rows with these ids (newest first) with their run's assistant and model."""
    if not isinstance(ids, list | tuple) or not all(isinstance(item, str) for item in ids):
        raise InvalidInput("ids must be a list of feedback ids")
    if not ids:
        return []
    with store.engine.read() as conn:
        return plain_all(
            conn.all(_FEEDBACK_BY_IDS, {"ids": list(ids), "limit": rules.integer(limit, "limit", low=1, high=10_000)})
        )


def tags_by(store, dimension: str = "model_name", filters=None) -> list[dict]:
    """Reason tags of negative votes per model or assistant: rows of `name`, `tag`, `negative`."""
    column = _dimension(dimension)
    run, vote, params = where(Filters.of(filters))
    with store.engine.read() as conn:
        rows = conn.all(_TAGS_BY.format(column=column, run=run, vote=vote), params)
    return _int_rows(rows, "negative")


# ---------------------------------------------------------------------------------------------- alerts

_DAILY = """
SELECT r.assistant_id, CAST(date_trunc('day', r.created_at) AS DATE) AS day,
       count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE r.created_at >= $since AND r.created_at < $until AND f.scope = ''
  AND (CAST($source AS TEXT) IS NULL OR f.source = $source)
GROUP BY 1, 2
ORDER BY 1 NULLS LAST, 2
"""

_LAST_RUN = "SELECT max(created_at) FROM runs"


def daily_series(store, *, days: int = 60, source: str | None = None, until: date | None = None) -> dict:
    """The daily positive rate of each assistant over the `days` days of runs up to `until` (default:
    the day of the newest run), with p-chart bands (`analysis.p_chart`). Returns `{"until": day,
    "series": {assistant: [day rows]}}`; days without votes are absent."""
    days = rules.integer(days, "days", low=2, high=3660)
    if source is not None and source not in FEEDBACK_SOURCES:
        raise InvalidInput(f"source {source!r:.40} is not one of {', '.join(FEEDBACK_SOURCES)}")
    with store.engine.read() as conn:
        if until is None:
            last = conn.scalar(_LAST_RUN)
            if last is None:
                return {"until": None, "series": {}}
            until = last.astimezone(UTC).date()
        end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
        rows = conn.all(_DAILY, {"since": end - timedelta(days=days), "until": end, "source": source})
    grouped: dict = defaultdict(list)
    for row in _int_rows(rows, "votes", "positive"):
        day = {"day": _day(row["day"]), "votes": row["votes"], "positive": row["positive"]}
        grouped[row["assistant_id"]].append(day)
    series = {assistant: analysis.p_chart(rows) for assistant, rows in sorted(grouped.items(), key=_none_last)}
    return {"until": until.isoformat(), "series": series}


def flagged(series: dict, recent: int = 28) -> list[dict]:
    """The alerts in a `daily_series()` result: days in its last `recent` days below the band."""
    if series["until"] is None:
        return []
    cutoff = (date.fromisoformat(series["until"]) - timedelta(days=recent - 1)).isoformat()
    found = [
        {"assistant_id": assistant, **{key: value for key, value in row.items() if key != "flag"}}
        for assistant, rows in series["series"].items()
        for row in rows
        if row["flag"] == "low" and row["day"] >= cutoff
    ]
    return sorted(found, key=lambda row: (row["day"], row["assistant_id"] or ""), reverse=True)


def alerts(
    store, *, days: int = 60, recent: int = 28, source: str | None = None, until: date | None = None
) -> list[dict]:
    """Days in the last `recent` days whose positive rate fell below an assistant's p-chart band
    (expected rate minus three standard errors for that day's votes, the expected rate taken from
    the other days of the last `days`). Newest first; each row has `assistant_id`, `day`, `votes`,
    `positive`, `rate`, `expected`, `low`, `high`. A day above the band is good news, not an alert."""
    recent = rules.integer(recent, "recent", low=1, high=3660)
    return flagged(daily_series(store, days=days, source=source, until=until), recent)
