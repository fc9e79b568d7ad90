"""What a reviewer gives a run in the review queue (the vote, its comment and reasons) and the moves
between runs: the callbacks of the queue's buttons and fields, and what is not saved yet.

The comment and reasons live in the session under keys of the reviewer and the run until the store
holds them. Given with the vote, they are saved with it; given after it, they are saved as they change
and again on moving on, so leaving a run never drops them. Whatever the store does not hold yet is
`unsaved`, which the page marks with one button to save it.

In a queue with a rubric (`pages/_rubric.py`) the criteria's scores are held and saved the same way, the
vote going through the queue's submit; a vote is not saved while a required criterion is unset, and the
card says which (`SCORES_FIRST`), keeping everything the reviewer gave.
"""

from __future__ import annotations

import streamlit as st

from data_layer import errors
from pages import _identity, _rubric, _shared
from pages._text import code

CURRENT = "rq_run"  # the run the queue shows
ERROR = "rq_error"  # the last write's error, shown until a write succeeds
LAST = "rq_last"  # the run voted on just before moving on: the B key goes back to it
LEAVING = "rq_leaving"  # the run whose unsaved comment the reviewer was warned about on leaving
ADVANCE = "rq_advance"  # whether a vote moves on to the next run
SCORES_FIRST = "rq_scores_first"  # (run, required criteria unset) of a vote held back until they are set


def key(run_id: str, field: str) -> str:
    """The session key of one field (`comment`, `tags`) the reviewer gives one run."""
    return f"rq|{_identity.reviewer()}|{run_id}|{field}"


def draft(run_id: str) -> tuple[str | None, list[str]]:
    """The comment (None when blank) and reasons the reviewer has given this run on the page."""
    comment = st.session_state.get(key(run_id, "comment")) or ""
    return (comment if comment.strip() else None), list(st.session_state.get(key(run_id, "tags")) or [])


def start(run_id: str, mine: dict | None) -> None:
    """The run's fields as the store holds them, unless the reviewer has already given some."""
    st.session_state.setdefault(key(run_id, "comment"), (mine or {}).get("comment") or "")
    st.session_state.setdefault(key(run_id, "tags"), list((mine or {}).get("tags") or []))
    _rubric.start(run_id, mine)


def unsaved(run_id: str, mine: dict | None) -> bool:
    """Whether the comment, reasons or scores on the page differ from what the store holds for this run."""
    comment, tags = draft(run_id)
    saved = mine or {}
    return (
        comment != (saved.get("comment") or None)
        or sorted(tags) != sorted(saved.get("tags") or [])
        or _rubric.differs(run_id, mine)
    )


def _mine(run: dict) -> dict | None:
    me = _identity.actor()
    return _shared.store().feedback.find(run_id=run["run_id"], owner_id=me.user_id, actor=me)


def _save(run: dict, rating: int) -> bool:
    """Store the vote with the comment, reasons and scores on the page; False (the error kept) when
    refused, and without a write while a required criterion of the queue's rubric is unset."""
    comment, tags = draft(run["run_id"])
    rubric = _rubric.active()
    try:
        if rubric is None:
            _shared.store().feedback.upsert(
                thread_id=run["thread_id"],
                run_id=run["run_id"],
                rating=rating,
                comment=comment,
                tags=tags,
                actor=_identity.actor(),
            )
        else:
            unset = _rubric.missing(run["run_id"])
            if unset:
                st.session_state[SCORES_FIRST] = (run["run_id"], unset)
                return False
            _shared.store().queues.submit(
                rubric[0],
                run["run_id"],
                rating=rating,
                comment=comment,
                tags=tags,
                scores=_rubric.draft(run["run_id"]),
                actor=_identity.actor(),
            )
    except errors.DataLayerError as error:
        st.session_state[ERROR] = error
        return False
    st.session_state.pop(ERROR, None)
    st.session_state.pop(SCORES_FIRST, None)
    _shared.wrote()
    return True


def _leave(run: dict, *, skip: bool) -> bool:
    """Release the run (a skip puts it at the back of the queue); False (the error kept) when refused."""
    store = _shared.store()
    try:
        if skip:
            store.queue.skip(run["run_id"], actor=_identity.actor())
        else:
            store.queue.release(run["run_id"], actor=_identity.actor())
    except errors.DataLayerError as error:
        st.session_state[ERROR] = error
        return False
    st.session_state.pop(CURRENT, None)
    st.session_state.pop(LEAVING, None)
    _shared.wrote()
    return True


def vote(run: dict, rating: int, *, stay: bool = False) -> None:
    """U or D: the vote with what the page holds, then the next run when advancing is on."""
    if not _save(run, rating):
        return
    if stay or not st.session_state.get(ADVANCE, True):
        return
    if _leave(run, skip=False):
        st.session_state[LAST] = {"run_id": run["run_id"], "thread_id": run["thread_id"], "rating": rating}


def keep(run: dict) -> None:
    """A comment or reason changed: saved at once when the run has the reviewer's vote (a comment
    belongs to a vote, so before one it waits for U or D)."""
    try:
        mine = _mine(run)
    except errors.DataLayerError as error:
        st.session_state[ERROR] = error
        return
    if mine is not None and unsaved(run["run_id"], mine):
        _save(run, mine["rating"])


def move_on(run: dict, *, skip: bool) -> None:
    """N or S. What was given after the vote is saved first; a run left without a vote goes to the back
    of the queue. A comment or reasons without a vote are not dropped unasked: the first press warns
    (the page says so), the second leaves them."""
    try:
        mine = _mine(run)
    except errors.DataLayerError as error:
        st.session_state[ERROR] = error
        return
    if mine is None:
        comment, tags = draft(run["run_id"])
        given = comment or tags or _rubric.draft(run["run_id"])
        if given and st.session_state.get(LEAVING) != run["run_id"]:
            st.session_state[LEAVING] = run["run_id"]
            return
    elif unsaved(run["run_id"], mine) and not _save(run, mine["rating"]):
        return
    _leave(run, skip=skip or mine is None)


def back() -> None:
    """B: show the run voted on just before, to add a comment or change the vote."""
    last = st.session_state.pop(LAST, None)
    if last:
        st.session_state[CURRENT] = last["run_id"]
        st.session_state.pop(LEAVING, None)


def filters_changed() -> None:
    """A filter changed: the run shown may no longer match, so the queue hands out another."""
    run_id = st.session_state.pop(CURRENT, None)
    if run_id:
        try:
            _shared.store().queue.release(run_id, actor=_identity.actor())
        except errors.DataLayerError as error:
            st.session_state[ERROR] = error


def last_line() -> str | None:
    """The line about the run voted on before this one, if any."""
    last = st.session_state.get(LAST)
    if not last or last["run_id"] == st.session_state.get(CURRENT):
        return None
    return f"Saved {_shared.thumb(last['rating'])} on run {code(_shared.short(last['run_id']))}"
