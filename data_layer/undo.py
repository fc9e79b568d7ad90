"""Undo of a removed vote: a retracted or deleted vote put back exactly as it was.

The values come from the audit trail, never from the caller: the last audit row of the vote's id must
be its retraction or deletion, and its `old_value` is the vote as it was removed (`audit.VALUE_FIELDS`).
The vote returns with its id, rating, comment, tags, source, `created_at`, `updated_at`, rubric scores
and correction; its copies of the run are taken from the run again and its tallies move back
(`rollups.adjust`). Whoever may remove the vote that way may put it back (`auth.authorize` with the
removal's action, so a reviewer its own retraction, an admin anyone's deletion). The restore is
audited as a `create` by the actor.
"""

from __future__ import annotations

import json

from data_layer import audit, auth, corrections, rollups, rules, scores
from data_layer.errors import Conflict, NotFound
from data_layer.feedback import COLUMNS
from data_layer.notify import outbox
from data_layer.targets import check_target, lock_thread

_LAST_CHANGE = """
SELECT action, thread_id, run_id, old_value FROM feedback_audit
WHERE feedback_id = $feedback_id
ORDER BY changed_at DESC, id DESC
LIMIT 1
"""

_OWNERS_VOTE = """
WITH f AS MATERIALIZED (SELECT feedback_id, owner_id, scope FROM feedback WHERE run_id = $run_id)
SELECT feedback_id FROM f WHERE owner_id = $owner_id AND scope = $scope
"""

_RESTORE = f"""
INSERT INTO feedback (feedback_id, thread_id, run_id, owner_id, message_id, scope, rating, comment,
                      tags, source, created_at, updated_at,
                      run_at, run_assistant_id, run_model_name, run_status)
SELECT $feedback_id, $thread_id, $run_id, $owner_id, $message_id, $scope, $rating, $comment,
       CAST($tags AS TEXT[]), $source, CAST($created_at AS TIMESTAMPTZ), CAST($updated_at AS TIMESTAMPTZ),
       r.created_at, r.assistant_id, r.model_name, r.status
FROM runs r WHERE r.run_id = $run_id
RETURNING {COLUMNS}
"""


def restore(conn, feedback_id, actor: auth.Actor) -> dict:
    """Put back the vote `feedback_id` removed by its last change; `NotFound` when it was never stored or
    its last change was no removal (it is there, or a restore already brought it back), `Conflict` when
    its owner has voted on the same target since, `Forbidden` unless the actor may remove it that way."""
    auth.authorize(actor, "retract")  # every role that may remove a vote may retract: others learn nothing here
    feedback_id = rules.identifier(feedback_id, "feedback_id")
    change = conn.one(_LAST_CHANGE, {"feedback_id": feedback_id})
    if change is None or change["action"] not in ("retract", "delete"):
        raise NotFound(f"no removed vote {feedback_id} to restore")
    old = change["old_value"]
    old = json.loads(old) if isinstance(old, str) else old
    vote = {
        "feedback_id": feedback_id,
        "thread_id": change["thread_id"],
        "run_id": change["run_id"],
        **{name: old.get(name) for name in audit.VALUE_FIELDS},
        "scope": old.get("message_id") or "",
    }
    auth.authorize(actor, change["action"], vote)
    lock_thread(conn, vote["thread_id"])
    check_target(conn, vote["thread_id"], vote["run_id"], vote["message_id"], actor=actor)
    if vote["owner_id"] is not None and conn.one(_OWNERS_VOTE, vote):
        raise Conflict(f"{vote['owner_id']} has voted on this target again since; that vote stays")
    row = conn.one(_RESTORE, {**vote, "tags": list(vote["tags"] or [])})
    rollups.adjust(conn, None, row)
    if isinstance(old.get("scores"), dict):
        row = {**row, "scores": scores.replace(conn, row, scores.rows_of(old["scores"]), row["updated_at"])}
    correction = old.get("correction") if isinstance(old.get("correction"), str) else None
    if correction:
        corrections.store(conn, feedback_id, correction, row["updated_at"])
    row = {**row, "correction": correction or None}
    outbox.vote_written(conn, None, row)
    audit.record(conn, action="create", actor=actor, old=None, new=row)
    return row
