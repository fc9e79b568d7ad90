"""Compare: is B better than A? Two models, two assistants or two date ranges, side by side.

The insight pages' filter bar narrows both slices (`pages/_filters.py`); the slices differ in the
one thing compared: the model or the assistant (the bar's own choice of it does not apply), or the
date range (B is the bar's, A the period of equal length before it). Reviewer votes and end-user
votes get their own verdict, never added together (the bar's source shows one of them). A verdict
is given only with at least 30 votes on each side; with thin evidence the page says how many more
votes a 5-point difference needs. The "all at once" table tests every model (or assistant)
against the rest with Holm's correction. All numbers come from `data_layer.insights` and
`data_layer.analysis`; the slice choice is kept in the URL (`by`, `a`, `b`).
"""

from __future__ import annotations

from dataclasses import replace

import plotly.graph_objects as go
import streamlit as st

from data_layer import analysis, errors, insights
from data_layer.filters import Filters
from pages import _filters, _identity, _shared
from pages._text import chart_label

BY = {"model": ("model_name", "Models"), "assistant": ("assistant_id", "Assistants"), "dates": (None, "Date ranges")}
URL_OF = {"model_name": "model", "assistant_id": "assistant"}
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


# The comparisons read every vote of both slices: cached like the other insight pages' reads, so a
# rerun (a widget touched, a revisit) does not scan them again.
@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_comparison(_store, url: str, a: Filters, b: Filters) -> dict:
    return insights.compare_slices(_store, a, b)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_all(_store, url: str, dimension: str, filters: Filters) -> dict:
    return insights.compare_all(_store, dimension, filters)


def pick(label: str, options: list[str], key: str, wanted: str | None, fallback: int) -> str | None:
    if not options:
        return None
    if key not in st.session_state:
        st.session_state[key] = wanted if wanted in options else options[min(fallback, len(options) - 1)]
    return st.selectbox(label, options, key=key)


def date_slices(filters: Filters) -> tuple[Filters, Filters, str, str]:
    """The filter bar's date range (B) against the period of equal length just before it (A)."""
    before = filters.previous()
    if before is None:
        st.info("Pick a start and an end date in the filter bar.")
        st.stop()
    name_a, name_b = (_filters.dates(side).removeprefix("runs of ") for side in (before, filters))
    return before, filters, name_a, name_b


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
        "95 % interval": "–" if side["rate"] is None else f"{side['low']:.1%} to {side['high']:.1%}",
        "note": "too few votes" if side["votes"] < analysis.MIN_VOTES else "",
    }


PERCENT = st.column_config.NumberColumn(format="percent")


def verdict(source: str, result: dict, name_a: str, name_b: str, filters: Filters, *, dated: bool) -> None:
    st.markdown(f"#### {SOURCES[source]}")
    st.caption(f"{_filters.counted(filters, source=source, dated=dated)}.")
    draw, icon = VERDICT_STYLE[result["verdict"]]
    draw(analysis.summary(result, "A", "B"), icon=icon)
    st.dataframe(
        [side_row(f"A: {name_a}", result["a"]), side_row(f"B: {name_b}", result["b"])],
        hide_index=True,
        column_config={"positive rate": PERCENT},
        key=f"compare_table_{source}",
    )
    if result["a"]["votes"] and result["b"]["votes"]:
        st.plotly_chart(rates_figure(result, "A", "B"), key=f"compare_chart_{source}")


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_judge(_store, url: str, reader, judge: str, a: Filters, b: Filters) -> dict:
    return _store.judges.compare(judge, a, b, actor=reader)


def by_judge(store, name_a: str, name_b: str, a: Filters, b: Filters) -> None:
    """B against A by one judge's verdicts, raw and corrected, apart from people's votes."""
    reader = _identity.reader()
    judges = [row["judge"] for row in store.judges.summary(actor=reader)]
    if not judges:
        return
    st.subheader("By an LLM judge")
    judge = st.selectbox("Judge", judges, key="compare_judge")
    found = load_judge(store, store.url, reader, judge, a, b)
    raw, corrected = found["raw"], found["corrected"]
    left, right = st.columns(2)
    with left:
        st.markdown(f"#### Judge verdicts, raw: {judge}")
        draw, icon = VERDICT_STYLE[raw["verdict"]]
        draw(analysis.summary(raw, "A", "B"), icon=icon)
        st.dataframe(
            [side_row(f"A: {name_a}", raw["a"]), side_row(f"B: {name_b}", raw["b"])],
            hide_index=True,
            column_config={"positive rate": PERCENT},
            key="compare_table_judge",
        )
    with right:
        st.markdown(f"#### Judge verdicts, corrected: {judge}")
        if corrected["reason"]:
            st.warning(f"Cannot be corrected: {corrected['reason']}.", icon=":material/block:")
            return
        st.dataframe(
            [
                {
                    "slice": f"{side}: {name}",
                    "corrected good rate": corrected[side.lower()]["corrected_rate"],
                    "95 % interval": _interval(corrected[side.lower()]),
                }
                for side, name in (("A", name_a), ("B", name_b))
            ],
            hide_index=True,
            column_config={"corrected good rate": PERCENT},
            key="compare_table_judge_corrected",
        )
        if corrected["difference"] is not None:
            st.caption(
                f"B minus A, corrected: {analysis.points(corrected['difference'])} (95 % "
                f"{analysis.points(corrected['difference_low'])} to {analysis.points(corrected['difference_high'])}): "
                f"the raw difference divided by the judge's sensitivity + specificity - 1 "
                f"({corrected['youden']:.2f}); its test is the raw one."
            )


def _interval(side: dict) -> str:
    if side["corrected_rate"] is None:
        return side["reason"] or "–"
    return f"{side['corrected_low']:.1%} to {side['corrected_high']:.1%}"


def all_at_once(store, dimension: str, label: str, filters: Filters) -> None:
    try:
        results = load_all(store, store.url, dimension, filters)
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    for source, rows in results.items():
        if filters.source not in (None, source):
            continue
        tested = sum(1 for row in rows if row["p_holm"] is not None)
        st.markdown(f"**{SOURCES[source]}**")
        if not rows:
            st.caption("No votes.")
            continue
        st.caption(
            f"{_filters.counted(filters, source=source)}. Each of the {label.lower()} against all the others "
            f"together; difference in percentage points (pp). {tested} tests at once, so the p-values are corrected "
            f"with Holm's method (family-wise error 5 %); under {analysis.MIN_VOTES} votes: not tested."
        )
        st.dataframe(
            [
                {
                    "name": row["name"] or "(none)",
                    "votes": row["b"]["votes"],
                    "positive rate": row["b"]["rate"],
                    "rest": row["a"]["rate"],
                    "difference": None if row["difference"] is None else row["difference"] * 100,
                    "p (Holm)": analysis.p_text(row["p_holm"]),
                    "verdict": VERDICT_WORDS[row["verdict"]],
                }
                for row in rows
            ],
            hide_index=True,
            column_config={
                "positive rate": PERCENT,
                "rest": PERCENT,
                "difference": st.column_config.NumberColumn(format="%+.1f pp", help="B minus the rest"),
                "p (Holm)": st.column_config.TextColumn(),
            },
            key=f"compare_all_{source}",
        )


title, clear = st.columns([5, 1], vertical_alignment="bottom")
title.title("Is B better than A?")
_filters.clear_button(clear)
current = _shared.store()
params = st.query_params
if "compare_by" not in st.session_state:
    st.session_state["compare_by"] = params.get("by") if params.get("by") in BY else "model"
dimension, label = BY[st.session_state["compare_by"]]
try:
    choices = _filters.load_choices(current, current.url, _identity.reader())
    unused = {URL_OF[dimension]: f"The slices A and B pick the {label.lower()}."} if dimension else {}
    common = _filters.filter_bar(choices, prefix="compare", unused=unused)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()
by = st.segmented_control("Compare", list(BY), key="compare_by", format_func=lambda value: BY[value][1], required=True)
if by == "dates":
    a_filters, b_filters, name_a, name_b = date_slices(common)
    st.query_params.update({"by": by})
else:
    options = choices["models" if by == "model" else "assistants"]
    if len(options) < 2:
        st.info(f"There are fewer than two {label.lower()} with runs, so there is nothing to compare yet.")
        st.stop()
    columns = st.columns(2)
    with columns[0]:
        name_a = pick("Slice A", options, f"compare_a_{by}", params.get("a"), 0)
    with columns[1]:
        name_b = pick("Slice B", options, f"compare_b_{by}", params.get("b"), 1)
    a_filters, b_filters = replace(common, **{dimension: name_a}), replace(common, **{dimension: name_b})
    st.query_params.update({"by": by, "a": name_a, "b": name_b})

try:
    results = load_comparison(current, current.url, a_filters, b_filters)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.caption(
    "Whole-run votes only. Differences are B minus A in percentage points (pp). Two-sided test at 5 % (Fisher's "
    "exact test when a cell is small, else the z-test); the chance that B is better is the posterior probability "
    "under uniform Beta(1, 1) priors."
)
shown = [source for source in SOURCES if common.source in (None, source)]
for column, source in zip(st.columns(len(shown)), shown):
    with column:
        verdict(source, results[source], name_a, name_b, common, dated=by != "dates")

try:
    by_judge(current, name_a, name_b, a_filters, b_filters)
except errors.DataLayerError as error:
    _shared.show_error(error)

if by != "dates":
    st.subheader(f"All {label.lower()} at once")
    all_at_once(current, dimension, label, common)
