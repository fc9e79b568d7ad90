"""Agreement: can we trust end-user thumbs? End users against reviewers on the runs both rated.

A 2x2 table (the end user's thumb x the reviewers' majority), percent agreement and Cohen's kappa
with its 95 % interval, overall, per assistant and model, and week by week; the disagreements as a
table whose rows open the run; and per reviewer, agreement with the other reviewers' majority,
votes per day and the median time between two votes. Numbers from `data_layer.insights`.

The insight pages' filter bar narrows the runs (dates, assistant, model); both sources are the
point here, so the bar's source and reviewer are shown but do not apply (they stay in the URL for
the next page). Thumbs are written as words: tables draw text, and an emoji needs a font that a
browser may not have. A week with fewer than MIN_WEEK_PAIRS pairs gets no kappa point (its bar of
pairs stays): two votes give a kappa of -1 or 1 that says nothing.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from data_layer import errors, insights
from data_layer.filters import Filters
from pages import _filters, _identity, _shared

PERCENT = st.column_config.NumberColumn(format="percent")
KINDS = {
    "user_up_reviewers_down": "user up, reviewers down (the agent fooled the user)",
    "user_down_reviewers_up": "user down, reviewers up (the user wanted something else)",
}
MIN_WEEK_PAIRS = 10
UNUSED = {
    "source": "Agreement compares end users with reviewers, so both sources always count here.",
    "reviewer": "Agreement compares every reviewer; the reviewers' table below lists each one.",
}


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load(_store, url: str, reader, filters: Filters) -> tuple[dict, dict, list[dict], dict]:
    return (
        insights.end_user_agreement(_store, filters),
        insights.disagreements(_store, filters, actor=reader, limit=200),
        insights.reviewers(_store, filters, actor=reader),
        insights.slice_counts(_store, filters),
    )


def kappa_text(row: dict) -> str:
    if row["kappa"] is None:
        return "kappa undefined (everyone gave the same answer)" if row["n"] else "no pairs"
    return f"κ = {row['kappa']:.2f} (95 % {row['low']:.2f} to {row['high']:.2f})"


def group_rows(rows: list[dict], name: str) -> list[dict]:
    return [
        {
            name: row[name] or "(none)",
            "pairs": row["n"],
            "agreement": row["agreement"],
            "kappa (95 %)": "–"
            if row["kappa"] is None
            else f"{row['kappa']:.2f} ({row['low']:.2f} to {row['high']:.2f})",
            "note": "too few pairs" if row["n"] < 30 else "",
        }
        for row in rows
    ]


# Kappa and its interval share one short text column, so the note fits beside them in half the page.
GROUP_COLUMNS = {
    "agreement": PERCENT,
    "note": st.column_config.TextColumn(width="medium"),
}


def gap(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def over_time(weeks: list[dict]) -> go.Figure:
    figure = go.Figure()
    shown = [week for week in weeks if week["kappa"] is not None and week["n"] >= MIN_WEEK_PAIRS]
    figure.add_trace(
        go.Scatter(
            x=[week["week"] for week in shown],
            y=[week["kappa"] for week in shown],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [week["high"] - week["kappa"] for week in shown],
                "arrayminus": [week["kappa"] - week["low"] for week in shown],
            },
            customdata=[week["n"] for week in shown],
            hovertemplate="week of %{x}: κ %{y:.2f} from %{customdata} pairs<extra></extra>",
            mode="markers+lines",
            name="kappa",
        )
    )
    figure.add_trace(
        go.Bar(
            x=[week["week"] for week in weeks], y=[week["n"] for week in weeks], name="pairs", yaxis="y2", opacity=0.3
        )
    )
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"title": "Cohen's kappa", "range": [-1, 1]},
        yaxis2={"title": "pairs", "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h"},
    )
    return figure


title, clear = st.columns([5, 1], vertical_alignment="bottom")
title.title("Can we trust end-user thumbs?")
_filters.clear_button(clear)
current = _shared.store()
me = _identity.reader()
try:
    choices = _filters.load_choices(current, current.url, me)
    chosen = _filters.filter_bar(choices, prefix="agreement", unused=UNUSED)
    summary, disagreeing, reviewer_rows, in_slice = load(current, current.url, me, chosen)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.caption(
    f"{_filters.counted(chosen)}: {_filters.per_source(in_slice)}. Below, every end-user vote on a run that "
    "reviewers also rated, against the reviewers' majority on that run. Runs where the reviewers are split "
    "evenly are left out. Kappa corrects the percent agreement for the agreement expected by chance: 0 is "
    "chance, 1 is perfect."
)
if not summary["n"]:
    st.info("No run has both an end-user vote and a reviewer vote yet, so there is nothing to compare.")
else:
    table = summary["table"]
    left, right = st.columns([1, 1.3])
    with left:
        st.markdown("**End user × reviewers' majority**")
        st.dataframe(
            [
                {"": "user up", "reviewers up": table[0][0], "reviewers down": table[0][1]},
                {"": "user down", "reviewers up": table[1][0], "reviewers down": table[1][1]},
            ],
            hide_index=True,
            key="agreement_table",
        )
        st.caption(f"{summary['n']} pairs · {summary['ties']} left out (reviewers split)")
    with right:
        metrics = st.columns(2)
        metrics[0].metric("Percent agreement", f"{summary['agreement']:.0%}")
        metrics[1].metric("Cohen's kappa", "—" if summary["kappa"] is None else f"{summary['kappa']:.2f}")
        st.caption(kappa_text(summary))
    by = st.columns(2)
    with by[0]:
        st.markdown("**Per assistant**")
        st.dataframe(
            group_rows(summary["by_assistant"], "assistant_id"),
            hide_index=True,
            column_config=GROUP_COLUMNS,
            key="agreement_by_assistant",
        )
    with by[1]:
        st.markdown("**Per model**")
        st.dataframe(
            group_rows(summary["by_model"], "model_name"),
            hide_index=True,
            column_config=GROUP_COLUMNS,
            key="agreement_by_model",
        )
    st.markdown("**Week by week** (bars: pairs; points: kappa with its 95 % interval)")
    thin = sum(1 for week in summary["by_week"] if week["n"] < MIN_WEEK_PAIRS)
    if thin:
        st.caption(
            f"{thin} week{'s' if thin != 1 else ''} with fewer than {MIN_WEEK_PAIRS} pairs show"
            f"{'' if thin != 1 else 's'} only the bar: so few votes cannot say how far users and reviewers agree."
        )
    st.plotly_chart(over_time(summary["by_week"]), key="agreement_weeks")

st.subheader("Disagreements")
st.caption(
    f"{disagreeing['user_up']} × user :material/thumb_up: but reviewers :material/thumb_down: (the agent fooled "
    f"the user) · {disagreeing['user_down']} × user :material/thumb_down: but reviewers :material/thumb_up: (the "
    "user wanted something else). "
    "Select a row to open the run."
)
rows = disagreeing["rows"]
if rows:
    picked = st.dataframe(
        [
            {
                "kind": KINDS[row["kind"]],
                "assistant": row["assistant_id"],
                "model": row["model_name"],
                "reviewers": f"{row['up']} up · {row['down']} down",
                "user comment": row["comment"] or "",
                "run at": _shared.when(row["run_at"]),
            }
            for row in rows
        ],
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="agreement_disagreements",
    )
    chosen = picked.selection.rows if picked else []
    if chosen:
        row = rows[chosen[0]]
        st.switch_page("pages/thread.py", query_params={"thread": row["thread_id"], "run": row["run_id"]})

st.subheader("Reviewers")
st.caption(
    "Calibration: how often a reviewer's vote matches the majority of the other reviewers of the same run "
    "(runs where the others are split do not count). A very short median time between two votes, or many "
    "votes a day, can mean clicking without reading."
)
if reviewer_rows:
    st.dataframe(
        [
            {
                "reviewer": row["reviewer"],
                "votes": row["votes"],
                "compared": row["compared"],
                "calibration": row["calibration"],
                "95 % low": row["low"],
                "95 % high": row["high"],
                "votes per active day": row["votes_per_day"],
                "median time between votes": gap(row["median_gap_s"]),
            }
            for row in reviewer_rows
        ],
        hide_index=True,
        column_config={"calibration": PERCENT, "95 % low": PERCENT, "95 % high": PERCENT},
        key="agreement_reviewers",
    )
else:
    st.info("No reviewer votes yet.")
