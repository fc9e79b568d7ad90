"""Thread view (?thread=ID, optionally &run=ID): the conversation run by run, with vote controls.

Runs are drawn in order, each with its status, model, tokens, duration, error and follow-up link,
then its messages as chat turns. Trace and lifecycle events sit behind a toggle.
"""

from __future__ import annotations

import streamlit as st

from data_layer import errors
from data_layer.runs import follow_up_chain
from pages import _conversation, _identity, _shared, _votes
from pages._text import code, plain, quoted


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load(thread_id: str) -> tuple[dict | None, list[dict], list[dict]]:
    store = _shared.store()
    thread = store.threads.get(thread_id)
    if thread is None:
        return None, [], []
    return thread, store.runs.list_by_thread(thread_id), store.events.list_messages(thread_id)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def tallies(thread_id: str, who) -> dict:
    """The thread's thumbs as `who` may see them, and the runs a blind queue hides others' votes on."""
    return _shared.store().queues.thread_tallies(thread_id, actor=who)


def queue_names(names: list[str]) -> str:
    return ", ".join(f"**{plain(name)}**" for name in names)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def trace_events(thread_id: str) -> list[dict]:
    return _shared.store().events.list(thread_id)


def chains(runs: list[dict]) -> list[list[str]]:
    """Every follow-up chain in the thread that has more than one run."""
    found, seen = [], set()
    for run in runs:
        if run["run_id"] in seen:
            continue
        chain = follow_up_chain(runs, run["run_id"])
        seen.update(chain)
        if len(chain) > 1:
            found.append(chain)
    return found


thread_id = st.query_params.get("thread")
selected_run = st.query_params.get("run")
if st.button("All threads", icon=":material/arrow_back:", type="tertiary"):
    st.switch_page("pages/threads.py")
if not thread_id:
    st.title("Thread")
    st.info("Pick a thread on the Threads page, or open a link with `?thread=ID`.")
    st.stop()

try:
    thread, runs, messages = load(thread_id)
    shown = tallies(thread_id, _identity.reader()) if thread else {}
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()
if thread is None:
    st.title("Thread")
    st.warning(f"Thread {quoted(thread_id)} was not found. It may have been deleted or the link is wrong.")
    st.stop()

st.subheader(plain(thread.get("title") or thread.get("display_name") or "(untitled thread)"))
st.caption(
    f"thread {code(thread['thread_id'])} · assistant {code(thread.get('assistant_id') or '—')} · "
    f"{thread['run_count']} runs · last activity {_shared.when(thread.get('last_activity_at'))} · "
    f"{shown['positive']} {_shared.thumb(1)} · {shown['negative']} {_shared.thumb(-1)}"
)
blind = shown["blind"]
if blind:
    names = sorted({name for queues in blind.values() for name in queues})
    many = len(blind) > 1
    st.info(
        f"Blind queue {queue_names(names)}: other votes on {len(blind) if many else 'one'} run{'s' if many else ''} "
        f"of this thread are hidden until you vote on {'each' if many else 'it'} as a whole. The counts above "
        "leave them out.",
        icon=":material/visibility_off:",
    )

by_id = {run["run_id"]: run for run in runs}
if selected_run and selected_run not in by_id:
    st.warning(f"Run {quoted(selected_run)} is not part of this thread; showing the whole thread.")
    selected_run = None
shown_chains = [follow_up_chain(runs, selected_run)] if selected_run else chains(runs)
for chain in shown_chains:
    if len(chain) > 1:
        links = " → ".join(
            f"**{code(_shared.short(run_id))}**" if run_id == selected_run else code(_shared.short(run_id))
            for run_id in chain
        )
        st.markdown(f":material/link: Follow-up chain: {links}")

_votes.style()
if not _identity.can("vote"):
    st.caption(":material/visibility: You are a viewer: you see every vote but cannot vote.")
show_trace = st.toggle("Show system and trace events", key="thread_show_trace")
events = trace_events(thread_id) if show_trace else []

if not runs:
    st.info("This thread has no runs yet.")
for number, run in enumerate(runs, start=1):
    with st.container(border=True, key=f"run-{run['run_id']}"):
        _conversation.run_header(run, selected=run["run_id"] == selected_run)
        if run["run_id"] in blind:
            st.caption(
                f":material/visibility_off: Other votes on this run are hidden until you vote on it as a whole "
                f"(blind queue {queue_names(blind[run['run_id']])})."
            )
        run_messages = [message for message in messages if message["run_id"] == run["run_id"]]
        _conversation.conversation(run, run_messages, show_system=show_trace)
        if show_trace:
            with st.expander(f"Trace and lifecycle events of run {number}", icon=":material/timeline:"):
                _conversation.trace([event for event in events if event["run_id"] == run["run_id"]])
        st.markdown(f"**Vote on run {number} as a whole**")
        _votes.feedback_panel(run["thread_id"], run["run_id"], answer=run.get("last_ai_message"))
