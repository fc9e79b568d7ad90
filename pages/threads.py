"""Threads: one page of threads at a time, filtered, sorted and counted in SQL.

Every filter is bound to the URL (`bind="query-params"`), so a link reproduces the view.
End users' and reviewers' votes are counted apart, each with its own filter. Titles and ids wrap
rather than being cut. Selecting a row opens the thread.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from data_layer import errors
from data_layer.filters import Filters
from data_layer.schema import RUN_STATUSES
from pages import _identity, _shared
from pages._text import plain

PAGE_SIZE = 25
# The label is what the URL holds (`?sort=most+runs`), so it stays short and stable.
SORTS = {
    "latest activity": "updated_at desc",
    "oldest activity": "updated_at asc",
    "newest": "created_at desc",
    "oldest": "created_at asc",
    "most thumbs-down": "negative desc",
    "most thumbs-down from end users": "end_user_negative desc",
    "most thumbs-down from reviewers": "reviewer_negative desc",
    "most thumbs-up": "positive desc",
    "most runs": "runs desc",
    "title": "title asc",
}


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def assistants() -> list[str]:
    return _shared.store().threads.assistants()


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def page_of_threads(filters: Filters, order: str, offset: int) -> tuple[int, list[dict]]:
    store = _shared.store()
    total = store.threads.count(filters)
    rows = store.threads.list(filters, order=order, limit=PAGE_SIZE, offset=offset) if total else []
    return total, rows


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def blind_threads(thread_ids: tuple[str, ...], who) -> dict[str, list[str]]:
    """The threads of the page whose tallies count votes a blind queue hides from `who`, with the queues."""
    return _shared.store().queues.blind_threads(list(thread_ids), actor=who)


def filters_from_widgets() -> Filters:
    """The data layer's filters for what the widgets hold (the last activity from the first day picked
    through the whole of the last)."""
    state = st.session_state
    dates = state.get("dates") or ()
    return Filters(
        search=(state.get("q") or "").strip() or None,
        assistant_id=state.get("assistant"),
        status=state.get("status"),
        since=dates[0] if dates else None,
        until=dates[-1] if dates else None,
        has_negative=bool(state.get("negative")),
        negative_user_feedback=bool(state.get("user_negative")),
        negative_reviewer_feedback=bool(state.get("reviewer_negative")),
        not_reviewed_by=_identity.reviewer() if state.get("unreviewed") else None,
    )


def requested_page() -> int:
    """The page asked for: the widget's value, or the URL's before the widget has been drawn."""
    value = st.session_state.get("page") or st.query_params.get("page") or 1
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def back_to_first_page() -> None:
    st.session_state["page"] = 1


# Column widths in pixels, all in view in a 1,400-pixel window; a wider table shares the rest among them.
WIDTHS = {
    "Title": 240,
    "Assistant": 110,
    "Runs": 50,
    "Last activity": 115,
    "End users up / down": 135,
    "Reviewers up / down": 135,
    "Thread": 115,  # a 36-character id in three lines
}
TITLE_LINE = 32  # characters of a title on one line of its column at its narrowest
MAX_LINES = math.ceil(300 / TITLE_LINE)  # a title is at most 300 characters (data_layer/rollups.py)


HIDDEN = "hidden until you vote"


def votes(up: int, down: int) -> str:
    return f"{up} / {down}"


def table(rows: list[dict], blind: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """The page's rows as the table draws them; the tallies of a thread in `blind` (it holds a run whose
    other votes a blind queue hides from the reader) are not shown."""
    blind = blind or {}

    def tally(row: dict, source: str) -> str:
        if row["thread_id"] in blind:
            return HIDDEN
        return votes(row[f"{source}_positive"], row[f"{source}_negative"])

    return pd.DataFrame(
        {
            "Title": [row["title"] or row["display_name"] or "(untitled)" for row in rows],
            "Assistant": [row["assistant_id"] for row in rows],
            "Runs": [row["run_count"] for row in rows],
            "Last activity": pd.to_datetime([row["last_activity_at"] for row in rows], utc=True, format="ISO8601"),
            "End users up / down": [tally(row, "end_user") for row in rows],
            "Reviewers up / down": [tally(row, "reviewer") for row in rows],
            "Thread": [row["thread_id"] for row in rows],
        }
    )


def lines_of(title: str) -> int:
    """The lines a title takes in its column: each of its own lines, wrapped."""
    return sum(max(1, math.ceil(len(line) / TITLE_LINE)) for line in title.splitlines() or [""])


def row_height(titles: list[str]) -> int:
    """Pixels per row: tall enough for the page's longest title, wrapped, and for the id in three lines.
    Streamlit wraps a cell's text only in rows taller than 64 pixels."""
    lines = min(MAX_LINES, max(3, *(lines_of(title) for title in titles)))
    return max(65, 12 + 18 * lines)


st.title("Threads")
with st.container(horizontal=True, vertical_alignment="bottom"):
    st.text_input(
        "Search titles and messages",
        key="q",
        bind="query-params",
        placeholder="a word from the conversation",
        help=(
            "Case does not matter. Titles match as typed; messages match the words in order, whatever "
            'spaces or punctuation stand between them (`outdated pricing` finds "outdated, pricing"). '
            "The first word may end a longer word and the last may begin one."
        ),
        on_change=back_to_first_page,
        width=320,
    )
    st.selectbox(
        "Assistant",
        assistants(),
        index=None,
        placeholder="any",
        key="assistant",
        bind="query-params",
        on_change=back_to_first_page,
        width=200,
    )
    st.selectbox(
        "Run status",
        RUN_STATUSES,
        index=None,
        placeholder="any",
        key="status",
        bind="query-params",
        on_change=back_to_first_page,
        width=160,
    )
    st.date_input(
        "Last activity between",
        value=(),
        key="dates",
        bind="query-params",
        on_change=back_to_first_page,
        width=240,
    )
    st.selectbox(
        "Sort",
        list(SORTS),
        key="sort",
        bind="query-params",
        on_change=back_to_first_page,
        width=230,
    )
with st.container(horizontal=True):
    st.checkbox("Has negative feedback", key="negative", bind="query-params", on_change=back_to_first_page)
    st.checkbox(
        "Thumbs-down from end users",
        key="user_negative",
        bind="query-params",
        on_change=back_to_first_page,
        help="Threads where an end user gave a thumbs-down (from the chat front end or an import).",
    )
    st.checkbox(
        "Thumbs-down from reviewers",
        key="reviewer_negative",
        bind="query-params",
        on_change=back_to_first_page,
        help="Threads where a reviewer gave a thumbs-down.",
    )
    st.checkbox(
        f"Not yet reviewed by me ({plain(_identity.reviewer())})",
        key="unreviewed",
        bind="query-params",
        on_change=back_to_first_page,
    )

order = SORTS.get(st.session_state.get("sort"), "updated_at desc")
page_number = requested_page()
try:
    filters = filters_from_widgets()
    total, rows = page_of_threads(filters, order, (page_number - 1) * PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page_number > pages:
        st.session_state["page"] = page_number = 1
        total, rows = page_of_threads(filters, order, 0)
    blind = blind_threads(tuple(row["thread_id"] for row in rows), _identity.reader())
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

if not total:
    filtered = bool(filters.as_dict())
    st.info(
        "No thread matches these filters."
        if filtered
        else "No threads yet: import some with `python -m data_layer import`."
    )
    st.stop()

first = (page_number - 1) * PAGE_SIZE + 1
st.caption(f"Threads {first:,}–{first + len(rows) - 1:,} of {total:,}. Select a row to open the thread.")
if blind:
    names = ", ".join(f"**{plain(name)}**" for name in sorted({name for queues in blind.values() for name in queues}))
    st.caption(
        f":material/visibility_off: Tallies marked *{HIDDEN}* count votes on runs of blind queue {names} that you "
        "have yet to judge: open the thread to vote. Sorting and filtering by votes still count every vote."
    )
shown = table(rows, blind)
height = row_height(list(shown["Title"]))
selection = st.dataframe(
    shown,
    key="threads_table",
    on_select="rerun",
    selection_mode="single-row",
    hide_index=True,
    width="stretch",
    row_height=height,
    height=36 + height * len(rows),  # the whole page of rows, no scrolling inside the table
    column_config={
        "Title": st.column_config.TextColumn(
            width=WIDTHS["Title"], help="The thread's name, or its first question, wrapped."
        ),
        "Assistant": st.column_config.TextColumn(width=WIDTHS["Assistant"]),
        "Last activity": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", width=WIDTHS["Last activity"]),
        "Runs": st.column_config.NumberColumn(width=WIDTHS["Runs"]),
        "End users up / down": st.column_config.TextColumn(
            width=WIDTHS["End users up / down"],
            alignment="right",
            help="End users' thumbs-up / thumbs-down, from the chat front end or an import.",
        ),
        "Reviewers up / down": st.column_config.TextColumn(
            width=WIDTHS["Reviewers up / down"],
            alignment="right",
            help="Reviewers' thumbs-up / thumbs-down.",
        ),
        "Thread": st.column_config.TextColumn(width=WIDTHS["Thread"], help="The thread's id."),
    },
)
st.pagination(pages, key="page", bind="query-params")

picked = selection.selection.rows if selection else []
if picked:
    st.switch_page("pages/thread.py", query_params={"thread": rows[picked[0]]["thread_id"]})
