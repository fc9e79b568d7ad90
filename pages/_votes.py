"""The vote panel under a run or an ai message: the reviewer's thumbs, comment, reasons and corrected
answer (`pages/_correction.py`), retracting their vote (with undo), everyone else's votes, and an admin's
delete (after a confirmation).

Nothing typed is dropped: the thumbs, the comment, the reasons and the correction each save the whole vote
as soon as they change (a text when it leaves its box), and whatever differs from the stored vote is marked
"Not saved" beside a Save button. Widget keys are `fb|{reviewer}|{run}|{message}|{name}`, so each
reviewer keeps their own unsaved input. The panel is drawn in the page's own run, not a fragment: a
vote's callback runs before the page, so the thread's counts above it are current in the same rerun.
"""

from __future__ import annotations

import re
import time

import streamlit as st

from data_layer import errors, rules
from data_layer.schema import REASON_TAGS
from pages import _correction, _rubric
from pages._identity import actor, can, reader, reviewer
from pages._shared import READ_TTL, show_error, store, thumb, when, wrote
from pages._text import plain, safe_markdown

UNDO_SECONDS = 20  # how long a retracted vote offers its undo
_WORDS = {1: "good", -1: "bad"}
_DELETING = "fb_delete_pending"  # the vote an admin asked to delete, until confirmed or cancelled


# The chosen thumb is white on a filled green (up) or red (down) square, beyond Streamlit's darker outline; the
# "Your vote: ..." badge beside it says the same in words, and the button itself has aria-checked.
_STYLE = """<style>
[data-testid="stFeedbackButtonActive"] { color: #fff; border-radius: 0.5rem; }
[data-testid="stFeedbackButtonActive"] [data-testid="stIconMaterial"] { font-variation-settings: 'FILL' 1; }
[data-testid="stFeedbackButtonActive"][aria-label="Thumbs up"] { background: #1b7f3b; }
[data-testid="stFeedbackButtonActive"][aria-label="Thumbs down"] { background: #c22f2f; }
</style>"""


def style() -> None:
    """Once per page that draws vote panels: the look of the chosen thumb."""
    st.html(_STYLE)


def _keys(run_id: str, message_id: str | None) -> dict[str, str]:
    base = f"fb|{reviewer()}|{run_id}|{message_id or ''}"
    return {name: f"{base}|{name}" for name in ("thumb", "comment", "tags", "correction", "error", "toast", "undo")}


def panel_key(run_id: str, message_id: str | None) -> str:
    """The CSS-safe key of a vote panel's container (`.st-key-...` in the page)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"fb-{run_id}-{message_id or 'run'}")


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def thread_votes(thread_id: str, who) -> list[dict]:
    """Every vote of the thread `who` may see: one read for all of the page's panels."""
    return store().feedback.list_by_thread(thread_id, actor=who)


def _rating(value) -> int | None:
    return None if value is None else (1 if value == 1 else -1)


def _unsaved(state, keys: dict, mine: dict | None) -> bool:
    """Whether the panel shows something the stored vote does not hold."""
    rating = _rating(state.get(keys["thumb"]))
    typed = state.get(keys["comment"]) or ""
    comment = typed if typed.strip() else None
    tags = list(state.get(keys["tags"]) or [])
    typed = state.get(keys["correction"]) or ""
    correction = typed if typed.strip() else None
    if mine is None:
        return rating is not None or bool(comment) or bool(tags) or bool(correction)
    return (
        rating != mine["rating"]
        or comment != (mine.get("comment") or None)
        or (rating == -1 and tags != list(mine.get("tags") or []))
        or correction != (mine.get("correction") or None)
    )


def _save(keys: dict, thread_id: str, run_id: str, message_id: str | None, *, retract: bool = False) -> None:
    """Write the reviewer's vote from the widgets' state, or retract it (offering undo); errors are kept
    for the panel to show, and nothing the reviewer typed is cleared by a failed write."""
    state = st.session_state
    value = None if retract else state.get(keys["thumb"])
    target = "message" if message_id else "run"
    try:
        me = actor()
        if value is None:
            owner = getattr(me, "user_id", None)  # nobody signed in: the data layer refuses below
            found = store().feedback.find(run_id=run_id, owner_id=owner, message_id=message_id, actor=me)
            removed = store().feedback.retract(thread_id=thread_id, run_id=run_id, message_id=message_id, actor=me)
            for name, empty in (("thumb", None), ("comment", ""), ("tags", []), ("correction", "")):
                state[keys[name]] = empty
            if removed and found:
                state[keys["undo"]] = {"feedback_id": found["feedback_id"], "at": time.monotonic()}
            state[keys["toast"]] = f"Your vote on this {target} was retracted." if removed else "You had no vote here."
        else:
            rating = _rating(value)
            store().feedback.upsert(
                thread_id=thread_id,
                run_id=run_id,
                message_id=message_id,
                rating=rating,
                comment=state.get(keys["comment"]) or None,
                tags=list(state.get(keys["tags"]) or []) if rating == -1 else [],
                # an emptied box removes the stored correction; a panel that drew no box keeps it
                correction=state.get(keys["correction"]) if _correction.may_correct(me) else None,
                actor=me,
            )
            state.pop(keys["undo"], None)
            state[keys["toast"]] = f"Saved {thumb(rating)} on this {target}."
        state.pop(keys["error"], None)
        wrote()
    except errors.DataLayerError as error:
        state[keys["error"]] = error


def _save_details(keys: dict, thread_id: str, run_id: str, message_id: str | None) -> None:
    """A comment or reason changed: saved with the vote, or kept and marked until a thumb is chosen."""
    state = st.session_state
    if state.get(keys["thumb"]) is not None:
        _save(keys, thread_id, run_id, message_id)
        if keys["error"] not in state:
            target = "message" if message_id else "run"
            state[keys["toast"]] = f"Saved what you wrote with your vote on this {target}."


def _undo(keys: dict) -> None:
    """Put the retracted vote back as it was: same id, rating, comment, reasons and times."""
    state = st.session_state
    offer = state.pop(keys["undo"], None)
    if not offer:
        return
    try:
        vote = store().feedback.restore(offer["feedback_id"], actor=actor())
    except errors.DataLayerError as error:
        state[keys["error"]] = error
        return
    state[keys["thumb"]] = 1 if vote["rating"] == 1 else 0
    state[keys["comment"]] = vote.get("comment") or ""
    state[keys["tags"]] = list(vote.get("tags") or [])
    state[keys["correction"]] = vote.get("correction") or ""
    state[keys["toast"]] = f"Your vote {thumb(vote['rating'])} is back."
    state.pop(keys["error"], None)
    wrote()


def _ask_delete(vote: dict) -> None:
    st.session_state[_DELETING] = vote


@st.dialog("Delete this vote?", on_dismiss=lambda: st.session_state.pop(_DELETING, None))
def _confirm_delete(keys: dict, vote: dict) -> None:
    """An admin's delete of someone else's vote, confirmed first: it is their work, not the admin's."""
    tags = f" · {plain(', '.join(vote['tags']))}" if vote.get("tags") else ""
    st.markdown(
        f"{thumb(vote['rating'])} by **{plain(vote['owner_id'] or 'anonymous')}** · {when(vote['updated_at'])}{tags}"
    )
    if vote.get("comment"):
        st.markdown(f"> {safe_markdown(vote['comment'])}".replace("\n", "\n> "))
    st.caption("It leaves every count and statistic; its history stays in the audit trail.")
    with st.container(horizontal=True):
        delete = st.button("Delete vote", type="primary", icon=":material/delete:", key="fb_delete_confirm")
        cancel = st.button("Cancel", key="fb_delete_cancel")
    if delete:
        st.session_state.pop(_DELETING, None)
        try:
            store().feedback.delete(
                vote["feedback_id"], thread_id=vote["thread_id"], run_id=vote["run_id"], actor=actor()
            )
            st.session_state[keys["toast"]] = f"Deleted the vote of {plain(vote['owner_id'] or 'anonymous')}."
            wrote()
        except errors.DataLayerError as error:
            st.session_state[keys["error"]] = error
        st.rerun()
    if cancel:
        st.session_state.pop(_DELETING, None)
        st.rerun()


def feedback_panel(thread_id: str, run_id: str, message_id: str | None = None, *, answer: str | None = None) -> None:
    """Thumbs, comment, reasons and correction for one run (or one ai message of it), the reviewer's own
    vote and everyone else's; `answer` is the agent's answer judged, which corrections are diffed against."""
    with st.container(key=panel_key(run_id, message_id)):
        _panel(thread_id, run_id, message_id, answer)


def _panel(thread_id: str, run_id: str, message_id: str | None, answer: str | None) -> None:
    me = reviewer()
    keys = _keys(run_id, message_id)
    try:
        votes = [
            vote
            for vote in thread_votes(thread_id, reader())
            if vote["run_id"] == run_id and (vote.get("message_id") or None) == (message_id or None)
        ]
    except errors.DataLayerError as error:
        show_error(error)
        return
    mine = next((vote for vote in votes if vote["owner_id"] == me), None)
    others = [vote for vote in votes if vote["owner_id"] != me]
    state = st.session_state
    if keys["toast"] in state:
        st.toast(state.pop(keys["toast"]), icon=":material/check:")
    if keys["thumb"] not in state:
        state[keys["thumb"]] = None if mine is None else (1 if mine["rating"] == 1 else 0)
    if keys["comment"] not in state:
        state[keys["comment"]] = (mine or {}).get("comment") or ""
    if keys["tags"] not in state:
        state[keys["tags"]] = list((mine or {}).get("tags") or [])
    if keys["correction"] not in state:
        state[keys["correction"]] = (mine or {}).get("correction") or ""
    args = (keys, thread_id, run_id, message_id)
    target = "message" if message_id else "run"
    voter = can("vote")
    chosen = _rating(state.get(keys["thumb"]))
    unsaved = voter and _unsaved(state, keys, mine)
    with st.container(horizontal=True, vertical_alignment="center", key=f"vote-{run_id}-{message_id or 'run'}"):
        st.caption(f"Vote on this {target}:" if voter else "Viewers cannot vote.")
        st.feedback("thumbs", key=keys["thumb"], on_change=_save, args=args, disabled=not voter)
        if chosen is not None:
            colour = "green" if chosen == 1 else "red"
            st.markdown(f":{colour}-badge[{thumb(chosen)} Your vote: {_WORDS[chosen]}]")
        elif voter:
            st.caption("not voted yet")
        if unsaved:
            st.markdown(":orange-badge[:material/edit_off: Not saved]")
        elif mine:
            st.caption(f"saved {when(mine['updated_at'])}")
        if others:
            up = sum(vote["rating"] == 1 for vote in others)
            st.caption(f"others: {up} {thumb(1)} · {len(others) - up} {thumb(-1)}")
    if keys["error"] in state:
        show_error(state[keys["error"]])
    offer = state.get(keys["undo"])
    if offer and chosen is None and time.monotonic() - offer["at"] < UNDO_SECONDS:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.caption(f"Your vote on this {target} was retracted.")
            st.button("Undo", icon=":material/undo:", key=f"{keys['undo']}|button", on_click=_undo, args=(keys,))
    if voter and (chosen is not None or unsaved):
        _details(keys, args, chosen, mine, unsaved, answer)
    if others:
        # keyed, so it stays open while its count changes (an admin deleting one vote after another)
        with st.expander(f"Other votes ({len(others)})", key=f"{keys['thumb']}|others"):
            for vote in others:
                _other_vote(keys, vote, answer)
    pending = state.get(_DELETING)
    if pending and pending["run_id"] == run_id and (pending.get("message_id") or None) == (message_id or None):
        _confirm_delete(keys, pending)


def _details(keys: dict, args: tuple, chosen: int | None, mine: dict | None, unsaved: bool, answer) -> None:
    """The comment, reasons and correction beside a vote, each saved as it changes; Save when anything is
    not."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_area(
            "Comment (optional)",
            key=keys["comment"],
            max_chars=rules.MAX_COMMENT,
            height=80,
            on_change=_save_details,
            args=args,
            width="stretch",
        )
        st.multiselect(
            "Reasons (with a thumbs-down)",
            REASON_TAGS,
            key=keys["tags"],
            on_change=_save_details,
            args=args,
            disabled=chosen == 1,
            help="Reasons say what went wrong: they are kept with a thumbs-down.",
            width="stretch",
        )
    if _correction.may_correct(actor()):
        _correction.field(keys["correction"], _save_details, args)
        typed = st.session_state.get(keys["correction"]) or ""
        if typed.strip():
            _correction.show(answer, typed)
    with st.container(horizontal=True, vertical_alignment="center"):
        if unsaved and chosen is None:
            st.caption(":orange[Not saved: choose thumbs up or down to save what you wrote.]")
        elif unsaved:
            st.button(
                "Save", type="primary", icon=":material/save:", key=f"{keys['comment']}|save", on_click=_save, args=args
            )
        st.button(
            "Retract my vote",
            key=f"{keys['thumb']}|retract",
            on_click=_save,
            args=args,
            kwargs={"retract": True},
            disabled=mine is None,
            type="tertiary",
            icon=":material/undo:",
            help=f"Removes your vote and its comment; Undo brings them back for {UNDO_SECONDS} s.",
        )


def _other_vote(keys: dict, vote: dict, answer: str | None) -> None:
    tags = f" · {plain(', '.join(vote['tags']))}" if vote.get("tags") else ""
    source = " (end user)" if vote.get("source") == "end_user" else ""
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(
            f"{thumb(vote['rating'])} **{plain(vote['owner_id'] or 'anonymous')}**{source} · "
            f"{when(vote['updated_at'])}{tags}"
        )
        if can("delete", vote):
            st.button(
                "Delete",
                icon=":material/delete:",
                type="tertiary",
                key=f"{keys['thumb']}|delete|{vote['feedback_id']}",
                on_click=_ask_delete,
                args=(vote,),
                help="Admins may delete anyone's vote, after a confirmation; its history stays in the audit trail.",
            )
    if vote.get("comment"):
        st.markdown(f"> {safe_markdown(vote['comment'])}".replace("\n", "\n> "))
    if vote.get("scores"):
        st.caption(f"Rubric: {_rubric.scores_line(vote['scores'])}")
    if vote.get("correction"):
        _correction.show(answer, vote["correction"], whose=f"Correction of {plain(vote['owner_id'] or 'anonymous')}")
