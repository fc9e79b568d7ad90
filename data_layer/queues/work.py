"""Working a queue: the next item for a reviewer, and each queue's progress.

An item goes to `reviewers_per_item` different reviewers. The next item for a reviewer is one of the
queue whose run has fewer whole-run votes of named reviewers than that, on which the reviewer has not
voted (so no one judges an item twice), and which nobody else holds: handing it out claims it as the
review queue does (`data_layer.queue.claim_first`), so two reviewers never judge one item at the same
moment. The reviewer's own claim comes first (a reload resumes it), then items never skipped, in the
order of the item's sample point: a queue half done has judged a random half of its items.

In a blind queue a reviewer sees no other vote on an item before voting on it (`blind.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from data_layer import auth
from data_layer.errors import Forbidden
from data_layer.queue import LEASE, claim_first
from data_layer.queues.spec import QueueSpec
from data_layer.rows import plain, plain_all

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

# A whole-run reviewer vote on an item of the queue (alias `f`), with its run's panel tallies (`r`).
_QUEUE_VOTES = """
FROM queue_items q
JOIN runs r ON r.run_id = q.run_id
JOIN feedback f ON f.run_id = q.run_id AND f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL
WHERE q.queue_name = $queue_name
"""

# Per reviewer: items judged, when, and agreement with the others on the same items: the others'
# majority is the run's tallies without this vote; a tie among the others compares nothing.
_BY_REVIEWER = f"""
SELECT f.owner_id AS reviewer, count(*) AS done, min(f.updated_at) AS first_vote_at, max(f.updated_at) AS last_vote_at,
       count(*) FILTER (WHERE f.updated_at > $hour_ago) AS last_hour,
       count(*) FILTER (WHERE (r.panel_positive - CASE WHEN f.rating = 1 THEN 1 ELSE 0 END)
                           <> (r.panel_negative - CASE WHEN f.rating = -1 THEN 1 ELSE 0 END)) AS compared,
       count(*) FILTER (WHERE (f.rating = 1 AND r.panel_positive - 1 > r.panel_negative)
                           OR (f.rating = -1 AND r.panel_negative - 1 > r.panel_positive)) AS agreed
{_QUEUE_VOTES}
GROUP BY f.owner_id
ORDER BY f.owner_id
"""

_TOTALS = """
SELECT count(*) AS items,
       count(*) FILTER (WHERE r.panel_positive + r.panel_negative >= $k) AS done,
       coalesce(sum(CASE WHEN r.panel_positive + r.panel_negative < $k
                         THEN $k - r.panel_positive - r.panel_negative ELSE 0 END), 0) AS votes_needed
FROM queue_items q JOIN runs r ON r.run_id = q.run_id
WHERE q.queue_name = $queue_name
"""

ITEM = "SELECT thread_id FROM queue_items WHERE queue_name = $queue_name AND run_id = $run_id"

_OPEN_TO = """
SELECT count(*) FROM queue_items q JOIN runs r ON r.run_id = q.run_id
WHERE q.queue_name = $queue_name AND r.panel_positive + r.panel_negative < $k
  AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.run_id = q.run_id AND f.owner_id = $reviewer AND f.scope = '')
"""


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


def progress(conn, spec: QueueSpec, actor: auth.Actor) -> dict:
    """The queue's items done and left, what is left for the actor, and per reviewer: items judged, pace
    (items per hour between the first and the last vote, and in the last hour) and agreement so far."""
    now = datetime.now(UTC)
    params = {"queue_name": spec.name, "k": spec.reviewers_per_item}
    totals = conn.one(_TOTALS, params) or {}
    reviewers = []
    for row in plain_all(conn.all(_BY_REVIEWER, {**params, "hour_ago": now - timedelta(hours=1)})):
        first, last = (datetime.fromisoformat(row[key]) for key in ("first_vote_at", "last_vote_at"))
        hours = (last - first).total_seconds() / 3600
        compared = int(row["compared"])
        reviewers.append(
            {
                **row,
                "pace_per_hour": round(int(row["done"]) / hours, 1) if hours >= 0.25 else None,
                "agreement": int(row["agreed"]) / compared if compared else None,
            }
        )
    left_for_me = conn.scalar(_OPEN_TO, {**params, "reviewer": actor.user_id})
    items, done = int(totals.get("items") or 0), int(totals.get("done") or 0)
    return {
        "queue": spec.name,
        "items": items,
        "done": done,
        "remaining": items - done,
        "votes_needed": int(totals.get("votes_needed") or 0),
        "left_for_me": int(left_for_me or 0),
        "reviewers": reviewers,
    }
