"""The vote panel under a run or an ai message: the reviewer's thumbs, comment and reasons, retracting
their vote, everyone else's votes, and an admin's delete. Widget keys are
`fb|{reviewer}|{run}|{message}|{thumb,comment,tags,error,toast}`, so each reviewer keeps their own
unsaved input; the panel is a fragment, so a vote reruns only the panel.
"""

from __future__ import annotations

import re

import streamlit as st

from data_layer import errors, rules
from data_layer.schema import REASON_TAGS
from pages._identity import actor, can, reader, reviewer
from pages._shared import show_error, store, thumb, when, wrote
from pages._text import plain, safe_markdown


def _keys(run_id: str, message_id: str | None) -> dict[str, str]:
    base = f"fb|{reviewer()}|{run_id}|{message_id or ''}"
    return {name: f"{base}|{name}" for name in ("thumb", "comment", "tags", "error", "toast")}


def panel_key(run_id: str, message_id: str | None) -> str:
    """The CSS-safe key of a vote panel's container (`.st-key-...` in the page)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"fb-{run_id}-{message_id or 'run'}")


def _save(keys: dict, thread_id: str, run_id: str, message_id: str | None, *, retract: bool = False) -> None:
    """Write the reviewer's vote from the widgets' state; errors are kept for the panel to show,
    and nothing the reviewer typed is cleared."""
    state = st.session_state
    value = None if retract else state.get(keys["thumb"])
    target = "message" if message_id else "run"
    try:
        me = actor()
        if value is None:
            removed = store().feedback.retract(thread_id=thread_id, run_id=run_id, message_id=message_id, actor=me)
            if retract:
                state[keys["thumb"]] = None
            state[keys["toast"]] = f"Your vote on this {target} was retracted." if removed else "You had no vote here."
        else:
            rating = 1 if value == 1 else -1
            store().feedback.upsert(
                thread_id=thread_id,
                run_id=run_id,
                message_id=message_id,
                rating=rating,
                comment=state.get(keys["comment"]) or None,
                tags=list(state.get(keys["tags"]) or []) if rating == -1 else [],
                actor=me,
            )
            state[keys["toast"]] = f"Saved {thumb(rating)} on this {target}."
        state.pop(keys["error"], None)
        wrote()
    except errors.DataLayerError as error:
        state[keys["error"]] = error


def _delete(keys: dict, vote: dict) -> None:
    """An admin removes someone else's vote (its history stays in the audit trail)."""
    try:
        store().feedback.delete(vote["feedback_id"], thread_id=vote["thread_id"], run_id=vote["run_id"], actor=actor())
        st.session_state[keys["toast"]] = f"Deleted the vote of {plain(vote['owner_id'] or 'anonymous')}."
        st.session_state.pop(keys["error"], None)
        wrote()
    except errors.DataLayerError as error:
        st.session_state[keys["error"]] = error


def _save_comment(keys: dict, thread_id: str, run_id: str, message_id: str | None) -> None:
    if st.session_state.get(keys["thumb"]) is None:
        st.session_state[keys["error"]] = errors.InvalidInput(
            "choose thumbs up or down first: a comment belongs to a vote"
        )
        return
    _save(keys, thread_id, run_id, message_id)


def feedback_panel(thread_id: str, run_id: str, message_id: str | None = None) -> None:
    """Thumbs, comment and reasons for one run (or one ai message of it), the reviewer's own vote
    and everyone else's. A fragment: voting reruns only this panel."""
    with st.container(key=panel_key(run_id, message_id)):
        _panel(thread_id, run_id, message_id)


@st.fragment
def _panel(thread_id: str, run_id: str, message_id: str | None) -> None:
    me = reviewer()
    keys = _keys(run_id, message_id)
    try:
        votes = [
            vote
            for vote in store().feedback.list_by_run(thread_id, run_id, actor=reader())
            if (vote.get("message_id") or None) == (message_id or None)
        ]
    except errors.DataLayerError as error:
        show_error(error)
        return
    mine = next((vote for vote in votes if vote["owner_id"] == me), None)
    others = [vote for vote in votes if vote["owner_id"] != me]
    state = st.session_state
    if keys["toast"] in state:
        # toasts from the callback itself would be drawn outside the fragment
        st.toast(state.pop(keys["toast"]), icon=":material/check:")
    if keys["thumb"] not in state:
        state[keys["thumb"]] = None if mine is None else (1 if mine["rating"] == 1 else 0)
    if keys["comment"] not in state:
        state[keys["comment"]] = (mine or {}).get("comment") or ""
    if keys["tags"] not in state:
        state[keys["tags"]] = list((mine or {}).get("tags") or [])
    args = (keys, thread_id, run_id, message_id)
    target = "message" if message_id else "run"
    voter = can("vote")
    with st.container(horizontal=True, vertical_alignment="center", key=f"vote-{run_id}-{message_id or 'run'}"):
        st.caption(f"Your vote on this {target}:" if voter else "Viewers cannot vote.")
        st.feedback("thumbs", key=keys["thumb"], on_change=_save, args=args, disabled=not voter)
        if mine:
            tags = f" · {plain(', '.join(mine['tags']))}" if mine.get("tags") else ""
            st.caption(f"saved {thumb(mine['rating'])} {when(mine['updated_at'])}{tags}")
        elif voter:
            st.caption("not voted yet")
        if others:
            up = sum(vote["rating"] == 1 for vote in others)
            st.caption(f"others: {up} {thumb(1)} · {len(others) - up} {thumb(-1)}")
    if keys["error"] in state:
        show_error(state[keys["error"]])
    title = f"Comment, reasons and other votes ({len(others)})" if voter else f"Votes ({len(others)})"
    with st.expander(title, expanded=keys["error"] in state):
        if voter:
            st.text_area("Comment (optional)", key=keys["comment"], max_chars=rules.MAX_COMMENT, height=80)
            if state.get(keys["thumb"]) == 0:
                st.multiselect("Reasons for the thumbs-down", REASON_TAGS, key=keys["tags"])
            with st.container(horizontal=True):
                st.button("Save comment", key=f"{keys['comment']}|save", on_click=_save_comment, args=args)
                st.button(
                    "Retract my vote",
                    key=f"{keys['thumb']}|retract",
                    on_click=_save,
                    args=args,
                    kwargs={"retract": True},
                    disabled=mine is None,
                )
        for vote in others:
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
                        on_click=_delete,
                        args=(keys, vote),
                        help="Admins may delete anyone's vote; its history stays in the audit trail.",
                    )
            if vote.get("comment"):
                st.markdown(f"> {safe_markdown(vote['comment'])}".replace("\n", "\n> "))
