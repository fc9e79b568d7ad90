"""Feedback: votes on a run or on one of its messages, with the source system's rules.

Rules kept from upstream: rating is +1 or -1; the run must exist and belong to the thread
(`data_layer.targets`, which also keeps end users to the threads they own); the reviewer
comes from the caller, never from a body; a vote may target one message of the run; one vote
per (owner, run, message scope), replaced in place by `upsert`; delete answers False for an
id of another thread or run. Added here: tags, updated_at, the source of the vote, and a
thread's positive/negative tallies kept current on every write.

Every method takes the `actor` asking (`auth.Actor`; `auth.SYSTEM` for scripts, imports and
tests) and asks `auth.authorize` first. A read needs `read`, and one by target answers a thread
or run that is missing, misplaced or out of the actor's reach as `NotFound` before it reads the
votes. A write takes the owner and source from the actor (only the system names another
owner, `auth.acts_for_anyone`), asks `authorize` again inside its transaction against the vote it
would touch, and appends to the audit trail (`data_layer.audit`) in that transaction.
Reads leave out the votes the blind rule hides from the actor (`data_layer/queues/blind.py`): others'
votes on a run of an open blind queue the actor has yet to judge.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from data_layer import audit, auth, corrections, queues, rollups, rules
from data_layer import scores as score_rows
from data_layer.errors import Conflict, Forbidden, InvalidInput
from data_layer.notify import outbox
from data_layer.queues import blind
from data_layer.queues.rubric import Rubric, scores_object
from data_layer.rows import plain, plain_all
from data_layer.targets import check_target, lock_thread, thread_of_run, thread_visible

COLUMNS = """feedback_id, thread_id, run_id, owner_id, message_id, rating, comment, tags, source,
    created_at, updated_at"""

# A vote carries copies of its run's attributes for the stats (data_layer/rollups.py); runs never
# change here, so copying them at insert keeps them right.
_NEW_VOTE = """
INSERT INTO feedback (feedback_id, thread_id, run_id, owner_id, message_id, scope, rating, comment,
                      tags, source, created_at, updated_at,
                      run_at, run_assistant_id, run_model_name, run_status)
SELECT $feedback_id, $thread_id, $run_id, $owner_id, $message_id, $scope, $rating, $comment,
       CAST($tags AS TEXT[]), $source, $now, $now,
       r.created_at, r.assistant_id, r.model_name, r.status
FROM runs r WHERE r.run_id = $run_id
"""

_INSERT = f"""{_NEW_VOTE}
RETURNING {COLUMNS}
"""

_UPSERT = f"""{_NEW_VOTE}
ON CONFLICT (run_id, owner_id, scope) DO UPDATE SET
    rating = excluded.rating,
    comment = excluded.comment,
    tags = excluded.tags,
    source = excluded.source,
    updated_at = excluded.updated_at
RETURNING {COLUMNS}
"""

_UPDATE_VOTE = f"""
UPDATE feedback SET
    rating = $rating,
    comment = $comment,
    tags = CAST($tags AS TEXT[]),
    source = $source,
    updated_at = $now
WHERE feedback_id = $target_id
RETURNING {COLUMNS}
"""

_FIND_VOTE = f"""
WITH f AS MATERIALIZED (SELECT {COLUMNS}, scope FROM feedback WHERE run_id = $run_id)
SELECT {COLUMNS} FROM f WHERE owner_id = $owner_id AND scope = $scope
"""

_GET = f"SELECT {COLUMNS} FROM feedback WHERE feedback_id = $feedback_id"

_LIST_BY_RUN = f"""
WITH f AS MATERIALIZED (SELECT {COLUMNS} FROM feedback WHERE run_id = $run_id)
SELECT {COLUMNS} FROM f
WHERE thread_id = $thread_id
ORDER BY created_at, feedback_id
LIMIT $limit OFFSET $offset
"""

_COUNT_BY_RUN = """
WITH f AS MATERIALIZED (SELECT thread_id FROM feedback WHERE run_id = $run_id)
SELECT count(*) FROM f WHERE thread_id = $thread_id
"""

_LIST_BY_THREAD = f"""
SELECT {COLUMNS} FROM feedback
WHERE thread_id = $thread_id
ORDER BY created_at, feedback_id
LIMIT $limit OFFSET $offset
"""

_COUNT_BY_THREAD = "SELECT count(*) FROM feedback WHERE thread_id = $thread_id"

_LIST_BY_RUN_ID = f"""
SELECT {COLUMNS} FROM feedback
WHERE run_id = $run_id
ORDER BY created_at, feedback_id
LIMIT $limit OFFSET $offset
"""

_AGGREGATE = """
WITH f AS MATERIALIZED (SELECT thread_id, rating FROM feedback WHERE run_id = $run_id)
SELECT count(*) AS total,
       count(*) FILTER (WHERE rating = 1) AS positive,
       count(*) FILTER (WHERE rating = -1) AS negative
FROM f WHERE thread_id = $thread_id
"""

_DELETE = f"DELETE FROM feedback WHERE feedback_id = $feedback_id RETURNING {COLUMNS}"

# LIMIT takes a number on both engines; "no limit" is the largest one, not a second query text.
_NO_LIMIT = 2**62


def _now() -> datetime:
    return datetime.now(UTC)


def _page(limit, offset) -> dict:
    limit = _NO_LIMIT if limit is None else rules.integer(limit, "limit", high=_NO_LIMIT)
    return {"limit": limit, "offset": rules.integer(offset, "offset", high=_NO_LIMIT)}


def _remove(conn, row: dict, action: str, actor: auth.Actor) -> bool:
    """Remove the vote `row` under its thread's lock; the row as deleted, read under that lock, is what
    the tallies lose and the audit trail keeps. False when a concurrent writer removed it first."""
    lock_thread(conn, row["thread_id"])
    deleted = conn.one(_DELETE, {"feedback_id": row["feedback_id"]})
    if deleted is None:
        return False
    rollups.adjust(conn, deleted, None)
    old_scores = score_rows.remove(conn, deleted["feedback_id"])
    if old_scores:
        deleted = {**deleted, "scores": old_scores}
    old_correction = corrections.remove(conn, deleted["feedback_id"])
    if old_correction is not None:
        deleted = {**deleted, "correction": old_correction}
    outbox.vote_written(conn, deleted, None)
    audit.record(conn, action=action, actor=actor, old=deleted, new=None)
    return True


def _attach(conn, votes: list[dict]) -> list[dict]:
    """Votes as reads show them: with their rubric scores, when they have some, and their correction."""
    return corrections.attach(conn, score_rows.attach(conn, votes))


def acting(actor: auth.Actor, action: str, owner_id, source):
    """The owner and source a write stores: the actor's own, never someone else's, unless the actor
    may act in anyone's name (the system), which stores the ones it is given."""
    auth.authorize(actor, action)
    if auth.acts_for_anyone(actor, action):
        return owner_id, source
    if owner_id is not None and owner_id != actor.user_id:
        raise Forbidden(f"{actor.user_id} ({actor.role}) may not {action} in the name of {str(owner_id)[:100]}")
    return actor.user_id, actor.source


class FeedbackRepo:
    def __init__(self, engine):
        self._engine = engine

    def _vote(self, *, thread_id, run_id, rating, owner_id, message_id, comment, tags, source) -> dict:
        return {
            "feedback_id": str(uuid.uuid4()),
            "thread_id": rules.identifier(thread_id, "thread_id"),
            "run_id": rules.identifier(run_id, "run_id"),
            "rating": rules.rating(rating),
            "owner_id": rules.optional_identifier(owner_id, "owner_id"),
            "message_id": rules.optional_identifier(message_id, "message_id"),
            "scope": message_id or "",
            "comment": rules.comment(comment),
            "tags": rules.tags(tags),
            "source": rules.source(source),
            "now": _now(),
        }

    def create(
        self,
        *,
        thread_id,
        run_id,
        rating,
        owner_id=None,
        message_id=None,
        comment=None,
        tags=None,
        source="reviewer",
        scores=None,
        correction=None,
        actor: auth.Actor,
    ) -> dict:
        """A new vote; `Conflict` when this owner already rated this target (anonymous may repeat).
        `scores`: rubric scores (criterion name to value) for the run's queues' criteria; `correction`:
        the answer the agent should have given (`data_layer.corrections`)."""
        scores_object(scores)
        owner_id, source = acting(actor, "vote", owner_id, source)
        correction = corrections.checked(correction, actor)
        vote = self._vote(
            thread_id=thread_id,
            run_id=run_id,
            rating=rating,
            owner_id=owner_id,
            message_id=message_id,
            comment=comment,
            tags=tags,
            source=source,
        )

        def write(conn):
            lock_thread(conn, vote["thread_id"])
            check_target(conn, vote["thread_id"], vote["run_id"], vote["message_id"], actor=actor)
            if vote["owner_id"] is not None and conn.one(_FIND_VOTE, vote):
                target = f"message {vote['message_id']}" if vote["message_id"] else f"run {vote['run_id']}"
                raise Conflict(f"{vote['owner_id']} already rated {target}; update that vote instead")
            row = conn.one(_INSERT, vote)
            rollups.adjust(conn, None, row)
            queues.after_vote(conn, self._engine, row, vote["now"])
            _, row = score_rows.written(conn, None, row, scores, None, vote["now"])
            _, row = corrections.written(conn, None, row, correction, vote["now"])
            outbox.vote_written(conn, None, row, vote["now"])
            audit.record(conn, action="create", actor=actor, old=None, new=row, at=vote["now"])
            return row

        return plain(self._engine.write(write))

    def upsert(
        self,
        *,
        thread_id,
        run_id,
        rating,
        owner_id=None,
        message_id=None,
        comment=None,
        tags=None,
        source="reviewer",
        scores=None,
        rubric: Rubric | None = None,
        correction=None,
        actor: auth.Actor,
    ) -> dict:
        """The owner's vote on this target, created or replaced in place (id and created_at kept).
        `scores` replaces the vote's rubric scores (None keeps them): checked against `rubric`, with
        its required criteria, when a queue's submit gives one, else against the run's queues.
        `correction` replaces the vote's corrected answer, an empty one removes it, None keeps it."""
        scores_object(scores)
        owner_id, source = acting(actor, "vote", owner_id, source)
        correction = corrections.checked(correction, actor)
        if owner_id is None:
            raise InvalidInput("owner_id is required to update a vote")
        vote = self._vote(
            thread_id=thread_id,
            run_id=run_id,
            rating=rating,
            owner_id=owner_id,
            message_id=message_id,
            comment=comment,
            tags=tags,
            source=source,
        )

        def write(conn):
            lock_thread(conn, vote["thread_id"])
            check_target(conn, vote["thread_id"], vote["run_id"], vote["message_id"], actor=actor)
            # The vote as it was, for the authorization and the audit trail.
            found = conn.one(_FIND_VOTE, vote)
            auth.authorize(actor, "vote", found)
            if conn.writes_serialized:
                # DuckDB's ON CONFLICT scans for the composite key: about 30 ms at a million votes against
                # 3 ms for an indexed find and an update by id (docs/benchmarks.md). With writes serialized
                # in the process, find-then-write cannot race; PostgreSQL keeps the atomic upsert.
                if found:
                    row = conn.one(_UPDATE_VOTE, {**vote, "target_id": found["feedback_id"]})
                else:
                    row = conn.one(_INSERT, vote)
            else:
                row = conn.one(_UPSERT, vote)
            rollups.adjust(conn, found, row)
            queues.after_vote(conn, self._engine, row, vote["now"])
            found, row = score_rows.written(conn, found, row, scores, rubric, vote["now"])
            found, row = corrections.written(conn, found, row, correction, vote["now"])
            outbox.vote_written(conn, found, row, vote["now"])
            # A fresh id means a new row, even when a concurrent PostgreSQL writer raced the lookup above.
            action = "create" if row["feedback_id"] == vote["feedback_id"] else "update"
            audit.record(conn, action=action, actor=actor, old=found, new=row, at=vote["now"])
            return row

        return plain(self._engine.write(write))

    def _read_target(self, actor: auth.Actor, thread_id, run_id, fetch, proves_target=bool):
        """`fetch(conn)` once `actor` may read and the target exists within its reach.

        A vote found on the target proves the thread holds the run, as every stored vote was checked so
        when written: for an actor who may act on every thread, such a result skips the target check,
        whose statement costs about as much as the read itself."""
        auth.authorize(actor, "read")
        rules.identifier(thread_id, "thread_id")
        rules.optional_identifier(run_id, "run_id")
        with self._engine.read() as conn:
            found = fetch(conn)
            if not (auth.acts_on_every_thread(actor) and proves_target(found)):
                check_target(conn, thread_id, run_id, actor=actor)
            return found

    def _read_run(self, actor: auth.Actor, run_id, fetch):
        """`fetch(conn, thread_id)` for a run named by its id alone, as `_read_target` does."""
        auth.authorize(actor, "read")
        rules.identifier(run_id, "run_id")
        with self._engine.read() as conn:
            return fetch(conn, thread_of_run(conn, run_id, actor))

    def get(self, feedback_id, *, actor: auth.Actor) -> dict | None:
        auth.authorize(actor, "read")
        if not isinstance(feedback_id, str):
            return None
        with self._engine.read() as conn:
            found = plain(blind.visible(conn, conn.one(_GET, {"feedback_id": feedback_id}), actor))
            return _attach(conn, [found])[0] if found else None

    def find(self, *, run_id, owner_id, message_id=None, actor: auth.Actor) -> dict | None:
        """The owner's current vote on a run (or on one of its messages), if any."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            row = conn.one(_FIND_VOTE, {"run_id": run_id, "owner_id": owner_id, "scope": message_id or ""})
            found = plain(blind.visible(conn, row, actor))
            return _attach(conn, [found])[0] if found else None

    def list_by_run(self, thread_id, run_id, *, actor: auth.Actor, limit=None, offset=0) -> list[dict]:
        """A run's votes in creation order, all reviewers (upstream rule 5), but for those the blind rule
        hides from the actor (`queues/blind.py`), as in every read here."""
        params = {"thread_id": thread_id, "run_id": run_id}

        def fetch(conn):
            rows = blind.page(conn, thread_id, actor, _LIST_BY_RUN, params, _page(limit, offset))
            return _attach(conn, plain_all(rows))

        return self._read_target(actor, thread_id, run_id, fetch)

    def count_by_run(self, thread_id, run_id, *, actor: auth.Actor) -> int:
        params = {"thread_id": thread_id, "run_id": run_id}

        def fetch(conn):
            return blind.count(conn, thread_id, actor, _COUNT_BY_RUN, _LIST_BY_RUN, params)

        return self._read_target(actor, thread_id, run_id, fetch)

    def list_by_run_id(self, run_id, *, actor: auth.Actor, limit=None, offset=0) -> list[dict]:
        def fetch(conn, thread_id):
            rows = blind.page(conn, thread_id, actor, _LIST_BY_RUN_ID, {"run_id": run_id}, _page(limit, offset))
            return _attach(conn, plain_all(rows))

        return self._read_run(actor, run_id, fetch)

    def count_by_run_id(self, run_id, *, actor: auth.Actor) -> int:
        def fetch(conn, thread_id):
            params = {"thread_id": thread_id, "run_id": run_id}
            return blind.count(conn, thread_id, actor, _COUNT_BY_RUN, _LIST_BY_RUN, params)

        return self._read_run(actor, run_id, fetch)

    def list_by_thread(self, thread_id, *, actor: auth.Actor, limit=None, offset=0) -> list[dict]:
        params = {"thread_id": thread_id}

        def fetch(conn):
            rows = blind.page(conn, thread_id, actor, _LIST_BY_THREAD, params, _page(limit, offset))
            return _attach(conn, plain_all(rows))

        return self._read_target(actor, thread_id, None, fetch)

    def count_by_thread(self, thread_id, *, actor: auth.Actor) -> int:
        params = {"thread_id": thread_id}

        def fetch(conn):
            return blind.count(conn, thread_id, actor, _COUNT_BY_THREAD, _LIST_BY_THREAD, params)

        return self._read_target(actor, thread_id, None, fetch)

    def aggregate_by_run(self, thread_id, run_id, *, actor: auth.Actor) -> dict:
        """Upstream rule 6: `{run_id, total, positive, negative}`, zeros when there is none."""
        params = {"thread_id": thread_id, "run_id": run_id}

        def fetch(conn):
            return blind.run_tallies(conn, thread_id, run_id, actor, _AGGREGATE, _LIST_BY_RUN, params)

        row = self._read_target(actor, thread_id, run_id, fetch, lambda row: row["total"] > 0)
        return {"run_id": run_id, **{key: int(row[key]) for key in ("total", "positive", "negative")}}

    def delete(self, feedback_id, *, thread_id=None, run_id=None, actor: auth.Actor) -> bool:
        """Delete by id; False when it is missing or belongs to another thread or run (rule 7).

        A thread (and run) named is checked first, as a vote's target is (`NotFound`); then `Forbidden`
        unless `auth.authorize` lets the actor delete this vote (its own, or any for an admin); a vote
        the actor may not see (`auth.hides`) is answered as a missing one. The checks run in the same
        transaction as the delete.
        """
        auth.authorize(actor, "delete")
        rules.optional_identifier(thread_id, "thread_id")
        rules.optional_identifier(run_id, "run_id")
        if not isinstance(feedback_id, str):
            return False

        def write(conn):
            if thread_id is not None:
                check_target(conn, thread_id, run_id, actor=actor)
            row = conn.one(_GET, {"feedback_id": feedback_id})
            if row is None or auth.hides(actor, row):
                return False
            if thread_id is not None and row["thread_id"] != thread_id:
                return False
            if run_id is not None and row["run_id"] != run_id:
                return False
            if thread_id is None and not thread_visible(conn, row["thread_id"], actor):
                return False
            auth.authorize(actor, "delete", row)
            return _remove(conn, row, "delete", actor)

        return self._engine.write(write)

    def restore(self, feedback_id, *, actor: auth.Actor) -> dict:
        """A retracted or deleted vote back as it was, from the audit trail (`data_layer.undo`)."""
        from data_layer import undo  # it builds on this module

        return plain(self._engine.write(lambda conn: undo.restore(conn, feedback_id, actor)))

    def retract(self, *, thread_id, run_id, owner_id=None, message_id=None, actor: auth.Actor) -> bool:
        """Remove the owner's own vote on a target (rule 8); False when there is none, `NotFound` when
        the thread or run is missing or the actor may not act on the thread (`check_target`)."""
        owner_id, _ = acting(actor, "retract", owner_id, None)
        if owner_id is None:
            raise InvalidInput("owner_id is required to retract a vote")
        thread_id = rules.identifier(thread_id, "thread_id")
        run_id = rules.identifier(run_id, "run_id")
        message_id = rules.optional_identifier(message_id, "message_id")

        def write(conn):
            check_target(conn, thread_id, run_id, actor=actor)
            row = conn.one(_FIND_VOTE, {"run_id": run_id, "owner_id": owner_id, "scope": message_id or ""})
            if row is None:
                return False
            auth.authorize(actor, "retract", row)
            return _remove(conn, row, "retract", actor)

        return self._engine.write(write)
