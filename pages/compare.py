"""Compare: is B better than A? Two models, two assistants or two date ranges, side by side.

Reviewer votes and end-user votes get their own verdict, never added together. A verdict is given
only with at least 30 votes on each side; with thin evidence the page says how many more votes a
5-point difference needs. The "all at once" table tests every model (or assistant) against the
rest with Holm's correction. Below: the daily p-chart alerts. All numbers come from
`data_layer.insights` and `data_layer.analysis`; the slice choice is kept in the URL (`by`, `a`, `b`).
"""

from __future__ import annotations

from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st

from data_layer import analysis, errors, insights, stats
from data_layer.filters import Filters
from pages import _shared
from pages._text import chart_label

BY = {"model": ("model_name", "Models"), "assistant": ("assistant_id", "Assistants"), "dates": (None, "Date ranges")}
SOURCES = {"reviewer": "Reviewer votes", "end_user": "End-user votes"}
VERDICT_STYLE = {
    "better": (st.success, ":material/trending_up:"),
    "worse": (st.error, ":material/trending_down:"),
    "no_difference": (st.info, ":material/drag_handle:"),
    "inconclusive": (st.warning, ":material/hourglass_empty:"),
    "too_few": (st.warning, ":material/hourglass_empty:"),
    "empty": (st.info, ":material/block:"),
}
VERDICT_WORDS = {
    "better": "better",
    "worse": "worse",
    "no_difference": "no real difference",
    "inconclusive": "not enough evidence",
    "too_few": "too few votes",
    "empty": "no votes",
}


@st.cache_data(ttl=60, show_spinner=False)
def load_choices(_store, url: str) -> dict:
    return {"model": _store.runs.models(), "assistant": _store.threads.assistants(), "bounds": stats.bounds(_store)}


# The comparisons read every vote of both slices: cached like the other insight pages' reads, so a
# rerun (a widget touched, a revisit) does not scan them again.
@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_comparison(_store, url: str, a: Filters, b: Filters) -> dict:
    return insights.compare_slices(_store, a, b)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_all(_store, url: str, dimension: str) -> dict:
    return insights.compare_all(_store, dimension)


def pick(label: str, options: list[str], key: str, wanted: str | None, fallback: int) -> str | None:
    if not options:
        return None
    if key not in st.session_state:
        st.session_state[key] = wanted if wanted in options else options[min(fallback, len(options) - 1)]
    return st.selectbox(label, options, key=key)


def date_slices(bounds: dict) -> tuple[dict, dict, str, str]:
    """Two date ranges: by default the last 14 days of data (B) against the 14 before (A)."""
    last = date.fromisoformat(bounds["last_run_at"][:10]) if bounds.get("last_run_at") else date.today()
    columns = st.columns(2)
    a = columns[0].date_input(
        "Slice A: runs from – to", (last - timedelta(days=27), last - timedelta(days=14)), key="compare_dates_a"
    )
    b = columns[1].date_input("Slice B: runs from – to", (last - timedelta(days=13), last), key="compare_dates_b")
    if not (isinstance(a, tuple) and len(a) == 2 and isinstance(b, tuple) and len(b) == 2):
        st.info("Pick a start and an end date for both ranges.")
        st.stop()
    name_a, name_b = f"{a[0]} – {a[1]}", f"{b[0]} – {b[1]}"
    return {"since": a[0], "until": a[1]}, {"since": b[0], "until": b[1]}, name_a, name_b


def rates_figure(result: dict, name_a: str, name_b: str) -> go.Figure:
    figure = go.Figure()
    for side, name, color in (("a", name_a, "#90a4ae"), ("b", name_b, "#1e88e5")):
        row = result[side]
        if row["rate"] is None:
            continue
        figure.add_trace(
            go.Bar(
                x=[row["rate"]],
                y=[f"{chart_label(name)} ({row['votes']} votes)"],
                orientation="h",
                marker_color=color,
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [row["high"] - row["rate"]],
                    "arrayminus": [row["rate"] - row["low"]],
                },
                hovertemplate="%{x:.1%}<extra></extra>",
                showlegend=False,
            )
        )
    figure.update_layout(
        height=170, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis={"tickformat": ".0%", "range": [0, 1]}
    )
    return figure


def side_row(name: str, side: dict) -> dict:
    return {
        "slice": name,
        "votes": side["votes"],
        "positive rate": side["rate"],
        "95 % low": side["low"],
        "95 % high": side["high"],
        "note": "too few votes" if side["votes"] < analysis.MIN_VOTES else "",
    }


PERCENT = st.column_config.NumberColumn(format="percent")


def verdict(source: str, result: dict, name_a: str, name_b: str) -> None:
    st.markdown(f"#### {SOURCES[source]}")
    draw, icon = VERDICT_STYLE[result["verdict"]]
    draw(analysis.summary(result, "A", "B"), icon=icon)
    st.dataframe(
        [side_row(f"A: {name_a}", result["a"]), side_row(f"B: {name_b}", result["b"])],
        hide_index=True,
        column_config={name: PERCENT for name in ("positive rate", "95 % low", "95 % high")},
        key=f"compare_table_{source}",
    )
    if result["a"]["votes"] and result["b"]["votes"]:
        st.plotly_chart(rates_figure(result, "A", "B"), key=f"compare_chart_{source}")


def all_at_once(store, dimension: str, label: str) -> None:
    try:
        results = load_all(store, store.url, dimension)
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    for source, rows in results.items():
        tested = sum(1 for row in rows if row["p_holm"] is not None)
        st.markdown(f"**{SOURCES[source]}**")
        if not rows:
            st.caption("No votes.")
            continue
        st.caption(
            f"Each of the {label.lower()} against all the others together. {tested} tests at once, so the p-values "
            f"are corrected with Holm's method (family-wise error 5 %); under {analysis.MIN_VOTES} votes: not tested."
        )
        st.dataframe(
            [
                {
                    "name": row["name"] or "(none)",
                    "votes": row["b"]["votes"],
                    "positive rate": row["b"]["rate"],
                    "rest": row["a"]["rate"],
                    "difference": row["difference"],
                    "p (Holm)": row["p_holm"],
                    "verdict": VERDICT_WORDS[row["verdict"]],
                }
                for row in rows
            ],
            hide_index=True,
            column_config={
                "positive rate": PERCENT,
                "rest": PERCENT,
                "difference": PERCENT,
                "p (Holm)": st.column_config.NumberColumn(format="%.4f"),
            },
            key=f"compare_all_{source}",
        )


st.title("Is B better than A?")
current = _shared.store()
choices = load_choices(current, current.url)
params = st.query_params
by_values = list(BY)
if "compare_by" not in st.session_state:
    st.session_state["compare_by"] = params.get("by") if params.get("by") in BY else "model"
by = st.segmented_control("Compare", by_values, key="compare_by", format_func=lambda value: BY[value][1], required=True)
dimension, label = BY[by]
if by == "dates":
    a_filters, b_filters, name_a, name_b = date_slices(choices["bounds"])
else:
    options = choices[by]
    if len(options) < 2:
        st.info(f"There are fewer than two {label.lower()} with runs, so there is nothing to compare yet.")
        st.stop()
    columns = st.columns(2)
    with columns[0]:
        name_a = pick("Slice A", options, f"compare_a_{by}", params.get("a"), 0)
    with columns[1]:
        name_b = pick("Slice B", options, f"compare_b_{by}", params.get("b"), 1)
    a_filters, b_filters = {dimension: name_a}, {dimension: name_b}
    st.query_params.update({"by": by, "a": name_a, "b": name_b})

try:
    results = load_comparison(current, current.url, Filters(**a_filters), Filters(**b_filters))
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.caption(
    "Whole-run votes only. Two-sided test at 5 % (Fisher's exact test when a cell is small, else the z-test); "
    "the chance that B is better is the posterior probability under uniform Beta(1, 1) priors."
)
left, right = st.columns(2)
for column, source in zip((left, right), SOURCES):
    with column:
        verdict(source, results[source], name_a, name_b)

if by != "dates":
    st.subheader(f"All {label.lower()} at once")
    all_at_once(current, dimension, label)
