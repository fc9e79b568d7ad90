"""Aggregates for product managers, computed in SQL: headline numbers, rates over time and per
assistant or model, reason tags, follow-ups, reviewer activity and agreement, the worst runs.

Every function takes the same `Filters`. Time is the run's: a vote counts on the day of the run it
judges, so a bad day of the agent shows on that day however late its votes arrived. The date range,
assistant and model narrow the runs; the reviewer and the source narrow the votes. Results are
plain dicts and lists; rates are fractions in 0..1, None where there is nothing to divide.
`dashboard()` computes everything the stats page draws over one connection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from data_layer import rules
from data_layer.analysis import rate, wilson
from data_layer.errors import InvalidInput
from data_layer.schema import FEEDBACK_SOURCES

UNTAGGED = "untagged"
# Ranges up to about a quarter are drawn per day; longer ones per week (ISO weeks, Monday first).
DAY_BUCKET_MAX_DAYS = 92
# z for a 95 % Wilson interval
FOLLOW_UP_CLASSES = ("negative", "mixed", "positive", "unrated")

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


# ---------------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """What the insight pages and the export narrow to. `until` is exclusive; build with `make()`."""

    since: datetime | None = None
    until: datetime | None = None
    assistant_id: str | None = None
    model_name: str | None = None
    reviewer: str | None = None
    source: str | None = None

    @classmethod
    def make(cls, *, since=None, until=None, assistant_id=None, model_name=None, reviewer=None, source=None) -> Filters:
        """Validated filters. A plain date (or `YYYY-MM-DD`) for `until` includes that whole day;
        a timestamp is taken as an exclusive bound. Empty strings mean "not set"."""
        start = _bound(since, "since", end=False)
        end = _bound(until, "until", end=True)
        if start is not None and end is not None and start >= end:
            raise InvalidInput("since must be before until")
        text = {}
        for name, value in (("assistant_id", assistant_id), ("model_name", model_name), ("reviewer", reviewer)):
            text[name] = rules.text(value, name, 200) if value not in (None, "") else None
        if source in (None, ""):
            source = None
        elif source not in FEEDBACK_SOURCES:
            raise InvalidInput(f"source {source!r:.60} is not one of {', '.join(FEEDBACK_SOURCES)}")
        return cls(since=start, until=end, source=source, **text)

    @classmethod
    def of(cls, value) -> Filters:
        """Accept `Filters`, a dict of `make()` arguments, or None (no filter)."""
        if value is None:
            return cls()
        if isinstance(value, Filters):
            return value
        if isinstance(value, dict):
            return cls.make(**value)
        raise InvalidInput(f"filters must be a dict, got {type(value).__name__}")

    def previous(self) -> Filters | None:
        """The period of equal length just before this one, or None without a full date range."""
        if self.since is None or self.until is None:
            return None
        length = self.until - self.since
        return replace(self, since=self.since - length, until=self.since)


def _bound(value, field: str, *, end: bool) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            value = date.fromisoformat(value.strip())
        except ValueError as error:
            raise InvalidInput(f"{field} {value!r} is not a date (YYYY-MM-DD)") from error
    if isinstance(value, date) and not isinstance(value, datetime):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    return rules.timestamp(value, field)


_RUN_CLAUSES = {
    "since": "r.created_at >= $since",
    "until": "r.created_at < $until",
    "assistant_id": "r.assistant_id = $assistant_id",
    "model_name": "r.model_name = $model_name",
}
_FEEDBACK_CLAUSES = {"reviewer": "f.owner_id = $reviewer", "source": "f.source = $source"}


def _clauses(filters: Filters, table: dict[str, str]) -> tuple[str, dict]:
    """Fixed SQL for the filters that are set (nothing a caller sends reaches the SQL text)."""
    parts, params = [], {}
    for name, clause in table.items():
        value = getattr(filters, name)
        if value is not None:
            parts.append(clause)
            params[name] = value
    return (" AND ".join(parts) or "TRUE"), params


def where(filters: Filters) -> tuple[str, str, dict]:
    """The run condition (alias `r`), the vote condition (alias `f`) and their parameters."""
    run_sql, run_params = _clauses(filters, _RUN_CLAUSES)
    vote_sql, vote_params = _clauses(filters, _FEEDBACK_CLAUSES)
    return run_sql, vote_sql, {**run_params, **vote_params}


# ---------------------------------------------------------------------------------------------- helpers


def _counted(row: dict, positive: str = "positive", total: str = "votes") -> dict:
    """Ints for the counts, then the rate and its Wilson interval."""
    out = {key: (int(value) if isinstance(value, int) else value) for key, value in row.items()}
    low, high = wilson(out[positive], out[total])
    out.update(positive_rate=rate(out[positive], out[total]), low=low, high=high)
    return out


def bucket_for(filters: Filters, bounds: dict) -> str:
    """`day` for ranges up to DAY_BUCKET_MAX_DAYS, else `week`; open ends take the data's first/last day."""
    first = filters.since or _moment(bounds.get("first_run_at"))
    last = filters.until or _moment(bounds.get("last_run_at"))
    if first is None or last is None:
        return "day"
    return "day" if (last - first) <= timedelta(days=DAY_BUCKET_MAX_DAYS) else "week"


def _moment(value) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# ---------------------------------------------------------------------------------------------- one table each

# Every aggregate reads one table, never votes joined with runs (about 0.45 s at a million of each):
# a vote carries copies of its run's time, assistant, model and status, and a run its vote tallies
# per source and its `followed_up` flag (data_layer/rollups.py, kept by every write). Votes are
# narrowed through the copies (alias `f`); runs through their own columns (alias `r`).
_COPY_CLAUSES = {
    "since": "f.run_at >= $since",
    "until": "f.run_at < $until",
    "assistant_id": "f.run_assistant_id = $assistant_id",
    "model_name": "f.run_model_name = $model_name",
}
# The run's UTC day as days since 1970-01-01, cheaper to group than a timestamp.
_DAY = "CAST(floor(extract(epoch FROM f.run_at) / 86400) AS INTEGER)"
_EPOCH = date(1970, 1, 1)
_BUCKETS = {"day": "day", "week": "day - ((day + 3) % 7 + 7) % 7"}  # 1970-01-01 was a Thursday
# A run's positive and negative tallies for each source filter.
_TALLY = {
    None: ("(r.reviewer_positive + r.end_user_positive)", "(r.reviewer_negative + r.end_user_negative)"),
    "reviewer": ("r.reviewer_positive", "r.reviewer_negative"),
    "end_user": ("r.end_user_positive", "r.end_user_negative"),
}


def _votes(filters: Filters, *, reviewer: bool = True) -> tuple[str, dict]:
    """The vote condition (alias `f`) for all filters; without the reviewer's when `reviewer` is false."""
    run_sql, run_params = _clauses(filters, _COPY_CLAUSES)
    vote_sql, vote_params = _clauses(replace(filters, reviewer=None) if not reviewer else filters, _FEEDBACK_CLAUSES)
    return f"{run_sql} AND {vote_sql}", {**run_params, **vote_params}


# The runs of the filters with their counted positive and negative votes. Without a reviewer the
# tallies on `runs` answer; a reviewer's votes are few, and counted from the votes themselves.
_RUNS_TALLIED = """
SELECT r.run_id, r.created_at, r.status, r.followed_up, {positive} AS positive, {negative} AS negative
FROM runs r
WHERE {run}
"""

_RUNS_COUNTED = """
SELECT r.run_id, r.created_at, r.status, r.followed_up,
       coalesce(v.positive, 0) AS positive, coalesce(v.negative, 0) AS negative
FROM runs r
LEFT JOIN (
    SELECT f.run_id, count(*) FILTER (WHERE f.rating = 1) AS positive, count(*) FILTER (WHERE f.rating = -1) AS negative
    FROM feedback f WHERE {votes}
    GROUP BY f.run_id
) v ON v.run_id = r.run_id
WHERE {run}
"""


def _per_run(filters: Filters) -> tuple[str, dict]:
    """A query of the filtered runs with `positive` and `negative`, the votes the filters count."""
    run, _, params = where(filters)
    if filters.reviewer is None:
        positive, negative = _TALLY[filters.source]
        return _RUNS_TALLIED.format(run=run, positive=positive, negative=negative), params
    votes, vote_params = _votes(filters)
    return _RUNS_COUNTED.format(run=run, votes=votes), {**params, **vote_params}


def _with_conn(store, fn, filters, **kwargs):
    chosen = Filters.of(filters)
    with store.engine.read() as conn:
        return fn(conn, chosen, **kwargs)


def _day_of(days) -> str | None:
    return None if days is None else (_EPOCH + timedelta(days=int(days))).isoformat()


# ---------------------------------------------------------------------------------------------- bounds

_BOUNDS = "SELECT min(created_at) AS first_run_at, max(created_at) AS last_run_at FROM runs"

_REVIEWERS = """
SELECT DISTINCT owner_id FROM feedback
WHERE source = 'reviewer' AND owner_id IS NOT NULL
ORDER BY owner_id
LIMIT 1000
"""


def _bounds(conn) -> dict:
    row = conn.one(_BOUNDS)
    return {key: (value.astimezone(UTC).isoformat() if value else None) for key, value in row.items()}


def bounds(store) -> dict:
    """First and last run times in the store (ISO 8601), None when there are no runs."""
    with store.engine.read() as conn:
        return _bounds(conn)


def reviewers_seen(store) -> list[str]:
    """Every reviewer who voted as a reviewer, for filter choices."""
    with store.engine.read() as conn:
        return [row["owner_id"] for row in conn.all(_REVIEWERS)]


# ---------------------------------------------------------------------------------------------- headline

_HEADLINE = """
SELECT count(*) AS runs,
       coalesce(sum(positive + negative), 0) AS votes,
       coalesce(sum(positive), 0) AS positive,
       coalesce(sum(negative), 0) AS negative,
       count(*) FILTER (WHERE positive + negative > 0) AS runs_with_feedback
FROM ({runs}) p
"""


def _period(conn, filters: Filters) -> dict:
    runs, params = _per_run(filters)
    row = {key: int(value) for key, value in conn.one(_HEADLINE.format(runs=runs), params).items()}
    row["positive_rate"] = rate(row["positive"], row["votes"])
    return row


def _headline(conn, filters: Filters) -> dict:
    current = _period(conn, filters)
    before = filters.previous()
    previous = _period(conn, before) if before else None
    change = None
    if previous is not None:
        change = {key: current[key] - previous[key] for key in ("runs", "runs_with_feedback", "votes")}
        both = current["positive_rate"] is not None and previous["positive_rate"] is not None
        change["positive_rate"] = current["positive_rate"] - previous["positive_rate"] if both else None
    return {
        "current": current,
        "previous": previous,
        "change": change,
        "previous_since": before.since.isoformat() if before else None,
        "previous_until": before.until.isoformat() if before else None,
    }


def headline(store, filters=None) -> dict:
    """Runs, runs with feedback, votes and positive rate; with a full date range also the previous
    period of equal length and the change (counts as differences, the rate in fraction points)."""
    return _with_conn(store, _headline, filters)


# ---------------------------------------------------------------------------------------------- over time

_OVER_TIME = f"""
SELECT {{bucket}} AS bucket,
       count(*) AS votes,
       count(*) FILTER (WHERE rating = 1) AS positive,
       count(*) FILTER (WHERE rating = -1) AS negative
FROM (SELECT {_DAY} AS day, f.rating FROM feedback f WHERE {{votes}}) v
GROUP BY 1
ORDER BY 1
"""


def _over_time(conn, filters: Filters, bucket: str) -> dict:
    votes, params = _votes(filters)
    rows = conn.all(_OVER_TIME.format(bucket=_BUCKETS[bucket], votes=votes), params)
    return {"bucket": bucket, "rows": [_counted({**row, "bucket": _day_of(row["bucket"])}) for row in rows]}


def over_time(store, filters=None, bucket: str | None = None) -> dict:
    """Votes and positive rate per day or week of the runs (`bucket` chosen by the range when None);
    each row has `bucket` (its first day), `votes`, `positive`, `negative`, the rate and its interval."""
    chosen = Filters.of(filters)
    bucket = _bucket_arg(bucket)
    with store.engine.read() as conn:
        return _over_time(conn, chosen, bucket or bucket_for(chosen, _bounds(conn)))


def _bucket_arg(bucket: str | None) -> str | None:
    if bucket not in (None, "day", "week"):
        raise InvalidInput(f"bucket {bucket!r:.20} is not day or week")
    return bucket


# ---------------------------------------------------------------------------------------------- by group

_GROUPS = ("assistant_id", "model_name")

_BY_GROUP = """
SELECT f.run_{name} AS {name},
       count(*) AS votes,
       count(*) FILTER (WHERE rating = 1) AS positive,
       count(*) FILTER (WHERE rating = -1) AS negative
FROM feedback f
WHERE {votes}
GROUP BY f.run_{name}
ORDER BY CAST(count(*) FILTER (WHERE rating = 1) AS DOUBLE PRECISION) / count(*),
         count(*) DESC, f.run_{name} NULLS LAST
"""


def _by_group(conn, filters: Filters, name: str) -> list[dict]:
    if name not in _GROUPS:
        raise InvalidInput(f"group {name!r:.40} is not one of {', '.join(_GROUPS)}")
    votes, params = _votes(filters)
    return [_counted(row) for row in conn.all(_BY_GROUP.format(name=name, votes=votes), params)]


def by_assistant(store, filters=None) -> list[dict]:
    """Positive rate per assistant with its 95 % Wilson interval, worst first (ties: more votes first)."""
    return _with_conn(store, _by_group, filters, name="assistant_id")


def by_model(store, filters=None) -> list[dict]:
    """Positive rate per model with its 95 % Wilson interval, worst first (ties: more votes first)."""
    return _with_conn(store, _by_group, filters, name="model_name")


# ---------------------------------------------------------------------------------------------- reason tags

# A negative vote without tags counts once as UNTAGGED, so the tags add up to the negative votes.
_NEGATIVE_TAGS = f"""
SELECT {_DAY} AS day, f.run_assistant_id AS assistant_id,
       unnest(CASE WHEN coalesce(array_length(f.tags, 1), 0) = 0 THEN ARRAY['{UNTAGGED}'] ELSE f.tags END) AS tag
FROM feedback f
WHERE f.rating = -1 AND {{votes}}
"""

_TAGS_OVER_TIME = f"""
SELECT {{bucket}} AS bucket, tag, count(*) AS negative
FROM ({_NEGATIVE_TAGS}) t
GROUP BY 1, 2
ORDER BY 1, 2
"""

_TAGS_BY_ASSISTANT = f"""
SELECT assistant_id, tag, count(*) AS negative
FROM ({_NEGATIVE_TAGS}) t
GROUP BY 1, 2
ORDER BY 1 NULLS LAST, 3 DESC, 2
"""


def _tags_over_time(conn, filters: Filters, bucket: str) -> dict:
    votes, params = _votes(filters)
    rows = conn.all(_TAGS_OVER_TIME.format(bucket=_BUCKETS[bucket], votes=votes), params)
    out = [{"bucket": _day_of(row["bucket"]), "tag": row["tag"], "negative": int(row["negative"])} for row in rows]
    return {"bucket": bucket, "rows": out}


def tags_over_time(store, filters=None, bucket: str | None = None) -> dict:
    """Reason tags of negative votes per day or week: rows of `bucket`, `tag`, `negative` (a vote with
    two tags counts for each; a negative vote without tags counts as `untagged`)."""
    chosen = Filters.of(filters)
    bucket = _bucket_arg(bucket)
    with store.engine.read() as conn:
        return _tags_over_time(conn, chosen, bucket or bucket_for(chosen, _bounds(conn)))


def _tags_by_assistant(conn, filters: Filters) -> list[dict]:
    votes, params = _votes(filters)
    return [
        {**row, "negative": int(row["negative"])} for row in conn.all(_TAGS_BY_ASSISTANT.format(votes=votes), params)
    ]


def tags_by_assistant(store, filters=None) -> list[dict]:
    """Reason tags of negative votes per assistant: rows of `assistant_id`, `tag`, `negative`."""
    return _with_conn(store, _tags_by_assistant, filters)


# ---------------------------------------------------------------------------------------------- follow-ups

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


def _follow_ups(conn, filters: Filters) -> list[dict]:
    runs, params = _per_run(filters)
    found = {row["rating"]: row for row in conn.all(_FOLLOW_UPS.format(runs=runs), params)}
    out = []
    for name in FOLLOW_UP_CLASSES:
        row = found.get(name, {"runs": 0, "followed_up": 0})
        runs, followed = int(row["runs"]), int(row["followed_up"])
        low, high = wilson(followed, runs)
        out.append(
            {
                "rating": name,
                "runs": runs,
                "followed_up": followed,
                "rate": rate(followed, runs),
                "low": low,
                "high": high,
            }
        )
    return out


def follow_ups(store, filters=None) -> list[dict]:
    """How often a successful run gets a follow-up run, by that run's rating: `negative` (only
    thumbs-down), `mixed`, `positive` (only thumbs-up), `unrated`; each with `runs`, `followed_up`,
    `rate` and its Wilson interval. A follow-up after a thumbs-down is the sign the agent failed."""
    return _with_conn(store, _follow_ups, filters)


# ---------------------------------------------------------------------------------------------- reviewers

# Reviewer activity and agreement count reviewer votes only (source 'reviewer'): end users are
# customers rating their own conversation, not reviewers.
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


def _reviewer_activity(conn, filters: Filters, limit: int = 50) -> list[dict]:
    votes, params = _votes(filters)
    return [_counted(row) for row in conn.all(_REVIEWER_ACTIVITY.format(votes=votes), {**params, "limit": limit})]


def reviewer_activity(store, filters=None, limit: int = 50) -> list[dict]:
    """Votes per reviewer (most active first): `votes`, `positive`, `negative`, `runs`, the rate."""
    limit = rules.integer(limit, "limit", low=1, high=10_000)
    return _with_conn(store, _reviewer_activity, filters, limit=limit)


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


def _agreement_numbers(row: dict | None) -> dict:
    if row is None:
        row = {"runs": 0, "ratings": 0, "positive": 0, "unanimous": 0, "agreement_sum": 0.0}
    runs, ratings, positive = int(row["runs"]), int(row["ratings"] or 0), int(row["positive"] or 0)
    agreement = float(row["agreement_sum"]) / runs if runs else None
    kappa = None
    if runs:
        p = positive / ratings
        chance = p * p + (1 - p) * (1 - p)
        kappa = (agreement - chance) / (1 - chance) if chance < 1 else None
    return {
        "runs": runs,
        "ratings": ratings,
        "positive": positive,
        "unanimous": int(row["unanimous"] or 0),
        "percent_agreement": agreement,
        "kappa": kappa,
    }


def _agreement(conn, filters: Filters) -> dict:
    run, _, params = where(filters)
    if filters.source not in (None, "reviewer"):
        run = "FALSE"
    rows = conn.all(_AGREEMENT.format(run=run), params)
    total = next((row for row in rows if row["is_total"]), None)
    per_assistant = [
        {"assistant_id": row["assistant_id"], **_agreement_numbers(row)} for row in rows if not row["is_total"]
    ]
    return {**_agreement_numbers(total), "by_assistant": per_assistant}


def agreement(store, filters=None) -> dict:
    """Agreement of reviewers on runs that two or more of them rated (whole-run votes).

    `percent_agreement` is the mean over those runs of agreeing rater pairs / rater pairs (for two
    raters: the share of runs where they agree); `unanimous` counts runs where all agree. `kappa` is
    Fleiss' kappa, generalised to a varying number of raters per run: (P - Pe) / (1 - Pe), with P the
    percent agreement and Pe = p^2 + (1 - p)^2 from the share p of thumbs-up among those ratings; None
    when every rating is the same (Pe = 1) or there are no such runs. Also per assistant.
    """
    return _with_conn(store, _agreement, filters)


# ---------------------------------------------------------------------------------------------- worst runs

# The ranking reads the runs' counted votes; the latest negative comment is then read for the chosen
# few runs alone, through the votes' run_id index (DuckDB uses it for an IN list of values on that
# column alone, so the filters apply after the MATERIALIZED CTE).
_WORST_RUNS = """
WITH worst AS (
    SELECT run_id, created_at, negative, positive
    FROM ({runs}) p
    WHERE negative > 0
    ORDER BY negative DESC, created_at DESC, run_id
    LIMIT $limit
)
SELECT r.run_id, r.thread_id, r.assistant_id, r.model_name, r.status, r.created_at,
       w.negative, w.positive,
       left(r.first_human_message, 200) AS question
FROM worst w
JOIN runs r ON r.run_id = w.run_id
ORDER BY 7 DESC, 6 DESC, 1
"""

_LATEST_COMMENTS = """
WITH f AS MATERIALIZED (
    SELECT run_id, owner_id, source, rating, comment, created_at, run_at, run_assistant_id, run_model_name
    FROM feedback WHERE run_id IN ({ids})
)
SELECT f.run_id, left((array_agg(f.comment ORDER BY f.created_at DESC))[1], 300) AS latest_comment
FROM f
WHERE f.rating = -1 AND f.comment IS NOT NULL AND {votes}
GROUP BY f.run_id
"""


def _worst_runs(conn, filters: Filters, limit: int = 20) -> list[dict]:
    runs, params = _per_run(filters)
    rows = conn.all(_WORST_RUNS.format(runs=runs), {**params, "limit": limit})
    comments = {}
    if rows:
        ids = {f"worst_{index}": row["run_id"] for index, row in enumerate(rows)}
        votes, vote_params = _votes(filters)
        sql = _LATEST_COMMENTS.format(ids=", ".join(f"${name}" for name in ids), votes=votes)
        comments = {row["run_id"]: row["latest_comment"] for row in conn.all(sql, {**ids, **vote_params})}
    out = []
    for row in rows:
        item = dict(row)
        item["negative"], item["positive"] = int(row["negative"]), int(row["positive"])
        item["created_at"] = row["created_at"].astimezone(UTC).isoformat()
        item["latest_comment"] = comments.get(row["run_id"])
        out.append(item)
    return out


def worst_runs(store, filters=None, limit: int = 20) -> list[dict]:
    """Runs with the most negative votes, newest first among equals, each with its thread, question
    and latest negative comment (runs without a negative vote are left out)."""
    limit = rules.integer(limit, "limit", low=1, high=10_000)
    return _with_conn(store, _worst_runs, filters, limit=limit)


# ---------------------------------------------------------------------------------------------- everything


def dashboard(store, filters=None, *, worst: int = 20) -> dict:
    """Every aggregate the stats page draws, over one connection (the unit a benchmark times)."""
    chosen = Filters.of(filters)
    limit = rules.integer(worst, "worst", low=1, high=10_000)
    with store.engine.read() as conn:
        data_bounds = _bounds(conn)
        bucket = bucket_for(chosen, data_bounds)
        return {
            "bounds": data_bounds,
            "bucket": bucket,
            "headline": _headline(conn, chosen),
            "over_time": _over_time(conn, chosen, bucket),
            "by_assistant": _by_group(conn, chosen, "assistant_id"),
            "by_model": _by_group(conn, chosen, "model_name"),
            "tags_over_time": _tags_over_time(conn, chosen, bucket),
            "tags_by_assistant": _tags_by_assistant(conn, chosen),
            "follow_ups": _follow_ups(conn, chosen),
            "reviewers": _reviewer_activity(conn, chosen),
            "agreement": _agreement(conn, chosen),
            "worst_runs": _worst_runs(conn, chosen, limit),
        }
