"""What every page shares: the store, cache invalidation, the one mapping from data-layer errors to
what a reviewer sees, the frame drawn around every page (store status and who is signed in), and the
short formats of ids, times and votes.

Who is signed in and what they may do is `pages/_identity.py`; a run's conversation is
`pages/_conversation.py`; the vote controls are `pages/_votes.py`; text from outside is drawn through
`pages/_text.py`. Pages only draw; anything they read or write goes through `data_layer`.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

import data_layer
from data_layer import auth, demo, errors, rules
from pages._identity import DEFAULT_REVIEWER, actor, mode, refusal, reviewer
from pages._text import plain, safe_markdown

READ_TTL = 5  # seconds: other sessions' votes show within this; the writer's own clear at once


def store() -> data_layer.Store:
    """The process's shared store; stops the page with a clear message when it cannot open."""
    try:
        return data_layer.shared_store()
    except errors.StoreUnavailable as error:
        st.error(f"The database cannot be opened: {error}", icon=":material/database:")
        st.stop()


def wrote() -> None:
    """Call after every write: cached reads are dropped so the writer sees the change at once."""
    st.cache_data.clear()


def show_error(error: errors.DataLayerError) -> None:
    """One mapping from data-layer errors to what a reviewer sees."""
    message = plain(error)  # messages quote the values they refuse
    if isinstance(error, errors.InvalidInput):
        st.error(f"Not saved: {message}", icon=":material/error:")
    elif isinstance(error, errors.NotFound):
        st.warning(f"Not found: {message}", icon=":material/search_off:")
    elif isinstance(error, errors.Forbidden):
        st.error(f"Not allowed: {message}", icon=":material/block:")
    elif isinstance(error, errors.Unavailable):
        st.error(
            "Not saved: the database cannot store anything right now; what you entered is kept here, "
            f"try again in a moment. ({message})",
            icon=":material/database:",
        )
    elif isinstance(error, errors.Conflict):
        st.warning(
            f"Someone else changed this at the same moment; try again. ({message})", icon=":material/sync_problem:"
        )
    else:
        st.error(message, icon=":material/error:")


def frame() -> None:
    """Drawn on every page before the page itself: store status and the reviewer's identity."""
    how = mode()
    refused = refusal(how)
    if refused:
        st.error(refused, icon=":material/lock:")
        st.stop()
    current = store()
    if demo.first_notice(current):
        st.toast("The database was empty, so demo data was loaded (set FEEDBACK_DEMO=0 to turn this off).")
    if how != "local":
        _signed_in_gate(how)
    with st.sidebar:
        if how == "local":
            st.session_state.setdefault("reviewer", DEFAULT_REVIEWER)
            st.text_input(
                "Reviewer name",
                key="reviewer",
                help="Local mode: one machine, no sign-in. Your votes are stored under this name.",
            )
            try:
                rules.identifier(reviewer(), "reviewer name")
            except errors.InvalidInput as error:
                st.error(f"{plain(error)}. Votes cannot be saved under this name.", icon=":material/badge:")
            st.caption(f"Local mode, not signed in (you are the admin) · {current.url}")
        else:
            me = actor()
            via = "through the proxy" if how == "proxy" else "with single sign-on"
            st.markdown(f":material/account_circle: **{safe_markdown(me.user_id)}**", width="stretch")
            st.caption(f"Signed in {via} · role **{me.role}** · {current.url}")
            if how == "oidc":
                st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")
        if current.seeded_demo is not None:
            st.caption("Demo data loaded into an empty database.")


def _signed_in_gate(how: str) -> None:
    """Stop the page unless the user is known: a sign-in button (OIDC), or a clear error (proxy)."""
    try:
        me = actor()
    except errors.InvalidInput as error:
        st.error(f"Your identity cannot be used here: {plain(error)}", icon=":material/badge:")
        if how == "oidc":
            st.button("Sign out", icon=":material/logout:", on_click=st.logout)
        st.stop()
    if me is not None:
        return
    if how == "proxy":
        st.error(
            f"No user in the {auth.trusted_header()} header: this dashboard expects to be reached through "
            "its authenticating proxy.",
            icon=":material/lock:",
        )
        st.stop()
    st.title("Sign in")
    st.write("This dashboard records who gives each vote. Sign in with your organisation's account to continue.")
    st.button("Sign in", icon=":material/login:", type="primary", on_click=st.login, key="sign_in")
    st.stop()


def short(identifier: str | None) -> str:
    return (identifier or "")[:8]


def when(iso: str | None) -> str:
    """An ISO timestamp from the data layer as a short UTC time for people."""
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def thumb(rating: int | None) -> str:
    return {1: ":material/thumb_up:", -1: ":material/thumb_down:"}.get(rating, "—")
