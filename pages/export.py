"""Export: feedback with its run and thread context as CSV, Parquet or JSONL, for analysts.

The filters are the insight pages' one filter bar (kept in the URL and carried from page to page),
plus the rating; the columns are chosen here. The source "Judges' verdicts" lists LLM judges' verdicts
instead of people's votes, with the judge and its rationale as columns of their own. A row is any
vote, on a whole run or on one message; the page says how many of them are the whole-run votes the
other insight pages count.
The file is generated only when the download button is clicked, by Streamlit in a worker thread
(a callable `data`), written to a temporary file batch by batch, so neither this session's script
nor any other session waits for it.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import streamlit as st

from data_layer import errors, export, insights
from data_layer.filters import JUDGE_SOURCE, Filters
from data_layer.schema import FEEDBACK_SOURCES
from pages import _filters, _identity, _shared
from pages._text import quoted

FORMAT_LABELS = {"csv": "CSV", "parquet": "Parquet", "jsonl": "JSON Lines"}
FORMAT_HELP = {
    "csv": "For spreadsheets: UTF-8 with a byte order mark, tags joined with `;`, and any text starting with "
    "`=`, `+`, `-`, `@`, a tab or a carriage return prefixed with `'` so it cannot run as a formula. Times as "
    "`YYYY-MM-DD HH:MM:SS` in UTC, to the second, in columns named `…_utc` (`created_at_utc`).",
    "parquet": "For pandas, DuckDB, Spark: exact text, tags as lists, times as UTC timestamps to the microsecond.",
    "jsonl": "One JSON object per line: exact text, tags as lists, times as ISO 8601 to the microsecond.",
}
RATING_LABELS = {"": "Both", "positive": "Thumbs-up", "negative": "Thumbs-down"}
JUDGES_TEXT = (
    "A row is an LLM judge's verdict on a whole run or on one message, with the judge (`judge`, also in `reviewer`) "
    "and its `rationale`; people's votes are not among them. The Judges page says how far each judge agrees with "
    "people."
)
PREVIEW_ROWS = 20


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_count(_store, url: str, reader, filters: Filters) -> int:
    return export.count(_store, filters, actor=reader)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_whole_run(_store, url: str, filters: Filters) -> dict:
    return insights.slice_counts(_store, filters)


def whole_run_text(filters: Filters, counts: dict) -> str:
    """How many of the rows are whole-run votes, per source, with their rate: the Stats page's numbers."""
    parts = [
        f"{_filters.SOURCE_WORDS[source]} {side['positive'] / side['votes'] * 100:.1f} % positive of {side['votes']:,}"
        for source, side in counts.items()
        if side["votes"] and filters.source in (None, source)
    ]
    return (
        "A row is a vote on a whole run or on one message (`message_id` empty for a whole run). "
        f"{_filters.counted(filters)}: {', '.join(parts) or 'none'}."
    )


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_score_columns(_store, url: str) -> list[str]:
    return export.score_columns(_store)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_preview(_store, url: str, reader, filters: Filters, columns: tuple) -> list[dict]:
    return export.preview(_store, filters, actor=reader, columns=list(columns), limit=PREVIEW_ROWS)


def generator(store, reader, filters: Filters, columns: list[str], fmt: str):
    """What the download button calls on click: the whole file, streamed to disk first, as bytes."""

    def generate() -> bytes:
        with tempfile.TemporaryDirectory(prefix="feedback-export-") as folder:
            path = Path(folder) / f"export.{fmt}"
            export.write(store, path, fmt, filters, actor=reader, columns=columns)
            return path.read_bytes()

    return generate


def rating_bar(container) -> str | None:
    current = st.query_params.get("rating") or ""
    if current not in RATING_LABELS:
        st.warning(f"Ignored rating {quoted(current, 20)} in the address: use positive or negative.")
        current = ""
    _filters.synced("export_rating", current)
    value = container.selectbox(
        "Rating", list(RATING_LABELS), key="export_rating", format_func=RATING_LABELS.__getitem__
    )
    _filters.remember("export_rating", value)
    _filters.write_params({"rating": value or None})
    return value or None


title, clear = st.columns([5, 1], vertical_alignment="bottom")
title.title("Export feedback")
_filters.clear_button(clear)
st.caption("One row per vote, with the run it judged: assistant, model, status, the question and the answer.")
current_store = _shared.store()
me = _identity.reader()
try:
    choices = _filters.load_choices(current_store, current_store.url, me)
    chosen = _filters.filter_bar(choices, prefix="export", sources=(*FEEDBACK_SOURCES, JUDGE_SOURCE))
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()
rating = rating_bar(st.columns([2.6, 5.5])[0])
# Rubric scores: a `score.<criterion>` column per criterion some vote scored (`data_layer.export`); judges'
# verdicts have their own columns too, and a list of columns of their own (a widget per kind of row).
judged = chosen.source == JUDGE_SOURCE
fixed = {**export.COLUMNS, **(export.JUDGE_COLUMNS if judged else {})}
offered = [*fixed, *load_score_columns(current_store, current_store.url)]
columns = st.multiselect(
    "Columns",
    offered,
    default=offered,
    key="export_columns_judges" if judged else "export_columns",
    help="; ".join(f"{name}: {column.help}" for name, column in fixed.items())
    + "; score.<criterion>: a rubric score (yes/no, 1-5 or the option"
    + (", as the judge gave it)" if judged else ")"),
)
try:
    chosen = replace(chosen, rating=rating)
    total = load_count(current_store, current_store.url, me, chosen)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

left, right = st.columns([1, 3], vertical_alignment="top")
left.metric("Rows to export", f"{total:,}", border=True)
with right:
    fmt = st.radio(
        "Format",
        list(FORMAT_LABELS),
        format_func=FORMAT_LABELS.__getitem__,
        horizontal=True,
        key="export_format",
    )
    st.caption(FORMAT_HELP[fmt])
    nothing = not columns or total == 0
    st.download_button(
        f"Download {FORMAT_LABELS[fmt]}",
        data=generator(current_store, me, chosen, columns, fmt),
        file_name=f"feedback-{date.today().isoformat()}.{fmt}",
        mime=export.MEDIA_TYPES[fmt],
        icon=":material/download:",
        type="primary",
        disabled=nothing,
        on_click="ignore",
        help="Choose at least one column" if not columns else ("No rows match" if total == 0 else None),
    )

# A button, not a link: the filters ride in the next page's address, never in an href drawn from them.
if _identity.can("manage_datasets") and st.button(
    "Save the reviewed runs of these filters as an evaluation dataset", icon=":material/dataset:"
):
    st.switch_page(
        "pages/datasets.py",
        query_params={name: value for name, value in st.query_params.to_dict().items() if name in _filters.PARAMS},
    )
try:
    if judged:
        st.caption(JUDGES_TEXT)
    else:
        st.caption(
            whole_run_text(chosen, load_whole_run(current_store, current_store.url, replace(chosen, rating=None)))
        )
except errors.DataLayerError as error:
    _shared.show_error(error)

st.subheader("Preview")
if not columns:
    st.info("Choose at least one column.")
elif total == 0:
    st.info("No judge's verdict matches these filters." if judged else "No feedback matches these filters.")
else:
    rows = load_preview(current_store, current_store.url, me, chosen, tuple(columns))
    st.caption(f"The first {min(PREVIEW_ROWS, total)} of {total:,} rows, oldest vote first.")
    st.dataframe(
        {name: [row[name] for row in rows] for name in columns},
        hide_index=True,
        width="stretch",
        column_config={"tags": st.column_config.ListColumn()} if "tags" in columns else None,
    )
