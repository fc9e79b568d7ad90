"""The Stats page's "Rubric criteria" section: what reviewers scored beside the thumbs, per criterion of
the queues' rubrics, overall or per assistant or model, with 95 % intervals (`data_layer.stats.criteria`)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages._charts import NEUTRAL, chart, interval, layout, percent
from pages._text import chart_label

SPLITS = {"overall": None, "per assistant": ("by_assistant", "assistant_id"), "per model": ("by_model", "model_name")}
CAPTION = (
    "Scores reviewers gave the criteria of a queue's rubric beside their thumbs, on whole-run votes under these "
    "filters (a run's assistant, model and dates; the reviewer and source narrow the votes). Binary: share of "
    "*yes* with its 95 % Wilson interval. Ordinal (1 to 5): mean with its 95 % t interval. Categorical: share "
    "of each option with its 95 % Wilson interval. *scored*: how many votes scored the criterion."
)
OPTION_COLORS = ("#3949ab", "#00897b", "#fb8c00", "#8e24aa", "#6d4c41", "#e53935", "#9e9e9e")


def summary_text(kind: str, summary: dict) -> str:
    """One cell: the rate, mean or shares with their intervals."""
    if kind == "binary":
        if summary["rate"] is None:
            return "–"
        return f"{percent(summary['rate'])} yes ({percent(summary['low'])} to {percent(summary['high'])})"
    if kind == "ordinal":
        if summary["mean"] is None:
            return "–"
        if summary["low"] is None:
            return f"mean {summary['mean']:.2f} (one score: no interval)"
        return f"mean {summary['mean']:.2f} ({summary['low']:.2f} to {summary['high']:.2f})"
    return " · ".join(f"{share['option']} {percent(share['share'])}" for share in summary["shares"])


def _groups(row: dict, split) -> list[tuple[str, dict]]:
    if split is None:
        return [("all", row["overall"])]
    part, key = split
    return [(group[key] or "(none)", group) for group in row[part]]


def _figure(row: dict, split) -> go.Figure:
    groups = _groups(row, split)
    labels = [chart_label(name) for name, _ in groups]
    fig = go.Figure()
    if row["kind"] == "categorical":
        options = list(dict.fromkeys(share["option"] for _, summary in groups for share in summary["shares"]))
        for n, option in enumerate(options):
            shares = [next((s for s in summary["shares"] if s["option"] == option), None) for _, summary in groups]
            fig.add_bar(
                x=[share["share"] if share else 0 for share in shares],
                y=labels,
                orientation="h",
                name=chart_label(option),
                marker_color=OPTION_COLORS[n % len(OPTION_COLORS)],
                hovertemplate="%{y}: %{x:.0%} " + chart_label(option) + "<extra></extra>",
            )
        fig.update_layout(barmode="stack")
        fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="share of each option")
    else:
        value = "rate" if row["kind"] == "binary" else "mean"
        summaries = [summary for _, summary in groups]
        whiskers = [
            {**summary, "low": summary["low"] or summary[value], "high": summary["high"] or summary[value]}
            for summary in summaries
        ]
        fig.add_bar(
            x=[summary[value] for summary in summaries],
            y=labels,
            orientation="h",
            marker_color=NEUTRAL,
            error_x=interval(whiskers, value),
            text=[f"{summary['scored']:,} scored" for summary in summaries],
            textposition="inside",
            insidetextanchor="start",
            hovertemplate="%{y}: %{x:.2f} (%{text})<extra></extra>",
        )
        if row["kind"] == "binary":
            fig.update_xaxes(tickformat=".0%", range=[0, 1.05], title_text="share yes (95% Wilson interval)")
        else:
            fig.update_xaxes(range=[1, 5.2], dtick=1, title_text="mean, 1 to 5 (95% t interval)")
    fig.update_yaxes(autorange="reversed", type="category")
    title = f"{chart_label(row['criterion'])} ({row['kind']})"
    return layout(fig, height=max(170, 90 + 36 * len(groups)), title={"text": title, "font": {"size": 14}})


def draw_criteria(rows: list[dict]) -> None:
    st.subheader("Rubric criteria")
    if not rows:
        st.caption(
            "No vote under these filters scores a rubric criterion. Criteria come from a queue's rubric; reviewers "
            "score them on the queue's card."
        )
        return
    st.caption(CAPTION)
    choice = st.segmented_control("Criteria", list(SPLITS), default="overall", key="stats_criteria_by")
    split = SPLITS[choice or "overall"]
    table: dict[str, list] = {"criterion": [], "kind": [], "group": [], "scored": [], "result (95% interval)": []}
    for row in rows:
        for name, summary in _groups(row, split):
            table["criterion"].append(row["criterion"])
            table["kind"].append(row["kind"])
            table["group"].append(name)
            table["scored"].append(summary["scored"])
            table["result (95% interval)"].append(summary_text(row["kind"], summary))
    st.dataframe(table, hide_index=True, width="stretch", key="criteria_table")
    columns = st.columns(min(3, len(rows)))
    for n, row in enumerate(rows):
        with columns[n % len(columns)]:
            chart(_figure(row, split), f"chart_criterion_{row['criterion']}_{row['kind']}", alt=row["criterion"])
