"""Corrected answers: the answer the agent should have given, written by a reviewer beside a vote.

A correction belongs to its vote (`vote_corrections`, one row per vote, schema step 15): written in
the vote's own transaction, kept when the vote is written again without one, replaced when it is
given, removed when it is given empty or when the vote is removed, audited with the vote
(`audit.record`'s old and new values carry it) and put back by an undo (`data_layer.undo`). Reads
attach it to each vote as `correction`, the markdown text or None.
"""

from __future__ import annotations

from datetime import datetime

from data_layer.errors import Forbidden, InvalidInput

# Schema step 15. The vote's id is the key: a vote holds at most one correction, and a removed vote's
# row goes with it in the same transaction.
TABLES_SQL = """
CREATE TABLE IF NOT EXISTS vote_corrections (
    feedback_id TEXT PRIMARY KEY,
    correction  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
)
"""

MAX_LENGTH = 20_000
# The roles that may write a correction beside their own vote: the people who review. An end user's chat
# front end sends thumbs from the conversation, never a rewritten answer; a judge gives verdicts apart.
# Here, not in `auth`: `auth` imports the schema (through `rules`), which imports this module.
CORRECTING_ROLES = frozenset({"admin", "lead", "reviewer", "system"})

_OF_VOTES = """
SELECT feedback_id, correction FROM vote_corrections
WHERE feedback_id IN (SELECT unnest(CAST($ids AS TEXT[])))
"""

_OF_VOTE = "SELECT correction FROM vote_corrections WHERE feedback_id = $feedback_id"

_UPDATE = """
UPDATE vote_corrections SET correction = $correction, updated_at = $now
WHERE feedback_id = $feedback_id
"""

_INSERT = """
INSERT INTO vote_corrections (feedback_id, correction, created_at, updated_at)
VALUES ($feedback_id, $correction, $now, $now)
"""

_DELETE = "DELETE FROM vote_corrections WHERE feedback_id = $feedback_id"


def checked(correction, actor) -> str | None:
    """A correction as given: None keeps the vote's own, an empty (or blank) text removes it, else the
    text, at most `MAX_LENGTH` characters. `Forbidden` when the actor (an `auth.Actor`) has a role that may
    write none (`CORRECTING_ROLES`)."""
    if correction is None:
        return None
    if actor.role not in CORRECTING_ROLES:
        raise Forbidden(f"{actor.user_id} ({actor.role}) may not write a correction; reviewers and admins may")
    if not isinstance(correction, str):
        raise InvalidInput(f"correction must be text, got {type(correction).__name__}")
    if len(correction) > MAX_LENGTH:
        raise InvalidInput(f"correction is {len(correction)} characters long; at most {MAX_LENGTH} are allowed")
    if "\x00" in correction:
        raise InvalidInput("correction may not contain NUL characters")
    return correction if correction.strip() else ""


def for_votes(conn, feedback_ids) -> dict[str, str]:
    """The corrections of the votes `feedback_ids` that have one, by vote id (one read for all)."""
    ids = list(feedback_ids)
    if not ids:
        return {}
    return {row["feedback_id"]: row["correction"] for row in conn.all(_OF_VOTES, {"ids": ids})}


def of_vote(conn, feedback_id: str) -> str | None:
    return conn.scalar(_OF_VOTE, {"feedback_id": feedback_id})


def attach(conn, votes: list[dict]) -> list[dict]:
    """`votes` with `correction` set on each: its text, or None when it has none."""
    found = for_votes(conn, [vote["feedback_id"] for vote in votes])
    for vote in votes:
        vote["correction"] = found.get(vote["feedback_id"])
    return votes


def store(conn, feedback_id: str, correction: str, now: datetime) -> None:
    """Set the vote's correction to `correction` (removed when empty); the vote's thread is locked by the
    caller, so nothing writes the same vote's row between the read and the write."""
    if not correction:
        conn.execute(_DELETE, {"feedback_id": feedback_id})
    elif of_vote(conn, feedback_id) is None:
        conn.execute(_INSERT, {"feedback_id": feedback_id, "correction": correction, "now": now})
    else:
        conn.execute(_UPDATE, {"feedback_id": feedback_id, "correction": correction, "now": now})


def written(conn, found: dict | None, row: dict, given: str | None, now: datetime) -> tuple[dict | None, dict]:
    """Write the correction of a vote just written in `conn` (`row`, which was `found` before); `given`
    None (as `checked` gives it) keeps the stored one. Returns the vote before and after with
    `correction` where they have one, for the audit trail, the event and the answer."""
    old = of_vote(conn, found["feedback_id"]) if found else None
    if given is not None:
        store(conn, row["feedback_id"], given, now)
        new = given or None
    else:
        new = old if found and found["feedback_id"] == row["feedback_id"] else None
    before = {**found, "correction": old} if found and old else found
    return before, {**row, "correction": new}


def remove(conn, feedback_id: str) -> str | None:
    """Delete a removed vote's correction; returns what it was."""
    old = of_vote(conn, feedback_id)
    if old is not None:
        conn.execute(_DELETE, {"feedback_id": feedback_id})
    return old
