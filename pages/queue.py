"""Review queue: one run at a time for the current reviewer, judged by keyboard.

The data layer hands out the next run under the chosen filter and claims it for a few minutes,
so two reviewers on the same queue get different runs. U votes thumbs up, D thumbs down, S skips the run
(it comes back at the end), N moves on. The filters are bound to the URL.
"""

from __future__ import annotations

import streamlit as st

from data_layer import errors
from data_layer.filters import Filters
from data_layer.schema import REASON_TAGS, RUN_STATUSES
from pages import _conversation, _identity, _shared
from pages._text import code, plain

CURRENT = "rq_run"
ERROR = "rq_error"
TOAST = "rq_toast"


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def choices() -> tuple[list[str], list[str]]:
    store = _shared.store()
    return store.threads.assistants(), store.runs.models()


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def run_context(thread_id: str, run_id: str) -> tuple[dict | None, list[dict]]:
    store = _shared.store()
    return store.threads.get(thread_id), store.events.list_messages(thread_id, run_id)


def queue_filters() -> Filters:
    """The data layer's filters for what the widgets hold (runs started from the first day picked
    through the whole of the last)."""
    state = st.session_state
    dates = state.get("rq_dates") or ()
    return Filters(
        assistant_id=state.get("rq_assistant"),
        model_name=state.get("rq_model"),
        status=state.get("rq_status"),
        since=dates[0] if dates else None,
        until=dates[-1] if dates else None,
        negative_user_feedback=bool(state.get("rq_negative")),
        follow_ups_only=bool(state.get("rq_followups")),
    )


def _keys(run_id: str) -> tuple[str, str]:
    return f"rq_comment|{run_id}", f"rq_tags|{run_id}"


def vote(run: dict, rating: int) -> None:
    comment_key, tags_key = _keys(run["run_id"])
    try:
        _shared.store().feedback.upsert(
            thread_id=run["thread_id"],
            run_id=run["run_id"],
            rating=rating,
            comment=st.session_state.get(comment_key) or None,
            tags=list(st.session_state.get(tags_key) or []) if rating == -1 else [],
            actor=_identity.actor(),
        )
    except errors.DataLayerError as error:
        st.session_state[ERROR] = error
        return
    st.session_state.pop(ERROR, None)
    _shared.wrote()
    st.session_state[TOAST] = (
        f"Saved {_shared.thumb(rating)} on run {code(_shared.short(run['run_id']))}. Press N for the next run."
    )


def move_on(run: dict, *, skip: bool) -> None:
    """Leave this run: a skip (or "next" without a vote) puts it at the back of the queue."""
    store = _shared.store()
    try:
        me = _identity.actor()
        if skip or store.feedback.find(run_id=run["run_id"], owner_id=me.user_id, actor=me) is None:
            store.queue.skip(run["run_id"], actor=me)
        else:
            store.queue.release(run["run_id"], actor=me)
    except errors.DataLayerError as error:
        st.session_state[ERROR] = error
        return
    st.session_state.pop(ERROR, None)
    st.session_state.pop(CURRENT, None)
    _shared.wrote()


def filters_changed() -> None:
    run_id = st.session_state.pop(CURRENT, None)
    if run_id:
        try:
            _shared.store().queue.release(run_id, actor=_identity.actor())
        except errors.DataLayerError as error:
            st.session_state[ERROR] = error


def current_run(store, me, filters: Filters) -> dict | None:
    run_id = st.session_state.get(CURRENT)
    run = store.runs.get(run_id) if run_id else None
    if run is None:
        run = store.queue.next_run(filters, actor=me)
        if run is not None:
            st.session_state[CURRENT] = run["run_id"]
    return run


st.title("Review queue")
if not _identity.can("queue"):
    # The queue claims runs and records skips for its reviewer: nothing here is for a read-only role.
    st.info(
        "The review queue is for reviewers. Your role is viewer: browse threads, stats and exports instead.",
        icon=":material/visibility:",
    )
    st.stop()
assistant_choices, model_choices = choices()
with st.container(horizontal=True, vertical_alignment="bottom"):
    common = {"index": None, "placeholder": "any", "bind": "query-params", "on_change": filters_changed}
    st.selectbox("Assistant", assistant_choices, key="rq_assistant", width=190, **common)
    st.selectbox("Model", model_choices, key="rq_model", width=190, **common)
    st.selectbox("Run status", RUN_STATUSES, key="rq_status", width=150, **common)
    st.date_input(
        "Run started between", value=(), key="rq_dates", bind="query-params", on_change=filters_changed, width=230
    )
    st.checkbox(
        "Only runs with a thumbs-down from end users", key="rq_negative", bind="query-params", on_change=filters_changed
    )
    st.checkbox("Only follow-up runs", key="rq_followups", bind="query-params", on_change=filters_changed)

store = _shared.store()
try:
    filters = queue_filters()
    me = _identity.actor()
    reviewed, total = store.queue.progress(filters, actor=me)
    run = current_run(store, me, filters)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.progress(reviewed / total if total else 1.0, text=f"You have reviewed {reviewed:,} of {total:,} runs in this queue")
if TOAST in st.session_state:
    st.toast(st.session_state.pop(TOAST), icon=":material/check:")
if ERROR in st.session_state:
    _shared.show_error(st.session_state[ERROR])
if run is None:
    st.success(
        "Nothing left for you to review under this filter." if total else "No runs match this filter.",
        icon=":material/task_alt:",
    )
    st.stop()

try:
    if not store.queue.claim(run["run_id"], actor=me):
        holder = store.queue.holder(run["run_id"], actor=me) or {}
        who = plain(holder.get("owner_id") or "Another reviewer")
        st.warning(f"{who} picked this run up meanwhile; press N to move on.")
except errors.DataLayerError as error:
    _shared.show_error(error)

thread, messages = run_context(run["thread_id"], run["run_id"])
mine = store.feedback.find(run_id=run["run_id"], owner_id=me.user_id, actor=me)
conversation_column, controls = st.columns([3, 1], gap="large")
with conversation_column:
    title = (thread or {}).get("title") or "(untitled thread)"
    st.markdown(f"**{plain(title)}**")
    _conversation.run_header(run)
    _conversation.conversation(run, messages, votes=False)
    if st.button("Open the whole thread", icon=":material/forum:", type="tertiary"):
        st.switch_page("pages/thread.py", query_params={"thread": run["thread_id"], "run": run["run_id"]})
with controls, st.container(border=True):
    st.markdown(f"**Your vote:** {_shared.thumb(mine['rating']) if mine else 'not yet'}")
    comment_key, tags_key = _keys(run["run_id"])
    if comment_key not in st.session_state:
        st.session_state[comment_key] = (mine or {}).get("comment") or ""
    if tags_key not in st.session_state:
        st.session_state[tags_key] = list((mine or {}).get("tags") or [])
    st.text_area("Comment (optional)", key=comment_key, height=90)
    st.multiselect("Reasons for a thumbs-down", REASON_TAGS, key=tags_key)
    with st.container(horizontal=True):
        st.button(
            "Good", icon=":material/thumb_up:", key="rq_up", shortcut="U", on_click=vote, args=(run, 1), type="primary"
        )
        st.button(
            "Bad",
            icon=":material/thumb_down:",
            key="rq_down",
            shortcut="D",
            on_click=vote,
            args=(run, -1),
            type="primary",
        )
    with st.container(horizontal=True):
        st.button("Skip", key="rq_skip", shortcut="S", on_click=move_on, args=(run,), kwargs={"skip": True})
        st.button("Next", key="rq_next", shortcut="N", on_click=move_on, args=(run,), kwargs={"skip": False})
    st.caption("Keys: **U** thumbs up · **D** thumbs down · **S** skip (it comes back later) · **N** next")
