"""A queue's progress: items done and left, and per reviewer what they did, what is left to them, their
pace, their agreement with the others so far, and whether they are behind.

The reviewers counted are the queue's assignees when it names them (each has a row from the start,
with nothing done), else everyone who has given a whole-run vote on one of its items. For each:
- `done`: items judged; `remaining`: items still open (fewer votes than the queue asks) that they have
  not judged and may work (none for a voter who is no assignee of a queue that names its assignees);
- `pace_per_hour`: items per hour between their first and last vote (None under a quarter of an
  hour), and `last_hour`: items judged in the last hour;
- `agreement`: the share of their votes that side with the others' majority on the same item (a tie
  among the others compares nothing);
- `behind`: they have items left and have done less than half the team's average so far (`BEHIND`):
  the average is each one's even share of the votes given up to now, so a reviewer is behind when
  they have done under half of their share. `even_share` is each one's share of the whole queue's
  votes (given and still needed), what they would do if the work were split evenly to the end.

Seeing every reviewer's row takes the `view_progress` action (a lead, an admin); anyone else who may
read gets the totals and their own row (`visible`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from data_layer import auth
from data_layer.queues.spec import QueueSpec
from data_layer.rows import plain, plain_all

# A reviewer with items left is behind under this share of the team's average of items done.
BEHIND = 0.5

# A whole-run vote of a named reviewer on an item of the queue (alias `f`), with its run's panel
# tallies (`r`).
_QUEUE_VOTES = """
FROM queue_items q
JOIN runs r ON r.run_id = q.run_id
JOIN feedback f ON f.run_id = q.run_id AND f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL
WHERE q.queue_name = $queue_name
"""

# Per reviewer: items judged, when, how many of those are still open, and agreement with the others on
# the same items: the others' majority is the run's tallies without this vote.
_BY_REVIEWER = f"""
SELECT f.owner_id AS reviewer, count(*) AS done, min(f.updated_at) AS first_vote_at, max(f.updated_at) AS last_vote_at,
       count(*) FILTER (WHERE f.updated_at > $hour_ago) AS last_hour,
       count(*) FILTER (WHERE r.panel_positive + r.panel_negative < $k) AS open_judged,
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

_OPEN_TO = """
SELECT count(*) FROM queue_items q JOIN runs r ON r.run_id = q.run_id
WHERE q.queue_name = $queue_name AND r.panel_positive + r.panel_negative < $k
  AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.run_id = q.run_id AND f.owner_id = $reviewer AND f.scope = '')
"""

_NOTHING_YET = {
    "done": 0,
    "first_vote_at": None,
    "last_vote_at": None,
    "last_hour": 0,
    "open_judged": 0,
    "compared": 0,
    "agreed": 0,
}


def progress(conn, spec: QueueSpec, actor: auth.Actor) -> dict:
    """The queue's items done and left, what is left for the actor, and every counted reviewer's row."""
    params = {"queue_name": spec.name, "k": spec.reviewers_per_item}
    totals = conn.one(_TOTALS, params) or {}
    items, done = int(totals.get("items") or 0), int(totals.get("done") or 0)
    voted = {
        row["reviewer"]: row
        for row in plain_all(conn.all(_BY_REVIEWER, {**params, "hour_ago": datetime.now(UTC) - timedelta(hours=1)}))
    }
    counted = list(spec.assignees) if spec.assignees else list(voted)
    may_work = set(spec.assignees) if spec.assignees else set(counted)
    reviewers = [
        _row(voted.get(name) or {"reviewer": name, **_NOTHING_YET}, items - done, name in may_work) for name in counted
    ]
    reviewers += [_row(row, items - done, False) for name, row in voted.items() if name not in may_work]
    given = sum(row["done"] for row in reviewers if row["reviewer"] in may_work)
    votes_needed = int(totals.get("votes_needed") or 0)
    average = given / len(counted) if counted else 0.0
    for row in reviewers:
        row["behind"] = row["reviewer"] in may_work and row["remaining"] > 0 and row["done"] < BEHIND * average
        row["even_share"] = (given + votes_needed) / len(counted) if row["reviewer"] in may_work else None
    reviewers.sort(key=lambda row: row["reviewer"])
    return {
        "queue": spec.name,
        "items": items,
        "done": done,
        "remaining": items - done,
        "votes_needed": votes_needed,
        "left_for_me": int(conn.scalar(_OPEN_TO, {**params, "reviewer": actor.user_id}) or 0),
        "average_done": average,
        "behind": sorted(row["reviewer"] for row in reviewers if row["behind"]),
        "reviewers": reviewers,
    }


def _row(row: dict, open_items: int, may_work: bool) -> dict:
    """One reviewer's row from their sums: what is left to them, pace and agreement."""
    found = plain(row)
    done, compared = int(found["done"]), int(found["compared"])
    pace = None
    if found["first_vote_at"]:
        first, last = (datetime.fromisoformat(found[key]) for key in ("first_vote_at", "last_vote_at"))
        hours = (last - first).total_seconds() / 3600
        pace = round(done / hours, 1) if hours >= 0.25 else None
    return {
        **found,
        "done": done,
        "remaining": open_items - int(found["open_judged"]) if may_work else 0,
        "pace_per_hour": pace,
        "agreement": int(found["agreed"]) / compared if compared else None,
    }


def visible(found: dict, actor: auth.Actor) -> dict:
    """The progress as `actor` may see it: every row with `view_progress`, else the actor's own row and
    the totals (who is behind is a lead's business)."""
    if auth.can(actor, "view_progress"):
        return found
    return {
        **found,
        "behind": [name for name in found["behind"] if name == actor.user_id],
        "reviewers": [row for row in found["reviewers"] if row["reviewer"] == actor.user_id],
    }
