"""Audit trail (admins only): every create, update, retract and delete of a vote, oldest first.

Filters (who, action, vote, thread, run, dates) live in the URL; the table is paginated in SQL.
The data layer refuses the read to anyone without the `audit` action; this page says so before asking.
"""

from __future__ import annotations

import json
from datetime import datetime

import streamlit as st

from data_layer import audit, errors
from data_layer.filters import Filters
from pages import _identity, _shared

PAGE_SIZE = 50

st.title("Audit trail")
if not _identity.can("audit"):
    st.warning("Admins only: the audit trail shows who changed which vote. Ask an admin if you need it.")
    st.stop()

with st.container(horizontal=True, vertical_alignment="bottom"):
    st.text_input("Who (user id)", key="au_actor", bind="query-params", width=220)
    st.selectbox(
        "Action", audit.ACTIONS, index=None, placeholder="any", key="au_action", bind="query-params", width=150
    )
    st.text_input("Feedback id", key="au_feedback", bind="query-params", width=200)
    st.text_input("Thread id", key="au_thread", bind="query-params", width=200)
    st.text_input("Run id", key="au_run", bind="query-params", width=200)
    st.date_input("Between", value=(), key="au_dates", bind="query-params", width=230)

state = st.session_state
dates = state.get("au_dates") or ()
store = _shared.store()
me = _identity.reader()
try:
    filters = Filters(
        actor_id=(state.get("au_actor") or "").strip() or None,
        action=state.get("au_action"),
        feedback_id=(state.get("au_feedback") or "").strip() or None,
        thread_id=(state.get("au_thread") or "").strip() or None,
        run_id=(state.get("au_run") or "").strip() or None,
        since=dates[0] if dates else None,
        until=dates[-1] if dates else None,
    )
    total = store.audit.count(filters, actor=me)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

pages = max(1, -(-total // PAGE_SIZE))
if state.get("au_page", 1) > pages:
    # narrower filters leave fewer pages than the one shown
    state["au_page"] = pages
with st.container(horizontal=True, vertical_alignment="center"):
    page = st.number_input("Page", min_value=1, max_value=pages, step=1, key="au_page", width=120)
    st.caption(f"{total:,} changes · page {page} of {pages} · oldest first")

try:
    rows = store.audit.list(filters, actor=me, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()


def change(value: dict | None) -> str:
    if value is None:
        return "—"
    parts = [{1: "up", -1: "down"}.get(value.get("rating"), "?")]
    if value.get("tags"):
        parts.append(", ".join(value["tags"]))
    if value.get("comment"):
        parts.append(json.dumps(value["comment"], ensure_ascii=False)[:200])
    if value.get("correction"):
        parts.append("correction " + json.dumps(value["correction"], ensure_ascii=False)[:200])
    return " · ".join(parts)


if not rows:
    st.info("No changes match these filters.", icon=":material/history:")
else:
    st.dataframe(
        [
            {
                "when": datetime.fromisoformat(row["changed_at"]),
                "who": row["actor_id"],
                "role": row["actor_role"] or "(script)",
                "action": row["action"],
                "before": change(row["old_value"]),
                "after": change(row["new_value"]),
                "vote owner": (row["new_value"] or row["old_value"] or {}).get("owner_id"),
                "feedback": row["feedback_id"],
                "thread": row["thread_id"],
                "run": row["run_id"],
            }
            for row in rows
        ],
        hide_index=True,
        width="stretch",
        column_config={"when": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm:ss")},
    )
