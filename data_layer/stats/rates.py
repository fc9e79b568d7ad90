"""Vote counts and positive rates: the headline (with the period before), per day or week, per
assistant or model, and the reason tags of negative votes over time and per assistant.

All of them count whole-run votes only (`scope = ''`), as the insights do (`data_layer.insights`):
a reviewer's extra vote on one message of a run is not a second opinion on the run, and one rule
gives one number for a slice on every page."""

from __future__ import annotations

from data_layer.analysis import rate
from data_layer.cubes import UNTAGGED
from data_layer.errors import InvalidInput
from data_layer.filters import Filters
from data_layer.schema import FEEDBACK_SOURCES
from data_layer.stats import cubes
from data_layer.stats.sql import BUCKETS, DAY, counted, day_of, per_run, votes_where

GROUPS = ("assistant_id", "model_name")

# Runs, and runs with a vote, from the runs' tallies (`per_run`): those count a run's votes on its
# messages too, so a run voted on only message by message is a run with feedback; counting the runs
# of whole-run votes instead (count DISTINCT over the votes) costs several times the whole headline.
_RUNS = """
SELECT count(*) AS runs, count(*) FILTER (WHERE positive + negative > 0) AS runs_with_feedback
FROM ({runs}) p
"""

# Grouped by source rather than a FILTER per source: string comparisons in FILTERs cost three times more.
_VOTES = """
SELECT f.source, count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f
WHERE {votes}
GROUP BY f.source
"""


def _period(conn, filters: Filters) -> dict:
    if cubes.usable(filters):
        found = {row["source"]: row for row in cubes.votes_by_source(conn, filters)}
        runs_counted = cubes.runs(conn, filters)
    else:
        runs, run_params = per_run(filters)
        votes, params = votes_where(filters, whole_run=True)
        found = {row["source"]: row for row in conn.all(_VOTES.format(votes=votes), params)}
        runs_counted = conn.one(_RUNS.format(runs=runs), run_params)
    sources: dict[str, dict] = {}
    for source in FEEDBACK_SOURCES:
        row = found.get(source, {})
        votes_of, positive_of = int(row.get("votes") or 0), int(row.get("positive") or 0)
        sources[source] = {"votes": votes_of, "positive": positive_of, "positive_rate": rate(positive_of, votes_of)}
    total = sum(side["votes"] for side in sources.values())
    positive = sum(side["positive"] for side in sources.values())
    return {
        **{key: int(value) for key, value in runs_counted.items()},
        "votes": total,
        "positive": positive,
        "negative": total - positive,
        "positive_rate": rate(positive, total),
        "by_source": sources,
    }


def headline(conn, filters: Filters) -> dict:
    """Runs, runs with feedback (a vote on the run or on one of its messages), whole-run votes per
    source and together, and the positive rate; with a full date range also the previous
    period of equal length and the change (counts as differences, the rate in fraction points)."""
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
        "previous_since": before.since if before else None,
        "previous_until": before.until if before else None,
    }


_OVER_TIME = f"""
SELECT {{bucket}} AS bucket,
       count(*) AS votes,
       count(*) FILTER (WHERE rating = 1) AS positive,
       count(*) FILTER (WHERE rating = -1) AS negative
FROM (SELECT {DAY} AS day, f.rating FROM feedback f WHERE {{votes}}) v
GROUP BY 1
ORDER BY 1
"""


def over_time(conn, filters: Filters, bucket: str) -> dict:
    """Votes and positive rate per `bucket` (`day` or `week`) of the runs; each row has `bucket` (its
    first day), `votes`, `positive`, `negative`, the rate and its interval."""
    if cubes.usable(filters):
        rows = cubes.over_time(conn, filters, BUCKETS[bucket])
    else:
        votes, params = votes_where(filters, whole_run=True)
        rows = conn.all(_OVER_TIME.format(bucket=BUCKETS[bucket], votes=votes), params)
    return {"bucket": bucket, "rows": [counted({**row, "bucket": day_of(row["bucket"])}) for row in rows]}


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


def by_group(conn, filters: Filters, name: str) -> list[dict]:
    """Positive rate per assistant or model (`name`) with its 95 % Wilson interval, worst first (ties:
    more votes first)."""
    if name not in GROUPS:
        raise InvalidInput(f"group {name!r:.40} is not one of {', '.join(GROUPS)}")
    if cubes.usable(filters):
        return [counted(row) for row in cubes.by_group(conn, filters, name)]
    votes, params = votes_where(filters, whole_run=True)
    return [counted(row) for row in conn.all(_BY_GROUP.format(name=name, votes=votes), params)]


# A negative vote without tags counts once as UNTAGGED, so the tags add up to the negative votes.
_NEGATIVE_TAGS = f"""
SELECT {DAY} AS day, f.run_assistant_id AS assistant_id,
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


def tags_over_time(conn, filters: Filters, bucket: str) -> dict:
    """Reason tags of negative votes per day or week: rows of `bucket`, `tag`, `negative` (a vote with
    two tags counts for each; a negative vote without tags counts as `untagged`)."""
    if cubes.usable(filters):
        rows = cubes.tags_over_time(conn, filters, BUCKETS[bucket])
    else:
        votes, params = votes_where(filters, whole_run=True)
        rows = conn.all(_TAGS_OVER_TIME.format(bucket=BUCKETS[bucket], votes=votes), params)
    out = [{"bucket": day_of(row["bucket"]), "tag": row["tag"], "negative": int(row["negative"])} for row in rows]
    return {"bucket": bucket, "rows": out}


def tags_by_assistant(conn, filters: Filters) -> list[dict]:
    """Reason tags of negative votes per assistant: rows of `assistant_id`, `tag`, `negative`."""
    if cubes.usable(filters):
        rows = cubes.tags_by_assistant(conn, filters)
    else:
        votes, params = votes_where(filters, whole_run=True)
        rows = conn.all(_TAGS_BY_ASSISTANT.format(votes=votes), params)
    return [{**row, "negative": int(row["negative"])} for row in rows]
