"""The dashboard's entry point: page navigation, and the REST API served beside it.

`streamlit run app.py` imports this file once as the module `app` (where it finds `st.App` and
mounts the API under /api) and runs it as `__main__` for every browser session (the pages).
"""

import streamlit as st

if __name__ == "__main__":
    from pages import _shared

    st.set_page_config(page_title="Agent feedback review", page_icon=":material/rate_review:", layout="wide")
    navigation = st.navigation(
        {
            "Review": [
                st.Page("pages/threads.py", title="Threads", icon=":material/forum:", url_path="threads", default=True),
                st.Page("pages/thread.py", title="Thread", icon=":material/chat:", url_path="thread"),
                st.Page("pages/queue.py", title="Review queue", icon=":material/checklist:", url_path="queue"),
            ],
            "Insights": [
                st.Page("pages/stats.py", title="Stats", icon=":material/monitoring:", url_path="stats"),
                st.Page("pages/export.py", title="Export", icon=":material/download:", url_path="export"),
            ],
        }
    )
    _shared.frame()
    navigation.run()
else:
    from starlette.routing import Mount

    from data_layer.api import create_api

    app = st.App("app.py", routes=[Mount("/api", app=create_api())])
