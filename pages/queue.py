"""Review queue: one run at a time for the current reviewer, judged by keyboard.

The data layer hands out the next run under the chosen filter and claims it for a few minutes,
so two reviewers on the same queue get different runs. U votes thumbs up and D thumbs down (and move
on to the next run, unless "Advance after a vote" is off; Shift keeps the run), C writes a comment,
1-6 pick reasons, N moves on, S skips (the run comes back at the end), B goes back to the run just
voted on, ? lists the keys (`pages/_keys.py`). What the reviewer gives a run is saved with the vote or
as it changes after it, and marked while it is not (`pages/_review.py`). The filters are bound to the URL.
"""

from __future__ import annotations

import streamlit as st

from data_layer import errors, rules
from data_layer.filters import Filters
from data_layer.schema import REASON_TAGS, RUN_STATUSES
from pages import _conversation, _identity, _keys, _review, _rubric, _shared
from pages._text import plain, safe_markdown


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


BY_FILTER = "Any run, by filter"


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def open_queues(user_id: str, role: str) -> list[dict]:
    """The open queues this reviewer may work (every reviewer's, or those naming them)."""
    queues = _shared.store().queues.list(actor=_identity.actor())
    return [q for q in queues if not q["closed_at"] and (not q["assignees"] or user_id in q["assignees"])]


def next_run(store, me, queue: dict | None, filters: Filters) -> dict | None:
    """Claim the next run: the named queue's next item, or the next run under the filters."""
    if queue is None:
        return store.queue.next_run(filters, actor=me)
    item = store.queues.next_item(queue["name"], actor=me)
    return item and item["run"]


def current_run(store, me, queue: dict | None, filters: Filters) -> dict | None:
    # A run claimed under another reviewer name (the name was changed in the sidebar) is not this one's.
    if st.session_state.get("rq_reviewer") != me.user_id:
        st.session_state.pop(_review.CURRENT, None)
        st.session_state["rq_reviewer"] = me.user_id
    run_id = st.session_state.get(_review.CURRENT)
    run = store.runs.get(run_id) if run_id else None
    if run is None:
        run = next_run(store, me, queue, filters)
        if run is not None:
            st.session_state[_review.CURRENT] = run["run_id"]
    return run


def queue_header(queue: dict, progress: dict) -> None:
    """A named queue's instructions and how far it is."""
    how = f"{queue['reviewers_per_item']} reviewer{'s' if queue['reviewers_per_item'] > 1 else ''} per run"
    blind = " · **blind**: other votes stay hidden until you vote" if queue["blind"] else ""
    st.caption(f"{how}{blind} · {progress['done']:,} of {progress['items']:,} runs done")
    if queue["instructions"]:
        st.info(safe_markdown(queue["instructions"]), icon=":material/assignment:")


@st.dialog("Review queue keys")
def show_keys() -> None:
    st.markdown(_keys.cheat_sheet())
    st.caption("Keys work wherever the focus is, except while typing in a text field: Esc leaves it.")


def end_user_votes(votes: list[dict]) -> None:
    """The end users' own votes on this run: often why it is in the queue."""
    said = [vote for vote in votes if vote.get("source") == "end_user"]
    if not said:
        return
    with st.container(border=True, key="rq_end_users"):
        st.markdown("**End users' votes on this run**" if len(said) > 1 else "**End user's vote on this run**")
        for vote in said:
            where = "an answer" if vote.get("message_id") else "the run"
            st.markdown(
                f"{_shared.thumb(vote['rating'])} :gray-badge[end user] **{plain(vote['owner_id'] or 'anonymous')}** "
                f"on {where} · {_shared.when(vote['updated_at'])}"
                + (f" · {plain(', '.join(vote['tags']))}" if vote.get("tags") else "")
            )
            if vote.get("comment"):
                st.markdown(f"> {safe_markdown(vote['comment'])}".replace("\n", "\n> "))


def reason_label(tag: str) -> str:
    return f"{REASON_TAGS.index(tag) + 1} · {plain(tag)}"


def vote_panel(run: dict, mine: dict | None) -> None:
    """The reviewer's vote, comment and reasons on this run, what is saved, and the moves on."""
    run_id = run["run_id"]
    _review.start(run_id, mine)
    last = _review.last_line()
    if last:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.caption(last)
            st.button("Back (B)", key=f"rq_back|{run_id}", on_click=_review.back, type="tertiary")
    pending = _review.unsaved(run_id, mine)
    if mine:
        state = ":orange[comment or reasons **not saved**]" if pending else ":green[saved]"
        st.markdown(f"**Your vote:** {_shared.thumb(mine['rating'])} {state}")
    else:
        st.markdown("**Your vote:** not yet")
    with st.container(key="rq_comment"):
        st.text_area(
            "Comment (**C**)",
            key=_review.key(run_id, "comment"),
            height=90,
            max_chars=rules.MAX_COMMENT,
            on_change=_review.keep,
            args=(run,),
        )
    with st.container(key="rq_reasons"):
        st.pills(
            f"Reasons (**1**-**{len(REASON_TAGS)}**)",
            REASON_TAGS,
            selection_mode="multi",
            format_func=reason_label,
            key=_review.key(run_id, "tags"),
            on_change=_review.keep,
            args=(run,),
        )
    _rubric.inputs(run, _review.keep)
    held = st.session_state.get(_review.SCORES_FIRST)
    if held and held[0] == run_id:
        unset = _rubric.missing(run_id)
        if unset:
            what = "Your change is" if mine else "Your vote is"
            st.warning(
                f"{what} **not saved**: this queue's rubric requires {plain(', '.join(unset))}. Set "
                f"{'it' if len(unset) == 1 else 'them'}, then press **U** or **D** again; everything you gave stays.",
                icon=":material/rule:",
            )
        else:
            st.caption(":orange[The required criteria are set: press **U** or **D** again to save your vote.]")
    if pending and mine:
        st.button(
            "Save comment and reasons",
            key=f"rq_save|{run_id}",
            icon=":material/save:",
            on_click=_review.keep,
            args=(run,),
        )
    elif pending:
        given = "a comment, reasons and scores are" if _rubric.active() else "a comment and reasons are"
        st.caption(f":orange[**Not saved** yet: {given} saved with your vote (**U** or **D**).]")
    if st.session_state.get(_review.LEAVING) == run_id:
        st.warning(
            "Your comment or reasons are **not saved**: they are saved with a vote. Press **U** or **D** to "
            "save them with your vote, or **N** again to leave them unsaved.",
            icon=":material/edit_note:",
        )
    with st.container(horizontal=True):
        for label, name, rating in (("Good (U)", "rq_up", 1), ("Bad (D)", "rq_down", -1)):
            st.button(
                label,
                icon=_shared.thumb(rating),
                key=f"{name}|{run_id}",
                on_click=_review.vote,
                args=(run, rating),
                type="primary",
            )
    with st.container(horizontal=True):
        st.button("Skip (S)", key=f"rq_skip|{run_id}", on_click=_review.move_on, args=(run,), kwargs={"skip": True})
        st.button("Next (N)", key=f"rq_next|{run_id}", on_click=_review.move_on, args=(run,), kwargs={"skip": False})
    if st.session_state.get(_review.ADVANCE, True):
        with st.container(horizontal=True, gap="small"):
            for label, name, rating in (
                ("Good, stay (Shift+U)", "rq_up_stay", 1),
                ("Bad, stay (Shift+D)", "rq_down_stay", -1),
            ):
                st.button(
                    label,
                    key=f"{name}|{run_id}",
                    on_click=_review.vote,
                    args=(run, rating),
                    kwargs={"stay": True},
                    type="tertiary",
                    help="Vote and stay on this run, to write why",
                )
    with st.container(horizontal=True, vertical_alignment="center"):
        st.toggle("Advance after a vote", value=True, key=_review.ADVANCE)
        if st.button("Keys (?)", key="rq_keys", icon=":material/keyboard:", type="tertiary"):
            show_keys()


st.title("Review queue")
if not _identity.can("queue"):
    # The queue claims runs and records skips for its reviewer: nothing here is for a read-only role.
    st.info(
        "The review queue is for reviewers. Your role is viewer: browse threads, stats and exports instead.",
        icon=":material/visibility:",
    )
    st.stop()
with st.container(key=_keys.CONTAINER):
    _keys.listen()  # early on the page, so its frame stays put across reruns
me = _identity.actor()
queues = {q["name"]: q for q in open_queues(me.user_id, me.role)}
st.selectbox(
    "Queue",
    [BY_FILTER, *queues],
    key="rq_queue",
    bind="query-params",
    on_change=_review.filters_changed,
    width=320,
    help="A named queue hands out its own runs, each to as many reviewers as it asks; by filter, any run you "
    "have not voted on.",
)
queue = queues.get(st.session_state.get("rq_queue") or BY_FILTER)
_rubric.use(queue)
if queue is None:
    assistant_choices, model_choices = choices()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        common = {"index": None, "placeholder": "any", "bind": "query-params", "on_change": _review.filters_changed}
        st.selectbox("Assistant", assistant_choices, key="rq_assistant", width=190, **common)
        st.selectbox("Model", model_choices, key="rq_model", width=190, **common)
        st.selectbox("Run status", RUN_STATUSES, key="rq_status", width=150, **common)
        st.date_input(
            "Run started between",
            value=(),
            key="rq_dates",
            bind="query-params",
            on_change=_review.filters_changed,
            width=230,
        )
        st.checkbox(
            "Only runs with a thumbs-down from end users",
            key="rq_negative",
            bind="query-params",
            on_change=_review.filters_changed,
        )
        st.checkbox("Only follow-up runs", key="rq_followups", bind="query-params", on_change=_review.filters_changed)

store = _shared.store()
try:
    filters = queue_filters()
    if queue is None:
        reviewed, total = store.queue.progress(filters, actor=me)
        told = f"You have reviewed {reviewed:,} of {total:,} runs in this queue"
    else:
        progress = store.queues.progress(queue["name"], actor=me)
        queue_header(queue, progress)
        # Runs with all their votes are out of reach too: what is left is what the reviewer may still judge.
        total = progress["items"]
        reviewed = total - progress["left_for_me"]
        told = f"{progress['left_for_me']:,} of {total:,} runs left for you"
    run = current_run(store, me, queue, filters)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.progress(reviewed / total if total else 1.0, text=told)
if _review.ERROR in st.session_state:
    _shared.show_error(st.session_state[_review.ERROR])
if run is None:
    last = _review.last_line()
    if last:
        st.caption(last)
    if reviewed < total:
        # What is left is held by other reviewers right now: their claims lapse when they move on.
        st.info(
            f"The {total - reviewed:,} runs left for you are being reviewed by others right now.",
            icon=":material/hourglass_top:",
        )
        st.button("Check again", key="rq_again", icon=":material/refresh:")
    else:
        st.success(
            ("Nothing left for you to review here." if total else "No runs match this filter.")
            if queue is None
            else f"Nothing left for you in {plain(queue['name'])}.",
            icon=":material/task_alt:",
        )
    st.stop()

try:
    if not store.queue.claim(run["run_id"], actor=me):
        holder = store.queue.holder(run["run_id"], actor=me) or {}
        who = plain(holder.get("owner_id") or "Another reviewer")
        st.warning(f"{who} picked this run up meanwhile; press N to move on.")
except errors.DataLayerError as error:
    # the run is still drawn: a page that stopped here would drop what the reviewer is typing
    _shared.show_error(error)
try:
    votes = store.feedback.list_by_run(run["thread_id"], run["run_id"], actor=me)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

thread, messages = run_context(run["thread_id"], run["run_id"])
mine = next((vote for vote in votes if vote["owner_id"] == me.user_id and not vote.get("message_id")), None)
conversation_column, controls = st.columns([2, 1], gap="large")
with conversation_column:
    title = (thread or {}).get("title") or "(untitled thread)"
    st.markdown(f"**{plain(title)}**")
    _conversation.run_header(run)
    end_user_votes(votes)
    _conversation.conversation(run, messages, votes=False)
    if st.button("Open the whole thread", icon=":material/forum:", type="tertiary"):
        st.switch_page("pages/thread.py", query_params={"thread": run["thread_id"], "run": run["run_id"]})
with controls, st.container(border=True):
    vote_panel(run, mine)
