"""The dashboard's entry point: page navigation, and the REST API served beside it.

`streamlit run app.py` imports this file once as the module `app` (where it finds `st.App`, mounts
the API under /api and puts the gate of `data_layer.gate` in front of everything) and runs it as
`__main__` for every browser session (the pages).
"""

import streamlit as st

# The default page's own path. Streamlit serves the default page at the root only and answers its
# `url_path` with "Page not found", so the server sends that path to the root (its query kept).
HOME = "threads"

if __name__ == "__main__":
    from pages import _identity, _shared

    st.set_page_config(page_title="Agent feedback review", page_icon="📝", layout="wide")
    sections = {
        "Review": [
            st.Page("pages/threads.py", title="Threads", icon=":material/forum:", url_path=HOME, default=True),
            st.Page("pages/thread.py", title="Thread", icon=":material/chat:", url_path="thread"),
            st.Page("pages/queue.py", title="Review queue", icon=":material/checklist:", url_path="queue"),
            st.Page("pages/queues.py", title="Queues", icon=":material/stacks:", url_path="queues"),
        ],
        "Insights": [
            st.Page("pages/stats.py", title="Stats", icon=":material/monitoring:", url_path="stats"),
            st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
            st.Page("pages/agreement.py", title="Agreement", icon=":material/handshake:", url_path="agreement"),
            st.Page("pages/judges.py", title="Judges", icon=":material/gavel:", url_path="judges"),
            st.Page("pages/themes.py", title="Themes", icon=":material/sentiment_dissatisfied:", url_path="themes"),
            st.Page("pages/export.py", title="Export", icon=":material/download:", url_path="export"),
            st.Page("pages/datasets.py", title="Datasets", icon=":material/dataset:", url_path="datasets"),
        ],
    }
    if _identity.can("audit"):
        sections["Admin"] = [
            st.Page("pages/audit.py", title="Audit trail", icon=":material/history:", url_path="audit"),
        ]
    if _identity.can("manage_notifications"):
        sections.setdefault("Admin", []).append(
            st.Page(
                "pages/notifications.py",
                title="Notifications",
                icon=":material/notifications:",
                url_path="notifications",
            )
        )
    navigation = st.navigation(sections)
    _shared.frame()
    navigation.run()
else:
    from starlette.middleware import Middleware
    from starlette.responses import RedirectResponse
    from starlette.routing import Mount, Route
    from streamlit.runtime.pages_manager import PagesManager

    # A pages/ folder makes Streamlit guess folder-based navigation until some session has called
    # st.navigation, so a deep link (/thread?thread=...) opened first after a start would run the
    # page without this script. This module is imported once at server start, before any session.
    PagesManager.uses_pages_directory = False

    import threading
    from contextlib import asynccontextmanager

    import data_layer
    from data_layer import access, gate
    from data_layer.api import create_api
    from pages import _identity, _shared

    # A deployment that requires sign-in (FEEDBACK_REQUIRE_SIGNIN=1) does not start without it.
    problem = access.startup_problem(_identity.mode())
    if problem:
        raise SystemExit(f"error: {problem}")

    def home(request):
        """`/threads` as the root, where Streamlit serves the default page; relative, so a base path is kept."""
        query = request.url.query
        return RedirectResponse("." + (f"?{query}" if query else ""), status_code=307)

    @asynccontextmanager
    async def started(_app):
        """Open the store as the server starts, beside it: its notification sender then delivers what an
        earlier process left undelivered before anyone visits (an error is the pages' to show)."""
        threading.Thread(target=data_layer.open_shared_quietly, name="feedback-open", daemon=True).start()
        yield

    app = st.App(
        "app.py",
        lifespan=started,
        routes=[Mount("/api", app=create_api()), Route(f"/{HOME}", home)],
        middleware=[Middleware(gate.Gate, mode=_identity.mode)],
    )
