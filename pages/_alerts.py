"""The "did something just break?" section of the stats page: each assistant's daily positive rate in
a p-chart band, and the days that fell below it, under the page's filters (the window ends with the
filters' last day). All numbers come from `data_layer.insights.daily_series`; this module only draws.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from data_layer import errors, insights
from data_layer.filters import Filters
from pages import _filters, _shared
from pages._charts import time_axis
from pages._text import chart_label, plain


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def _series(_store, url: str, days: int, filters: Filters) -> dict:
    return insights.daily_series(_store, filters, days=days)


def p_chart_figure(assistant: str, rows: list[dict]) -> go.Figure:
    """One assistant's daily rate (marker size: votes) inside its band; days below it in red."""
    days = [row["day"] for row in rows]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=days,
            y=[row["high"] for row in rows],
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
            line_shape="hv",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=days,
            y=[row["low"] for row in rows],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(144,164,174,0.3)",
            name="expected ± 3 SE",
            line_shape="hv",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=days,
            y=[row["expected"] for row in rows],
            mode="lines",
            line={"dash": "dot", "color": "#607d8b"},
            name="expected rate",
        )
    )
    colors = {"low": "#e53935", "high": "#1e88e5", None: "#43a047"}
    figure.add_trace(
        go.Scatter(
            x=days,
            y=[row["rate"] for row in rows],
            mode="markers+lines",
            line={"color": "#9e9e9e", "width": 1},
            marker={
                "color": [colors[row["flag"]] for row in rows],
                "size": [6 + min(14, row["votes"] ** 0.5 * 1.5) for row in rows],
            },
            customdata=[[row["votes"], row["positive"]] for row in rows],
            hovertemplate="%{x}: %{y:.0%} of %{customdata[0]} votes<extra></extra>",
            name="positive rate (size: votes)",
        )
    )
    time_axis(figure, days)
    figure.update_layout(
        title=chart_label(assistant),
        height=260,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis={"tickformat": ".0%", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def draw_alerts(store, filters: Filters, *, days: int = 60, recent: int = 28, key: str = "alerts") -> None:
    """The p-chart of every assistant over `days` days and the table of alert days in the last `recent`."""
    try:
        series = _series(store, store.url, days, filters)
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    if not series["series"]:
        st.info("No votes match these filters, so there is nothing to watch.")
        return
    found = insights.flagged(series, recent)
    st.caption(
        f"{_filters.counted(filters, dated=False)}: the daily positive rate of each assistant's runs over the "
        f"{days} days up to {series['until']} (the end of the date range, or the newest run if earlier). The "
        "band is the rate expected from the other days ± 3 standard errors for that day's number of votes (a "
        "p-chart), so a day with few votes gets a wide band. "
        f"A day below the band in the last {recent} days is an alert (also `python -m data_layer stats --alerts`)."
    )
    if found:
        st.error(
            f"{len(found)} alert{'s' if len(found) != 1 else ''}: "
            + "; ".join(
                f"{plain(row['assistant_id'])} on {row['day']} ({row['rate']:.0%} of {row['votes']} votes, "
                f"expected {row['expected']:.0%})"
                for row in found[:5]
            ),
            icon=":material/notification_important:",
        )
        st.dataframe(
            [
                {
                    "day": row["day"],
                    "assistant": row["assistant_id"],
                    "votes": row["votes"],
                    "positive rate": row["rate"],
                    "expected": row["expected"],
                    "band low": row["low"],
                }
                for row in found
            ],
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(format="percent")
                for name in ("positive rate", "expected", "band low")
            },
            key=f"{key}_table",
        )
    else:
        st.success(f"No day in the last {recent} days fell below its band.", icon=":material/check_circle:")
    for assistant, rows in series["series"].items():
        st.plotly_chart(p_chart_figure(assistant or "(no assistant)", rows), key=f"{key}_{assistant}")
