"""The review queue: the next run a reviewer should judge, short-lived claims, skips and progress.

A reviewer asks for the next run matching a filter that they have not voted on yet. Handing it
out claims it for `LEASE`; while that claim is fresh, other reviewers are handed other runs, so
two people working the same queue do not judge the same run at the same moment. A claim is
released on "next", replaced by the reviewer's next claim, or simply expires. A skipped run
goes to the back of that reviewer's queue rather than out of it.

The reviewer is the actor asking (`auth.Actor`), never a name passed in: working the queue needs
the `queue` action (`auth.authorize`), and learning who holds a run needs `read`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from data_layer import auth, rules
from data_layer.filters import Filters, Table, conditions
from data_layer.rows import plain
from data_layer.runs import COLUMNS as RUN_COLUMNS

LEASE = timedelta(minutes=3)
_CANDIDATES = 20

# The queue's filters (`data_layer.filters`), each fixed SQL.
FILTERS: Table = {
    "assistant_id": "r.assistant_id = $assistant_id",
    "model_name": "r.model_name = $model_name",
    "status": "r.status = $status",
    "since": "r.created_at >= $since",
    "until": "r.created_at < $until",
    "negative_user_feedback": """EXISTS (SELECT 1 FROM feedback u
        WHERE u.run_id = r.run_id AND u.source = 'end_user' AND u.rating = -1)""",
    "follow_ups_only": "r.follow_up_to_run_id IS NOT NULL",
}

# Runs held by someone else with a fresh claim are left out; the reviewer's own claim comes
# first (a reload resumes the same run), then never-skipped runs, newest first.
_NEXT = """
SELECT r.run_id
FROM runs r
LEFT JOIN review_claims c ON c.run_id = r.run_id
LEFT JOIN review_skips s ON s.run_id = r.run_id AND s.owner_id = $reviewer
WHERE {where}
  AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.run_id = r.run_id AND f.owner_id = $reviewer)
  AND (c.run_id IS NULL OR c.owner_id = $reviewer OR c.claimed_at <= $stale)
ORDER BY CASE WHEN c.owner_id = $reviewer THEN 0 ELSE 1 END, s.skipped_at NULLS FIRST,
         r.created_at DESC, r.run_id
LIMIT $limit
"""

# Takes the claim only when it is free, already ours, or stale: atomic on both engines.
_CLAIM = """
INSERT INTO review_claims (run_id, owner_id, claimed_at) VALUES ($run_id, $reviewer, $now)
ON CONFLICT (run_id) DO UPDATE SET owner_id = excluded.owner_id, claimed_at = excluded.claimed_at
WHERE review_claims.owner_id = excluded.owner_id OR review_claims.claimed_at <= $stale
RETURNING run_id
"""

_RELEASE_OTHERS = "DELETE FROM review_claims WHERE owner_id = $reviewer AND run_id <> $run_id"
_RELEASE = "DELETE FROM review_claims WHERE owner_id = $reviewer AND run_id = $run_id"

_SKIP = """
INSERT INTO review_skips (run_id, owner_id, skipped_at) VALUES ($run_id, $reviewer, $now)
ON CONFLICT (run_id, owner_id) DO UPDATE SET skipped_at = excluded.skipped_at
"""

_PROGRESS = """
SELECT count(*) AS total, count(m.run_id) AS reviewed
FROM runs r
LEFT JOIN (SELECT DISTINCT run_id FROM feedback WHERE owner_id = $reviewer) AS m ON m.run_id = r.run_id
WHERE {where}
"""

_HOLDER = "SELECT owner_id, claimed_at FROM review_claims WHERE run_id = $run_id AND claimed_at > $stale"

_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $run_id"


def _now() -> datetime:
    return datetime.now(UTC)


def _where(filters) -> tuple[str, dict]:
    return conditions(Filters.of(filters, takes=FILTERS, reader="the review queue"), FILTERS)


def claim_first(conn, candidates: list[dict], reviewer: str, now: datetime) -> dict | None:
    """Claim the first of `candidates` (rows with a `run_id`) that is free for `reviewer` and return its
    run; the reviewer's other claims are released (one reviewer holds one run at a time). None, with
    every claim released, when none is free."""
    for candidate in candidates:
        claim = {"run_id": candidate["run_id"], "reviewer": reviewer, "now": now, "stale": now - LEASE}
        if conn.one(_CLAIM, claim):
            conn.execute(_RELEASE_OTHERS, claim)
            return conn.one(_RUN, claim)
    conn.execute(_RELEASE_OTHERS, {"reviewer": reviewer, "run_id": ""})
    return None


def release(conn, run_id: str, reviewer: str) -> None:
    """Give up `reviewer`'s claim on `run_id`, if it holds one."""
    conn.execute(_RELEASE, {"reviewer": reviewer, "run_id": run_id})


def _reviewer(actor: auth.Actor) -> str:
    """The queue's owner: the actor, once it may work the queue."""
    auth.authorize(actor, "queue")
    return actor.user_id


class ReviewQueue:
    def __init__(self, engine):
        self._engine = engine

    def next_run(self, filters=None, *, actor: auth.Actor) -> dict | None:
        """Claim and return the next run for the actor under `filters` (a `Filters` or its dict: `assistant_id`,
        `model_name`, `status`, `since`/`until` of the run's start, `negative_user_feedback`,
        `follow_ups_only`), or None when the queue is empty.

        The actor's other claims are released: one reviewer holds one run at a time.
        """
        reviewer = _reviewer(actor)
        where, params = _where(filters)
        now = _now()
        params.update(reviewer=reviewer, stale=now - LEASE, now=now, limit=_CANDIDATES)
        sql = _NEXT.format(where=where)

        return plain(self._engine.write(lambda conn: claim_first(conn, conn.all(sql, params), reviewer, now)))

    def claim(self, run_id, *, actor: auth.Actor) -> bool:
        """Hold `run_id` for the actor for `LEASE`; False when another reviewer holds it."""
        now = _now()
        params = {"reviewer": _reviewer(actor), "run_id": rules.identifier(run_id, "run_id"), "now": now}
        params["stale"] = now - LEASE
        return self._engine.write(lambda conn: conn.one(_CLAIM, params) is not None)

    def release(self, run_id, *, actor: auth.Actor) -> None:
        """Give up the actor's claim on `run_id` (moving on after a vote)."""
        reviewer, run_id = _reviewer(actor), rules.identifier(run_id, "run_id")
        self._engine.write(lambda conn: release(conn, run_id, reviewer))

    def skip(self, run_id, *, actor: auth.Actor) -> None:
        """Move `run_id` to the back of the actor's queue and release it."""
        params = {"reviewer": _reviewer(actor), "run_id": rules.identifier(run_id, "run_id"), "now": _now()}

        def write(conn):
            conn.execute(_SKIP, params)
            conn.execute(_RELEASE, params)

        self._engine.write(write)

    def holder(self, run_id, *, actor: auth.Actor) -> dict | None:
        """Who holds a fresh claim on `run_id` and since when, if anyone."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            return plain(conn.one(_HOLDER, {"run_id": run_id, "stale": _now() - LEASE}))

    def progress(self, filters=None, *, actor: auth.Actor) -> tuple[int, int]:
        """(runs the actor has voted on, all runs) under `filters`."""
        reviewer = _reviewer(actor)
        where, params = _where(filters)
        params["reviewer"] = reviewer
        with self._engine.read() as conn:
            row = conn.one(_PROGRESS.format(where=where), params)
        return int(row["reviewed"]), int(row["total"])
