"""What every page shares: the store, the reviewer's identity, cache invalidation, error display.

Pages only draw; anything they read or write goes through `data_layer`.
"""

from __future__ import annotations

import streamlit as st

import data_layer
from data_layer import errors

READ_TTL = 5  # seconds: other sessions' votes show within this; the writer's own clear at once


def store() -> data_layer.Store:
    """The process's shared store; stops the page with a clear message when it cannot open."""
    try:
        return data_layer.shared_store()
    except errors.StoreUnavailable as error:
        st.error(f"The database cannot be opened: {error}", icon=":material/database:")
        st.stop()


def reviewer() -> str:
    """The current reviewer's id (local mode: the name chosen in the sidebar, kept for the session)."""
    return st.session_state.get("reviewer") or "local-reviewer"


def wrote() -> None:
    """Call after every write: cached reads are dropped so the writer sees the change at once."""
    st.cache_data.clear()


def show_error(error: errors.DataLayerError) -> None:
    """One mapping from data-layer errors to what a reviewer sees."""
    if isinstance(error, errors.InvalidInput):
        st.error(f"Not saved: {error}", icon=":material/error:")
    elif isinstance(error, errors.NotFound):
        st.warning(f"Not found: {error}", icon=":material/search_off:")
    elif isinstance(error, errors.Forbidden):
        st.error(f"Not allowed: {error}", icon=":material/block:")
    elif isinstance(error, errors.Conflict):
        st.warning(
            f"Someone else changed this at the same moment; try again. ({error})", icon=":material/sync_problem:"
        )
    else:
        st.error(str(error), icon=":material/error:")


def frame() -> None:
    """Drawn on every page before the page itself: store status and the reviewer's identity."""
    current = store()
    if current.seeded_demo is not None and not st.session_state.get("_demo_noted"):
        st.session_state["_demo_noted"] = True
        st.toast("The database was empty, so demo data was loaded (set FEEDBACK_DEMO=0 to turn this off).")
    with st.sidebar:
        st.session_state.setdefault("reviewer", "local-reviewer")
        st.text_input(
            "Reviewer name",
            key="reviewer",
            help="Local mode: one machine, no sign-in. Your votes are stored under this name.",
        )
        st.caption(f"Local mode, not signed in · {current.url}")
        if current.seeded_demo is not None:
            st.caption("Demo data loaded into an empty database.")
