"""The insight pages' charts: their look, a time axis that reads as days, and the chart clicks that
narrow the page.

A click on a bar or a point (or a box over a stretch of time) writes the value it names into the URL
(`assistant`, `model`, `reviewer`, `from`/`to`), which the filter bar (`pages/_filters.py`) reads.
"""

from __future__ import annotations

from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st

POSITIVE = "#43a047"
NEGATIVE = "#e53935"
NEUTRAL = "#90a4ae"
# Up to this many days (or weeks) the time axis is a row of labelled categories, one per day: a date
# axis over one day zooms into milliseconds, and over a few days labels fall between the bars.
FEW_BUCKETS = 14


def narrow(**changes) -> None:
    """Apply a chart click to the URL and redraw; nothing happens when it changes nothing."""
    fresh = {name: value for name, value in changes.items() if value and st.query_params.get(name) != value}
    if fresh:
        st.query_params.update(fresh)
        st.rerun()


def selected_values(event) -> list:
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    values = []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list) and data:
            data = data[0]
        if data is not None:
            values.append(data)
    return values


def narrow_to_one(event, param: str) -> None:
    """A click on one category (assistant, model, reviewer) narrows to it."""
    values = set(selected_values(event))
    if len(values) == 1:
        narrow(**{param: values.pop()})


def narrow_to_time(event, bucket: str) -> None:
    """A click on a day or week, or a box over several, narrows the date range to them."""
    days = sorted(selected_values(event))
    if days:
        last = date.fromisoformat(days[-1]) + timedelta(days=6 if bucket == "week" else 0)
        narrow(**{"from": days[0], "to": last.isoformat()})


def time_axis(fig: go.Figure, buckets: list[str], bucket: str = "day") -> go.Figure:
    """An x axis of days (or of weeks, each named by its Monday) that reads well for one day as for a
    year: a few are categories, every day (week) from the first to the last labelled, gaps kept;
    more are a date axis with month-day labels."""
    if not buckets:
        return fig
    step = timedelta(days=7 if bucket == "week" else 1)
    first, last = date.fromisoformat(min(buckets)), date.fromisoformat(max(buckets))
    if (last - first) // step < FEW_BUCKETS:
        every = [(first + step * n).isoformat() for n in range((last - first) // step + 1)]
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=every, tickangle=0)
    else:
        fig.update_xaxes(type="date", tickformat="%b %d\n%Y", hoverformat="%Y-%m-%d")
    return fig


def kappa_text(kappa: float | None) -> str:
    return "–" if kappa is None else f"{kappa:.2f}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def layout(fig: go.Figure, *, height: int = 340, **extra) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        hovermode="closest",
        **extra,
    )
    return fig


def empty(fig: go.Figure, rows) -> go.Figure:
    if not rows:
        fig.add_annotation(
            text="No votes match these filters", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig


def chart(fig: go.Figure, key: str, *, alt: str, selection=("points",)):
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": key, "scale": 2}}
    return st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=selection, config=config, alt=alt)


def interval(rows: list[dict], value: str = "positive_rate") -> dict:
    return {
        "type": "data",
        "symmetric": False,
        "array": [(row["high"] - row[value]) if row[value] is not None else 0 for row in rows],
        "arrayminus": [(row[value] - row["low"]) if row[value] is not None else 0 for row in rows],
        "color": "#546e7a",
        "thickness": 1.2,
    }
