"""Run events: the conversation of a thread in `seq` order, and the trace events around it."""

from __future__ import annotations

from data_layer.rows import plain_all

COLUMNS = """id, thread_id, run_id, seq, event_type, category, role, message_id, text AS content, tool_calls,
    tool_call_id, name, metadata, created_at"""

# DuckDB reads a table through an index only for a filter on the indexed column alone: the thread's
# events come through the `run_events (thread_id)` index in a MATERIALIZED CTE (no other filter is
# pushed into it) and are narrowed after (docs/benchmarks.md).
_MESSAGES = f"""
WITH e AS MATERIALIZED (SELECT * FROM run_events WHERE thread_id = $thread_id)
SELECT {COLUMNS} FROM e
WHERE category = 'message' AND (CAST($run_id AS TEXT) IS NULL OR run_id = $run_id)
ORDER BY seq
"""

_ALL = f"""
WITH e AS MATERIALIZED (SELECT * FROM run_events WHERE thread_id = $thread_id)
SELECT {COLUMNS} FROM e
WHERE CAST($run_id AS TEXT) IS NULL OR run_id = $run_id
ORDER BY seq
"""


class EventRepo:
    def __init__(self, engine):
        self._engine = engine

    def list_messages(self, thread_id, run_id=None) -> list[dict]:
        """Message events in seq order: message_id, role (human|ai|tool|system), content text,
        tool calls and metadata."""
        with self._engine.read() as conn:
            return plain_all(conn.all(_MESSAGES, {"thread_id": thread_id, "run_id": run_id}))

    def list(self, thread_id, run_id=None) -> list[dict]:
        """Every event of a thread (messages, lifecycle, trace, middleware) in seq order."""
        with self._engine.read() as conn:
            return plain_all(conn.all(_ALL, {"thread_id": thread_id, "run_id": run_id}))
