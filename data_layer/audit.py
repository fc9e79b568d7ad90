"""The audit trail of feedback: who created, changed, retracted or deleted which vote, and when.

`record()` is called by every feedback write inside its own transaction, so a change and its audit
row commit or fail together. The table is append-only: nothing here updates or deletes it, and it
does not refer to the vote, so a deleted vote keeps its history. Reading it needs the `audit`
action (admins, and the system: `auth.authorize`), filtered and paginated in SQL, oldest first.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from data_layer import auth, rules
from data_layer.filters import Filters, Table, conditions
from data_layer.rows import plain, plain_all

ACTIONS = rules.AUDIT_ACTIONS
# The vote's fields worth keeping in a history (ids and times of the vote itself are columns of the row).
VALUE_FIELDS = ("owner_id", "message_id", "rating", "comment", "tags", "source", "created_at", "updated_at")
MAX_PAGE = 1000

_INSERT = """
INSERT INTO feedback_audit (changed_at, actor_id, actor_role, action, feedback_id, thread_id, run_id,
                            old_value, new_value)
VALUES ($changed_at, $actor_id, $actor_role, $action, $feedback_id, $thread_id, $run_id,
        CAST($old_value AS JSON), CAST($new_value AS JSON))
"""

# The trail's filters (`data_layer.filters`), each fixed SQL.
FILTERS: Table = {
    "actor_id": "actor_id = $actor_id",
    "action": "action = $action",
    "feedback_id": "feedback_id = $feedback_id",
    "thread_id": "thread_id = $thread_id",
    "run_id": "run_id = $run_id",
    "since": "changed_at >= $since",
    "until": "changed_at < $until",
}

_LIST = """
SELECT id, changed_at, actor_id, actor_role, action, feedback_id, thread_id, run_id, old_value, new_value
FROM feedback_audit
WHERE {where}
ORDER BY changed_at, id
LIMIT $limit OFFSET $offset
"""

_COUNT = "SELECT count(*) FROM feedback_audit WHERE {where}"


def _value(row: dict | None) -> str | None:
    if row is None:
        return None
    vote = plain(row)
    value = {name: vote.get(name) for name in VALUE_FIELDS}
    if vote.get("scores"):
        # the rubric scores the vote holds (data_layer/scores.py), criterion to value
        value["scores"] = vote["scores"]
    if vote.get("correction"):
        # the answer the agent should have given (data_layer/corrections.py)
        value["correction"] = vote["correction"]
    return json.dumps(value, ensure_ascii=False)


_IMPORTED = """
INSERT INTO feedback_audit (changed_at, actor_id, actor_role, action, feedback_id, thread_id, run_id,
                            old_value, new_value)
SELECT $changed_at, CAST($actor_id AS TEXT), $actor_role, CASE WHEN c.created THEN 'create' ELSE 'update' END,
       f.feedback_id, f.thread_id, f.run_id, CASE WHEN c.created THEN NULL ELSE {old} END, {new}
FROM _changing c JOIN _written f ON f.feedback_id = c.feedback_id{scores}
"""
# An import carrying rubric scores: each audited vote's scores before and after (data_layer/ingest/scores.py).
_IMPORTED_SCORES = " LEFT JOIN _score_audit s ON s.feedback_id = c.feedback_id"


def _value_sql(engine, alias: str, scores: str | None = None) -> str:
    """SQL building the JSON `_value` gives, from the vote columns of `alias` (and its scores, a JSON text
    column, when given)."""
    pairs = ", ".join(
        f"'{name}', " + (engine.iso_time.format(time=f"{alias}.{name}") if name.endswith("_at") else f"{alias}.{name}")
        for name in VALUE_FIELDS
    )
    if scores:
        pairs += f", 'scores', CAST({scores} AS JSON)"
    return engine.json_object.format(pairs=pairs)


def record_import(conn, engine, *, actor: auth.Actor, at, scores: bool = False) -> None:
    """Append one audit row per vote an import created or changed, in the import's transaction, in one
    statement: the temporary tables made by `ingest` hold each such vote's id, whether it is new, and its
    stored values before the merge (`_changing`), and the vote as the import wrote it (`_written`).

    The import's actor must be allowed to ingest: asked here too, inside the transaction, so that no
    import writes votes without an actor that may. With `scores`, the import carried rubric scores and
    each row's values carry the vote's scores too (`_score_audit`)."""
    auth.authorize(actor, "ingest")
    sql = _IMPORTED.format(
        old=_value_sql(engine, "c", "s.old_scores" if scores else None),
        new=_value_sql(engine, "f", "s.new_scores" if scores else None),
        scores=_IMPORTED_SCORES if scores else "",
    )
    conn.execute(
        sql,
        {"changed_at": at, "actor_id": actor.user_id, "actor_role": actor.role},
    )


def record(conn, *, action: str, actor: auth.Actor, old: dict | None, new: dict | None, at=None) -> None:
    """Append one audit row for a feedback write, in the caller's transaction, under its actor (a
    script's write under `auth.SYSTEM`: id and role `system`)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    vote = new or old
    if vote is None:
        raise ValueError("a vote change needs the vote before or after it")
    conn.execute(
        _INSERT,
        {
            "changed_at": at or datetime.now(UTC),
            "actor_id": actor.user_id,
            "actor_role": actor.role,
            "action": action,
            "feedback_id": vote["feedback_id"],
            "thread_id": vote["thread_id"],
            "run_id": vote["run_id"],
            "old_value": _value(old),
            "new_value": _value(new),
        },
    )


def _json(value):
    # DuckDB hands JSON back as text, psycopg as parsed values.
    return json.loads(value) if isinstance(value, str) else value


class AuditLog:
    """Reads of the audit trail; every call names the actor asking, which must be allowed to audit."""

    def __init__(self, engine):
        self._engine = engine

    @staticmethod
    def _where(filters) -> tuple[str, dict]:
        chosen = Filters.of(filters, takes=FILTERS, reader="the audit trail")
        return conditions(chosen, FILTERS)

    def list(self, filters=None, *, actor: auth.Actor, limit=100, offset=0) -> list[dict]:
        """Audit rows matching `filters` (a `Filters` or its dict: `actor_id`, `action`, `feedback_id`,
        `thread_id`, `run_id`, `since` inclusive, `until` exclusive), oldest first."""
        auth.authorize(actor, "audit")
        where, params = self._where(filters)
        params["limit"] = rules.integer(limit, "limit", low=1, high=MAX_PAGE)
        params["offset"] = rules.integer(offset, "offset", high=2**62)
        with self._engine.read() as conn:
            rows = plain_all(conn.all(_LIST.format(where=where), params))
        for row in rows:
            row["old_value"] = _json(row["old_value"])
            row["new_value"] = _json(row["new_value"])
        return rows

    def count(self, filters=None, *, actor: auth.Actor) -> int:
        auth.authorize(actor, "audit")
        where, params = self._where(filters)
        with self._engine.read() as conn:
            return int(conn.scalar(_COUNT.format(where=where), params))
