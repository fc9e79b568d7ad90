"""Agreement: can we trust end-user thumbs? End users against reviewers on the runs both rated.

A 2x2 table (the end user's thumb x the reviewers' majority), percent agreement and Cohen's kappa
with its 95 % interval, overall, per assistant and model, and week by week; the disagreements as a
table whose rows open the run; and per reviewer, agreement with the other reviewers' majority,
votes per day and the median time between two votes. Numbers from `data_layer.insights`.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from data_layer import errors, insights
from pages import _identity, _shared

PERCENT = st.column_config.NumberColumn(format="percent")
KINDS = {
    "user_up_reviewers_down": "user 👍, reviewers 👎 (the agent fooled the user)",
    "user_down_reviewers_up": "user 👎, reviewers 👍 (the user wanted something else)",
}


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load(_store, url: str, reader) -> tuple[dict, dict, list[dict]]:
    return (
        insights.end_user_agreement(_store),
        insights.disagreements(_store, actor=reader, limit=200),
        insights.reviewers(_store, actor=reader),
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
            "kappa": row["kappa"],
            "kappa low": row["low"],
            "kappa high": row["high"],
            "note": "too few pairs" if row["n"] < 30 else "",
        }
        for row in rows
    ]


def gap(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def over_time(weeks: list[dict]) -> go.Figure:
    figure = go.Figure()
    shown = [week for week in weeks if week["kappa"] is not None]
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


st.title("Can we trust end-user thumbs?")
current = _shared.store()
try:
    summary, disagreeing, reviewer_rows = load(current, current.url, _identity.reader())
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.caption(
    "Every end-user vote on a run that reviewers also rated, against the reviewers' majority on that run "
    "(whole-run votes). Runs where the reviewers are split evenly are left out. Kappa corrects the percent "
    "agreement for the agreement expected by chance: 0 is chance, 1 is perfect."
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
                {"": "user 👍", "reviewers 👍": table[0][0], "reviewers 👎": table[0][1]},
                {"": "user 👎", "reviewers 👍": table[1][0], "reviewers 👎": table[1][1]},
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
            column_config={"agreement": PERCENT},
            key="agreement_by_assistant",
        )
    with by[1]:
        st.markdown("**Per model**")
        st.dataframe(
            group_rows(summary["by_model"], "model_name"),
            hide_index=True,
            column_config={"agreement": PERCENT},
            key="agreement_by_model",
        )
    st.markdown("**Week by week** (bars: pairs; points: kappa with its 95 % interval)")
    st.plotly_chart(over_time(summary["by_week"]), key="agreement_weeks")

st.subheader("Disagreements")
st.caption(
    f"{disagreeing['user_up']} × user 👍 but reviewers 👎 (the agent fooled the user) · "
    f"{disagreeing['user_down']} × user 👎 but reviewers 👍 (the user wanted something else). "
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
                "reviewers": f"{row['up']} 👍 · {row['down']} 👎",
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
