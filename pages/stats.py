"""Stats: how the agent is doing and where it fails, for product managers.

Filters live in the URL (`from`, `to`, `assistant`, `model`, `reviewer`, `source`) so a view can be
shared, and follow the user to the other insight pages (`pages/_filters.py`). The rates count
whole-run votes, as every insight page does; the page says so. Every chart shows vote counts beside
rates, clicking a bar or a point (or box-selecting a stretch of time) narrows the page to it, and
the Plotly toolbar downloads each chart as PNG.
All numbers come from `data_layer.stats`; this page only draws.
"""

from __future__ import annotations

from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from data_layer import errors, stats
from data_layer.filters import Filters
from data_layer.schema import REASON_TAGS
from pages import _alerts, _criteria, _filters, _identity, _shared
from pages._charts import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    chart,
    empty,
    interval,
    kappa_text,
    layout,
    narrow_to_one,
    narrow_to_time,
    percent,
    time_axis,
)
from pages._text import chart_label

TAG_COLORS = dict(
    zip((*REASON_TAGS, stats.UNTAGGED), ("#e53935", "#fb8c00", "#fdd835", "#8e24aa", "#3949ab", "#6d4c41", "#9e9e9e"))
)
FOLLOW_UP_LABELS = {
    "negative": "thumbs-down only",
    "mixed": "mixed votes",
    "positive": "thumbs-up only",
    "unrated": "no votes",
}


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_dashboard(_store, url: str, filters: Filters, reader) -> dict:
    return stats.dashboard(_store, filters, actor=reader)


def draw_headline(head: dict, filters: Filters) -> None:
    current, change = head["current"], head["change"] or {}
    columns = st.columns(4)
    for column, key, label in zip(
        columns,
        ("runs", "runs_with_feedback", "votes", "positive_rate"),
        ("Runs", "Runs with feedback", "Votes", "Positive rate"),
    ):
        if key == "positive_rate":
            value = percent(current[key])
            delta = None if change.get(key) is None else f"{change[key] * 100:+.1f} pp"
        else:
            value = f"{current[key]:,}"
            delta = None if change.get(key) is None else f"{change[key]:+,}"
        column.metric(label, value, delta, border=True, help=HEADLINE_HELP.get(key))
    split = _filters.per_source(current["by_source"], filters.source)
    st.caption(f"{_filters.counted(filters)}. By source: {split} (Compare shows each source on its own).")
    if head["previous"] is not None:
        until = date.fromisoformat(head["previous_until"][:10]) - timedelta(days=1)
        st.caption(
            f"Changes compare with the {head['previous']['votes']:,} votes on runs of the previous period of equal "
            f"length, {head['previous_since'][:10]} to {until.isoformat()}."
        )


HEADLINE_HELP = {
    "runs": "Runs started in the date range (and of the assistant and model chosen), with or without votes.",
    "runs_with_feedback": "Runs with at least one vote of the chosen source and reviewer, on the run or on one of "
    "its messages.",
    "votes": "Whole-run votes; a vote on a single message of a run is not counted.",
    "positive_rate": "Thumbs-up among the whole-run votes counted.",
}


def draw_over_time(data: dict) -> None:
    rows, bucket = data["rows"], data["bucket"]
    days = [row["bucket"] for row in rows]
    custom = [[day] for day in days]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=days, y=[r["positive"] for r in rows], name="thumbs-up", marker_color=POSITIVE, opacity=0.45,
        customdata=custom, hovertemplate="%{x}: %{y} thumbs-up<extra></extra>",
    )  # fmt: skip
    fig.add_bar(
        x=days, y=[r["negative"] for r in rows], name="thumbs-down", marker_color=NEGATIVE, opacity=0.45,
        customdata=custom, hovertemplate="%{x}: %{y} thumbs-down<extra></extra>",
    )  # fmt: skip
    fig.add_scatter(
        x=days,
        y=[r["positive_rate"] for r in rows],
        name="positive rate (95% interval)",
        mode="lines+markers",
        line={"color": "#1e88e5"},
        error_y=interval(rows),
        customdata=[[r["bucket"], r["votes"], percent(r["low"]), percent(r["high"])] for r in rows],
        hovertemplate="%{x}: %{y:.0%} positive of %{customdata[1]} votes (95%: %{customdata[2]}–%{customdata[3]})"
        "<extra></extra>",
        secondary_y=True,
    )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="votes", secondary_y=False)
    fig.update_yaxes(
        title_text="positive rate",
        tickformat=".0%",
        range=[0, 1.05],
        tickvals=[0, 0.25, 0.5, 0.75, 1],
        showgrid=False,
        secondary_y=True,
    )
    layout(time_axis(empty(fig, rows), days, bucket), height=380)
    st.subheader(f"Votes and positive rate per {bucket}")
    st.caption(
        "Bars: votes on the runs of each "
        f"{bucket} (so a 100% from 2 votes reads as what it is). Line: share of thumbs-up with its 95% Wilson "
        "interval. Click a point or box-select a stretch to narrow the dates."
    )
    event = chart(fig, "chart_over_time", alt=f"Votes and positive rate per {bucket}", selection=("points", "box"))
    narrow_to_time(event, bucket)


def draw_rate_by(rows: list[dict], name: str, param: str, title: str) -> None:
    labels = [chart_label(row[name] or "(none)") for row in rows]
    fig = go.Figure(
        go.Bar(
            x=[row["positive_rate"] for row in rows],
            y=labels,
            orientation="h",
            marker_color=[NEGATIVE if (row["high"] or 0) < 0.5 else NEUTRAL for row in rows],
            error_x=interval(rows),
            text=[f"{percent(row['positive_rate'])} of {row['votes']:,}" for row in rows],
            textposition="inside",
            insidetextanchor="start",
            customdata=[[row[name]] for row in rows],
            hovertemplate="%{y}: %{x:.0%} positive of %{text}<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=".0%", range=[0, 1.05], title_text="positive rate (95% Wilson interval)")
    fig.update_yaxes(autorange="reversed", type="category")
    layout(empty(fig, rows), height=max(200, 70 + 42 * len(rows)))
    st.subheader(title)
    st.caption("Worst first. Whiskers: 95% Wilson interval; red: surely below 50%. Click a bar to narrow.")
    event = chart(fig, f"chart_rate_{param}", alt=title)
    narrow_to_one(event, param)


def tag_traces(fig: go.Figure, rows: list[dict], key: str) -> None:
    tags = [tag for tag in TAG_COLORS if any(row["tag"] == tag for row in rows)]
    tags += sorted({row["tag"] for row in rows} - set(tags))
    for tag in tags:
        mine = [row for row in rows if row["tag"] == tag]
        fig.add_bar(
            x=[chart_label(row[key] or "(none)") for row in mine],
            y=[row["negative"] for row in mine],
            name=chart_label(tag),
            marker_color=TAG_COLORS.get(tag, NEUTRAL),
            customdata=[[row[key]] for row in mine],
            hovertemplate="%{x}: %{y} × %{fullData.name}<extra></extra>",
        )
    fig.update_layout(barmode="stack")


def draw_tags(over_time: dict, by_assistant: list[dict]) -> None:
    st.subheader("Reasons given for thumbs-down")
    st.caption(
        "Reason tags of negative whole-run votes; a vote with two tags counts for each, one without tags as `untagged`."
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        tag_traces(fig, over_time["rows"], "bucket")
        fig.update_yaxes(title_text="negative votes")
        time_axis(fig, [row["bucket"] for row in over_time["rows"]], over_time["bucket"])
        layout(empty(fig, over_time["rows"]), title={"text": f"per {over_time['bucket']}", "font": {"size": 14}})
        event = chart(fig, "chart_tags_time", alt="Reason tags over time", selection=("points", "box"))
        narrow_to_time(event, over_time["bucket"])
    with right:
        fig = go.Figure()
        tag_traces(fig, by_assistant, "assistant_id")
        fig.update_yaxes(title_text="negative votes")
        fig.update_xaxes(type="category")
        layout(empty(fig, by_assistant), title={"text": "per assistant", "font": {"size": 14}})
        event = chart(fig, "chart_tags_assistant", alt="Reason tags by assistant")
        narrow_to_one(event, "assistant")


def draw_follow_ups(rows: list[dict]) -> None:
    st.subheader("Follow-ups by rating")
    st.caption(
        "How often a successful run is followed by another run in its thread, by that run's votes (here every "
        "vote on the run counts, votes on its single messages too). "
        "A follow-up after a thumbs-down is the sign the answer did not help."
    )
    counted = [row for row in rows if row["runs"]]
    fig = go.Figure(
        go.Bar(
            x=[FOLLOW_UP_LABELS[row["rating"]] for row in counted],
            y=[row["rate"] for row in counted],
            marker_color=[{"negative": NEGATIVE, "positive": POSITIVE}.get(row["rating"], NEUTRAL) for row in counted],
            error_y=interval(counted, "rate"),
            text=[f"{row['followed_up']:,} of {row['runs']:,}" for row in counted],
            textposition="inside",
            hovertemplate="%{x}: %{y:.0%} followed up (%{text} runs)<extra></extra>",
        )
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title_text="followed up (95% interval)")
    layout(empty(fig, counted))
    st.plotly_chart(fig, key="chart_follow_ups", config={"displaylogo": False}, alt="Follow-up rate by rating")


def draw_reviewers(rows: list[dict], agreement: dict) -> None:
    st.subheader("Reviewers")
    st.caption(
        "Reviewer votes only (end users are not reviewers): per reviewer every vote, on whole runs and on single "
        "messages; agreement on whole-run votes. Click a reviewer or an assistant to narrow."
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        for label, key, color in (("thumbs-up", "positive", POSITIVE), ("thumbs-down", "negative", NEGATIVE)):
            fig.add_bar(
                x=[row[key] for row in rows],
                y=[chart_label(row["reviewer"]) for row in rows],
                orientation="h",
                name=label,
                marker_color=color,
                customdata=[[row["reviewer"]] for row in rows],
                hovertemplate=f"%{{y}}: %{{x}} {label}<extra></extra>",
            )
        fig.update_layout(barmode="stack")
        fig.update_yaxes(autorange="reversed", type="category")
        layout(
            empty(fig, rows),
            height=max(240, 90 + 34 * len(rows)),
            title={"text": "votes per reviewer", "font": {"size": 14}},
        )
        event = chart(fig, "chart_reviewers", alt="Votes per reviewer")
        narrow_to_one(event, "reviewer")
    with right:
        head = st.columns(3)
        head[0].metric("Co-rated runs", f"{agreement['runs']:,}", help="Runs rated as a whole by 2 or more reviewers")
        head[1].metric("Agreement", percent(agreement["percent_agreement"]), help=AGREEMENT_HELP)
        head[2].metric("Fleiss' κ", kappa_text(agreement["kappa"]), help=AGREEMENT_HELP)
        rows = agreement["by_assistant"]
        fig = go.Figure(
            go.Bar(
                x=[
                    f"{chart_label(row['assistant_id'] or '(none)')}<br>κ {kappa_text(row['kappa'])} · "
                    f"{row['runs']} runs"
                    for row in rows
                ],
                y=[row["percent_agreement"] for row in rows],
                marker_color=NEUTRAL,
                text=[percent(row["percent_agreement"]) for row in rows],
                textposition="inside",
                customdata=[[row["assistant_id"]] for row in rows],
                hovertemplate="%{x}: %{y:.0%} agreement<extra></extra>",
            )
        )
        fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title_text="agreement")
        fig.update_xaxes(type="category")
        layout(empty(fig, rows), height=260, title={"text": "agreement per assistant", "font": {"size": 14}})
        event = chart(fig, "chart_agreement", alt="Reviewer agreement per assistant")
        narrow_to_one(event, "assistant")


AGREEMENT_HELP = (
    "On runs that two or more reviewers rated as a whole: the share of reviewer pairs that gave the same "
    "rating (for two reviewers, how often they agree). Fleiss' kappa corrects that for the agreement "
    "expected by chance: 1 is perfect, 0 no better than chance."
)


def draw_worst_runs(rows: list[dict]) -> None:
    st.subheader("Runs with the most thumbs-down")
    if not rows:
        st.caption("No run has a thumbs-down under these filters.")
    else:
        st.caption(
            "Most negative votes first, newest first among equals; every thumbs-down on the run counts, on its "
            "single messages too. Select a row to open the run."
        )
    table = {
        "thumbs-down": [row["negative"] for row in rows],
        "thumbs-up": [row["positive"] for row in rows],
        "run started": [row["created_at"][:16].replace("T", " ") for row in rows],
        "assistant": [row["assistant_id"] for row in rows],
        "model": [row["model_name"] for row in rows],
        "status": [row["status"] for row in rows],
        "question": [row["question"] for row in rows],
        "latest negative comment": [row["latest_comment"] for row in rows],
    }
    event = st.dataframe(
        table,
        key="worst_runs",
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_config={
            "question": st.column_config.TextColumn(width="large"),
            "latest negative comment": st.column_config.TextColumn(width="large"),
        },
    )
    picked = event.selection.rows if event else []
    if picked and picked[0] < len(rows):
        row = rows[picked[0]]
        st.switch_page("pages/thread.py", query_params={"thread": row["thread_id"], "run": row["run_id"]})


# ---------------------------------------------------------------------------------------------- page

title, clear = st.columns([5, 1], vertical_alignment="bottom")
title.title("Stats")
_filters.clear_button(clear)
current_store = _shared.store()
me = _identity.reader()
try:
    choices = _filters.load_choices(current_store, current_store.url, me)
    chosen = _filters.filter_bar(choices, prefix="stats")
    data = load_dashboard(current_store, current_store.url, chosen, me)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

draw_headline(data["headline"], chosen)
with st.expander("Did something just break? Daily alerts per assistant", expanded=True):
    _alerts.draw_alerts(current_store, chosen)
draw_over_time(data["over_time"])
left, right = st.columns(2)
with left:
    draw_rate_by(data["by_assistant"], "assistant_id", "assistant", "Positive rate by assistant")
with right:
    draw_rate_by(data["by_model"], "model_name", "model", "Positive rate by model")
draw_tags(data["tags_over_time"], data["tags_by_assistant"])
draw_follow_ups(data["follow_ups"])
draw_reviewers(data["reviewers"], data["reviewer_agreement"])
_criteria.draw_criteria(data["criteria"])
draw_worst_runs(data["worst_runs"])
if st.button("Export this feedback", icon=":material/download:"):
    st.switch_page("pages/export.py", query_params=dict(st.query_params))
