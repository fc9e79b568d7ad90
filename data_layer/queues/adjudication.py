"""A lead's final verdict on a run the reviewers split on.

The items to decide are those whose whole-run reviewer votes go both ways (a tie is `disputed`, a
split majority is decided by the majority but may still deserve a look). A decision is `good` or
`bad` with a note saying why; it is kept per run (a run in two queues has one truth) in
`adjudications`, which every estimate reads over the consensus (`estimate.CONSENSUS`), and each
decision is appended to `adjudication_log` with who made it, when and the verdict it replaced.
"""

from __future__ import annotations

from datetime import UTC, datetime

from data_layer import auth, rules
from data_layer.errors import InvalidInput, NotFound
from data_layer.queues import blind, estimate, work
from data_layer.rows import plain, plain_all

VERDICTS = ("good", "bad")
MAX_NOTE = 2000

_CURRENT = "SELECT verdict FROM adjudications WHERE run_id = $run_id"

_UPSERT = """
INSERT INTO adjudications (run_id, verdict, note, owner_id, decided_at)
VALUES ($run_id, $verdict, $note, $owner_id, $now)
ON CONFLICT (run_id) DO UPDATE SET verdict = excluded.verdict, note = excluded.note,
    owner_id = excluded.owner_id, decided_at = excluded.decided_at
RETURNING run_id, verdict, note, owner_id, decided_at
"""

_LOG = """
INSERT INTO adjudication_log (run_id, queue_name, verdict, old_verdict, note, owner_id, actor_role, decided_at)
VALUES ($run_id, $queue_name, $verdict, $old_verdict, $note, $owner_id, $actor_role, $now)
"""

_LISTING = f"""
SELECT q.run_id, q.thread_id, r.panel_positive AS good_votes, r.panel_negative AS bad_votes,
       {estimate.CONSENSUS} AS consensus, a.verdict, a.note, a.owner_id AS decided_by, a.decided_at
FROM queue_items q {estimate.ITEM_JOINS}
WHERE q.queue_name = $queue_name AND ((r.panel_positive > 0 AND r.panel_negative > 0) OR a.verdict IS NOT NULL)
  AND {{open}}
ORDER BY a.decided_at NULLS FIRST, q.entered_at, q.run_id
LIMIT $limit OFFSET $offset
"""


def decision(run_id, verdict, note) -> dict:
    """A decision's fields, checked: `InvalidInput` naming what is wrong."""
    if verdict not in VERDICTS:
        raise InvalidInput(f"verdict must be good or bad, got {str(verdict)[:40]!r}")
    note = rules.text(note, "note", MAX_NOTE).strip() if note is not None else ""
    if not note:
        raise InvalidInput("a verdict needs a note saying why")
    return {"run_id": rules.identifier(run_id, "run_id"), "verdict": verdict, "note": note}


def decide(conn, queue_name: str, fields: dict, actor: auth.Actor) -> dict:
    """Store the decision on an item of the queue and log it; `NotFound` when the run is no item of it."""
    if conn.one(work.ITEM, {"queue_name": queue_name, "run_id": fields["run_id"]}) is None:
        raise NotFound(f"run {fields['run_id']} is no item of queue {queue_name}")
    old = conn.one(_CURRENT, fields)
    params = {
        **fields,
        "queue_name": queue_name,
        "owner_id": actor.user_id,
        "actor_role": actor.role,
        "old_verdict": old["verdict"] if old else None,
        "now": datetime.now(UTC),
    }
    row = conn.one(_UPSERT, params)
    conn.execute(_LOG, params)
    return plain(row)


def listing(conn, queue_name: str, *, actor: auth.Actor, limit: int, offset: int) -> list[dict]:
    """The items to decide and those decided, but for the runs blind to `actor` (`blind.run_open`):
    their votes are no one's business of the actor's yet."""
    condition, hidden = blind.run_open(actor, "q.run_id")
    params = {"queue_name": queue_name, "limit": limit, "offset": offset, **hidden}
    return plain_all(conn.all(_LISTING.format(open=condition), params))
