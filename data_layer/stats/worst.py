"""The runs with the most thumbs-down under the filters, each with its thread, question and latest
negative comment: where to look first. A run's votes are shown per run here, so the runs blind to the
reader (`queues/blind.py`) are left out."""

from __future__ import annotations

from datetime import UTC

from data_layer import auth
from data_layer.filters import Filters
from data_layer.queues import blind
from data_layer.stats.sql import per_run, votes_where

# The ranking reads the runs' counted votes; the latest negative comment is then read for the chosen
# few runs alone, through the votes' run_id index (DuckDB uses it for an IN list of values on that
# column alone, so the filters apply after the MATERIALIZED CTE).
_WORST_RUNS = """
WITH worst AS (
    SELECT run_id, created_at, negative, positive
    FROM ({runs}) p
    WHERE negative > 0 AND {open}
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


def worst_runs(conn, filters: Filters, actor: auth.Actor, limit: int = 20) -> list[dict]:
    """Runs with the most negative votes, newest first among equals (runs without a negative vote, and
    runs blind to `actor`, are left out), each with `thread_id`, `question` and `latest_comment`, the
    latest negative comment."""
    runs, params = per_run(filters)
    shown, hidden = blind.run_open(actor, "p.run_id")
    rows = conn.all(_WORST_RUNS.format(runs=runs, open=shown), {**params, **hidden, "limit": limit})
    comments = {}
    if rows:
        ids = {f"worst_{index}": row["run_id"] for index, row in enumerate(rows)}
        votes, vote_params = votes_where(filters)
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
