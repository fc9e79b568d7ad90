"""Working a queue: the next item for a reviewer, and the runs a blind queue hides votes on (its
progress: `progress.py`).

An item goes to `reviewers_per_item` different reviewers. The next item for a reviewer is one of the
queue whose run has fewer whole-run votes of named reviewers than that, on which the reviewer has not
voted (so no one judges an item twice), and which nobody else holds: handing it out claims it as the
review queue does (`data_layer.queue.claim_first`), so two reviewers never judge one item at the same
moment. The reviewer's own claim comes first (a reload resumes it), then items never skipped, in the
order of the item's sample point: a queue half done has judged a random half of its items.

In a blind queue a reviewer sees no other vote on an item before voting on it (`blind.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from data_layer import auth
from data_layer.errors import Forbidden
from data_layer.queue import LEASE, claim_first
from data_layer.queues.spec import QueueSpec
from data_layer.rows import plain

_CANDIDATES = 20

_NEXT = """
SELECT q.run_id, q.reason
FROM queue_items q
JOIN runs r ON r.run_id = q.run_id
LEFT JOIN review_claims c ON c.run_id = q.run_id
LEFT JOIN review_skips s ON s.run_id = q.run_id AND s.owner_id = $reviewer
WHERE q.queue_name = $queue_name
  AND r.panel_positive + r.panel_negative < $k
  AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.run_id = q.run_id AND f.owner_id = $reviewer AND f.scope = '')
  AND (c.run_id IS NULL OR c.owner_id = $reviewer OR c.claimed_at <= $stale)
ORDER BY CASE WHEN c.owner_id = $reviewer THEN 0 ELSE 1 END, s.skipped_at NULLS FIRST,
         md5(q.run_id || ':' || CAST($seed AS TEXT)), q.run_id
LIMIT $limit
"""

ITEM = "SELECT thread_id FROM queue_items WHERE queue_name = $queue_name AND run_id = $run_id"


def may_work(spec: QueueSpec, actor: auth.Actor) -> None:
    """`Forbidden` unless the actor may work queues and this queue is open to it (an assignee, or
    anyone when the queue names none)."""
    auth.authorize(actor, "queue")
    if spec.assignees and actor.user_id not in spec.assignees and actor.role != "system":
        raise Forbidden(f"{actor.user_id} is not an assignee of queue {spec.name}")


def next_item(conn, spec: QueueSpec, actor: auth.Actor, closed: bool) -> dict | None:
    """Claim and return the next item of the queue for the actor (its run, why it entered), or None
    when nothing is left for it; a closed queue hands out nothing."""
    may_work(spec, actor)
    if closed:
        return None
    now = datetime.now(UTC)
    params = {
        "queue_name": spec.name,
        "reviewer": actor.user_id,
        "k": spec.reviewers_per_item,
        "seed": spec.seed,
        "stale": now - LEASE,
        "limit": _CANDIDATES,
    }
    candidates = conn.all(_NEXT, params)
    run = claim_first(conn, candidates, actor.user_id, now)
    if run is None:
        return None
    reason = next(row["reason"] for row in candidates if row["run_id"] == run["run_id"])
    return {"queue": spec.name, "reason": reason, "run": plain(run)}
