"""The stats read from the counts kept on write (`data_layer/cubes.py`) when the filters allow: a date
range whose ends, where given, are midnights UTC (the cubes count by day), and no reviewer but for the
reviewers' activity (the other cubes count every owner's votes together). Otherwise the aggregates count
the votes and runs themselves, with the same results.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from data_layer.cubes import value_of
from data_layer.filters import Filters

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)
# The runs with a vote of the source filter, as a class (1: a thumbs-up, plus 2: a thumbs-down).
_CLASS = {
    None: "(reviewer_class | end_user_class)",
    "reviewer": "reviewer_class",
    "end_user": "end_user_class",
}


def usable(filters: Filters, *, by_reviewer: bool = False) -> bool:
    """Whether the cubes answer these filters (`by_reviewer`: the cube of reviewers' activity)."""
    ends = (filters.since_time, filters.until_time)
    days = all(end is None or (end - _EPOCH) % _DAY == timedelta(0) for end in ends)
    return days and (by_reviewer or filters.reviewer is None)


def _where(filters: Filters, *, votes: bool) -> tuple[str, dict]:
    parts: list[str] = []
    params: dict[str, object] = {}
    if filters.since_time is not None:
        parts.append("day >= $since_day")
        params["since_day"] = (filters.since_time - _EPOCH) // _DAY
    if filters.until_time is not None:
        parts.append("day < $until_day")
        params["until_day"] = (filters.until_time - _EPOCH) // _DAY
    if filters.assistant_id is not None:
        parts.append("assistant_key = $assistant_key")
        params["assistant_key"] = "=" + filters.assistant_id
    if filters.model_name is not None:
        parts.append("model_key = $model_key")
        params["model_key"] = "=" + filters.model_name
    if votes and filters.source is not None:
        parts.append("source = $source")
        params["source"] = filters.source
    return " AND ".join(parts) or "TRUE", params


def _sums(count: str) -> str:
    return f"""CAST(sum({count}) AS BIGINT) AS votes,
       CAST(coalesce(sum({count}) FILTER (WHERE rating = 1), 0) AS BIGINT) AS positive,
       CAST(coalesce(sum({count}) FILTER (WHERE rating = -1), 0) AS BIGINT) AS negative"""


_VOTES = f"""
SELECT source, {_sums("votes")}
FROM vote_counts WHERE {{where}}
GROUP BY source
"""


def votes_by_source(conn, filters: Filters) -> list[dict]:
    """Rows of `source`, `votes`, `positive`: whole-run votes per source."""
    where, params = _where(filters, votes=True)
    return conn.all(_VOTES.format(where=where), params)


_OVER_TIME = f"""
SELECT {{bucket}} AS bucket, {_sums("votes")}
FROM vote_counts WHERE {{where}}
GROUP BY 1 HAVING sum(votes) > 0
ORDER BY 1
"""


def over_time(conn, filters: Filters, bucket: str) -> list[dict]:
    """Rows of the bucket's first day number, `votes`, `positive`, `negative`."""
    where, params = _where(filters, votes=True)
    return conn.all(_OVER_TIME.format(bucket=bucket, where=where), params)


_BY_GROUP = f"""
SELECT * FROM (
    SELECT {{value}} AS {{name}}, {_sums("votes")}
    FROM vote_counts WHERE {{where}}
    GROUP BY {{key}} HAVING sum(votes) > 0
) g
ORDER BY CAST(positive AS DOUBLE PRECISION) / votes, votes DESC, {{name}} NULLS LAST
"""


def by_group(conn, filters: Filters, name: str) -> list[dict]:
    """Rows of `name` (assistant_id or model_name), `votes`, `positive`, `negative`, worst rate first."""
    key = f"{name.split('_')[0]}_key"
    where, params = _where(filters, votes=True)
    return conn.all(_BY_GROUP.format(value=value_of(key), name=name, key=key, where=where), params)


_TAGS_OVER_TIME = """
SELECT {bucket} AS bucket, tag, CAST(sum(negative) AS BIGINT) AS negative
FROM negative_tags WHERE {where}
GROUP BY 1, 2 HAVING sum(negative) > 0
ORDER BY 1, 2
"""

_TAGS_BY_ASSISTANT = f"""
SELECT {value_of("assistant_key")} AS assistant_id, tag, CAST(sum(negative) AS BIGINT) AS negative
FROM negative_tags WHERE {{where}}
GROUP BY assistant_key, tag HAVING sum(negative) > 0
ORDER BY 1 NULLS LAST, 3 DESC, 2
"""


def tags_over_time(conn, filters: Filters, bucket: str) -> list[dict]:
    """Rows of the bucket's first day number, `tag`, `negative`."""
    where, params = _where(filters, votes=True)
    return conn.all(_TAGS_OVER_TIME.format(bucket=bucket, where=where), params)


def tags_by_assistant(conn, filters: Filters) -> list[dict]:
    """Rows of `assistant_id`, `tag`, `negative`."""
    where, params = _where(filters, votes=True)
    return conn.all(_TAGS_BY_ASSISTANT.format(where=where), params)


_RUNS = """
SELECT CAST(coalesce(sum(runs), 0) AS BIGINT) AS runs,
       CAST(coalesce(sum(runs) FILTER (WHERE {rated} <> 0), 0) AS BIGINT) AS runs_with_feedback
FROM run_counts WHERE {where}
"""


def runs(conn, filters: Filters) -> dict:
    """`runs` and `runs_with_feedback` (a vote of the source filter on the run or one of its messages)."""
    where, params = _where(filters, votes=False)
    return conn.one(_RUNS.format(rated=_CLASS[filters.source], where=where), params)


_FOLLOW_UPS = """
SELECT CASE {rated} WHEN 0 THEN 'unrated' WHEN 1 THEN 'positive' WHEN 2 THEN 'negative' ELSE 'mixed' END AS rating,
       CAST(sum(runs) AS BIGINT) AS runs,
       CAST(coalesce(sum(runs) FILTER (WHERE followed_up), 0) AS BIGINT) AS followed_up
FROM run_counts WHERE success AND {where}
GROUP BY 1
"""


def follow_ups(conn, filters: Filters) -> list[dict]:
    """Rows of `rating` (class), `runs`, `followed_up` over the successful runs."""
    where, params = _where(filters, votes=False)
    return conn.all(_FOLLOW_UPS.format(rated=_CLASS[filters.source], where=where), params)


_REVIEWERS = """
SELECT owner_id AS reviewer, CAST(sum(votes) AS BIGINT) AS votes, CAST(sum(positive) AS BIGINT) AS positive,
       CAST(sum(negative) AS BIGINT) AS negative, CAST(sum(whole) + sum(message_only) AS BIGINT) AS runs
FROM reviewer_counts WHERE {where}
GROUP BY owner_id HAVING sum(votes) > 0
ORDER BY 2 DESC, 1
LIMIT $limit
"""


def reviewer_activity(conn, filters: Filters, limit: int) -> list[dict]:
    """Rows of `reviewer`, `votes`, `positive`, `negative`, `runs` (reviewer votes only), most votes first."""
    where, params = _where(filters, votes=False)
    if filters.reviewer is not None:
        where += " AND owner_id = $reviewer"
        params["reviewer"] = filters.reviewer
    if filters.source not in (None, "reviewer"):
        where = "FALSE"
    return conn.all(_REVIEWERS.format(where=where), {**params, "limit": limit})


_AGREEMENT = f"""
SELECT {value_of("assistant_key")} AS assistant_id,
       GROUPING(assistant_key) AS is_total,
       CAST(coalesce(sum(runs), 0) AS BIGINT) AS runs,
       CAST(sum(raters * runs) AS BIGINT) AS ratings,
       CAST(sum(positive * runs) AS BIGINT) AS positive,
       CAST(coalesce(sum(runs) FILTER (WHERE positive = 0 OR positive = raters), 0) AS BIGINT) AS unanimous,
       sum(runs * CAST(positive * (positive - 1) + (raters - positive) * (raters - positive - 1) AS DOUBLE PRECISION)
           / (raters * (raters - 1))) AS agreement_sum
FROM panel_counts WHERE runs <> 0 AND {{where}}
GROUP BY GROUPING SETS ((assistant_key), ())
ORDER BY 2 DESC, 1 NULLS LAST
"""


def agreement(conn, filters: Filters) -> list[dict]:
    """The agreement sums of `stats.reviewers` per assistant and in total (`is_total`)."""
    where, params = _where(filters, votes=False)
    if filters.source not in (None, "reviewer"):
        where = "FALSE"
    return conn.all(_AGREEMENT.format(where=where), params)
