"""The insight pages' one filter bar (Stats, Compare, Agreement, Themes, Export): date range,
assistant, model, reviewer, source, with the same default (the last DEFAULT_DAYS days of data).

The filters live in the URL (`from`, `to`, `assistant`, `model`, `reviewer`, `source`) so a view
can be shared and a chart click can narrow it; the widgets follow the URL and write back to it, and
`filter_bar` turns them into the data layer's `Filters`. The session keeps the last values too: a
page opened without filters in its address (the sidebar's links carry none) takes them, so the
filters follow the user from page to page. `counted` says in words what a number counts.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from data_layer import stats
from data_layer.filters import JUDGE_SOURCE, Filters
from data_layer.schema import FEEDBACK_SOURCES
from pages import _shared
from pages._text import plain, quoted

DEFAULT_DAYS = 28
ALL = ""  # a selectbox holding None shows a placeholder, so "no filter" is the empty string
SOURCE_LABELS = {ALL: "All", "reviewer": "Reviewers", "end_user": "End users", JUDGE_SOURCE: "Judges' verdicts"}
# URL parameter -> `Filters` field
TEXT_PARAMS = {"assistant": "assistant_id", "model": "model_name", "reviewer": "reviewer", "source": "source"}
PARAMS = ("from", "to", *TEXT_PARAMS)
CARRIED = "_insight_filters"  # session state: the bar's last values, as URL parameters
SOURCE_WORDS = {
    None: "reviewers and end users together",
    "reviewer": "reviewers",
    "end_user": "end users",
    JUDGE_SOURCE: "LLM judges",
}


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_choices(_store, url: str, reader) -> dict:
    return {
        "assistants": _store.threads.assistants(),
        "models": _store.runs.models(),
        "reviewers": stats.reviewers_seen(_store, actor=reader),
        "bounds": stats.bounds(_store),
    }


def parse_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        st.warning(f"Ignored the date {quoted(text, 20)} in the address: it is not YYYY-MM-DD.")
        return None


def data_range(bounds: dict, days: int | None) -> tuple[date, date]:
    """The last `days` days of the data (None: all of it); the data's, not the calendar's, so old
    imports still show."""
    last = date.fromisoformat(bounds["last_run_at"][:10]) if bounds.get("last_run_at") else date.today()
    first = date.fromisoformat(bounds["first_run_at"][:10]) if bounds.get("first_run_at") else last
    return (first if days is None else last - timedelta(days=days - 1)), last


def synced(key: str, url_value) -> None:
    """Keep a widget in step with the URL: a changed URL (deep link, chart click) resets the widget."""
    marker = f"_url_{key}"
    if st.session_state.get(marker, "unset") != url_value:
        st.session_state[key] = url_value
        st.session_state[marker] = url_value


def remember(key: str, value) -> None:
    st.session_state[f"_url_{key}"] = value


def write_params(values: dict) -> None:
    for name, value in values.items():
        if value is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != value:
            st.query_params[name] = value


def carry() -> None:
    """Fill an address without filters from the session's last ones (the user came from another page)."""
    saved = st.session_state.get(CARRIED)
    if saved and not any(name in st.query_params for name in PARAMS):
        st.query_params.update(saved)


def filter_bar(
    choices: dict, *, prefix: str, unused: dict[str, str] | None = None, sources: tuple[str, ...] = FEEDBACK_SOURCES
) -> Filters:
    """Draw the filters from the URL and write changes back; returns them as `Filters` (`InvalidInput`
    for a value the data layer refuses, such as an overlong name or a year before 1970). `unused`
    names the URL parameters this page cannot apply, with the reason: they are drawn disabled, kept
    in the URL for the next page, and left out of the result. `sources` are the sources offered (the
    Export page adds `judge`, judges' verdicts)."""
    unused = unused or {}
    carry()
    params = st.query_params
    start, end = data_range(choices["bounds"], DEFAULT_DAYS)
    start = parse_day(params.get("from")) or start
    end = parse_day(params.get("to")) or end
    if start > end:
        start, end = end, start
    columns = st.columns([2.6, 1.4, 1.4, 1.6, 1.1])
    key = f"{prefix}_range"
    synced(key, (start, end))
    picked = columns[0].date_input("Runs from – to", key=key, format="YYYY-MM-DD")
    # While a range is being picked the widget holds one date: keep the last full range meanwhile.
    if isinstance(picked, tuple) and len(picked) == 2:
        start, end = picked
        remember(key, (start, end))
    values = {"from": start.isoformat(), "to": end.isoformat()}
    lists = {
        "assistant": ("Assistant", choices["assistants"]),
        "model": ("Model", choices["models"]),
        "reviewer": ("Reviewer", choices["reviewers"]),
        "source": ("Source", list(sources)),
    }
    for column, (name, (label, options)) in zip(columns[1:], lists.items()):
        current = params.get(name) or ALL
        if name == "source" and current not in (ALL, *sources):
            if current == JUDGE_SOURCE:
                st.info("Judges' verdicts are not people's votes: this page shows people's, so the source is All.")
            else:
                st.warning(f"Ignored source {quoted(current, 20)} in the address: use {' or '.join(sources)}.")
            current = ALL
        key = f"{prefix}_{name}"
        synced(key, current)
        shown = [ALL, *options] + ([current] if current not in (ALL, *options) else [])
        value = column.selectbox(
            label,
            shown,
            key=key,
            format_func=(lambda v: SOURCE_LABELS[v]) if name == "source" else (lambda v: v or "All"),
            disabled=name in unused,
            help=unused.get(name),
        )
        remember(key, value)
        values[name] = value or None
    write_params(values)
    st.session_state[CARRIED] = {name: value for name, value in values.items() if value is not None}
    return Filters(
        since=values["from"],
        until=values["to"],
        **{TEXT_PARAMS[n]: values[n] for n in TEXT_PARAMS if n not in unused},
    )


def clear_button(container) -> None:
    if container.button("Clear filters", type="tertiary", icon=":material/filter_alt_off:"):
        st.query_params.clear()
        st.session_state.pop(CARRIED, None)
        st.rerun()


def dates(filters: Filters) -> str:
    """The date range of `filters` in words (`until` is exclusive, so its day before is the last)."""
    if filters.since is None and filters.until is None:
        return "runs of any date"
    first = filters.since[:10] if filters.since else "the first run"
    last = (filters.until_time - timedelta(microseconds=1)).date().isoformat() if filters.until else "the last run"
    return f"runs of {first} to {last} (UTC)"


def share(side: dict) -> str:
    """`26.8 % positive of 123`: a slice's rate to one decimal with the votes it is of, worded the same
    on every page so that one slice reads as one number wherever it is shown."""
    if not side["votes"]:
        return "no votes"
    return f"{side['positive'] / side['votes'] * 100:.1f} % positive of {side['votes']:,}"


def per_source(counts: dict, source: str | None = None) -> str:
    """`reviewers 26.8 % positive of 123 · end users ...`: each source's share (only `source`'s when set)."""
    return " · ".join(f"{SOURCE_WORDS[name]} {share(side)}" for name, side in counts.items() if source in (None, name))


def counted(filters: Filters, *, source: str | None = None, votes: str = "whole-run votes", dated: bool = True) -> str:
    """What a number counts, in words: which votes, from whom, on which runs (without `dated`, the
    runs' dates are left for the caller to say)."""
    who = SOURCE_WORDS[source or filters.source]
    parts = [dates(filters)] if dated else []
    parts += [
        f"{label} {plain(value)}"
        for label, value in (
            ("assistant", filters.assistant_id),
            ("model", filters.model_name),
            ("reviewer", filters.reviewer),
        )
        if value
    ]
    return f"{votes.capitalize()} of {who}" + (f" on {', '.join(parts)}" if parts else "")
