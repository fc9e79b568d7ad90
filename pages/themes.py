"""Themes: why do people dislike answers? Words and phrases typical of negative comments.

Phrases are scored by weighted log-odds with an informative Dirichlet prior (Monroe, Colaresi and
Quinn 2008) against the positive comments, in English and Chinese (split into words by jieba), stop
words removed. Picking a phrase lists the feedback that contains it; a row opens its run. Reason
tags by model and assistant sit beside it. Numbers from `data_layer.insights`; this page only draws.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from data_layer import errors, insights
from data_layer.filters import Filters
from pages import _filters, _identity, _shared
from pages._text import chart_label, plain

SHOWN = 20


@st.cache_data(ttl=30, show_spinner="Reading comments…")
def load_themes(_store, url: str, filters: Filters, reader) -> dict:
    return insights.themes(_store, filters, actor=reader)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_tags(_store, url: str, dimension: str, filters: Filters) -> list[dict]:
    return insights.tags_by(_store, dimension, filters)


def phrases_figure(found: list[dict]) -> go.Figure:
    shown = list(reversed(found[:SHOWN]))
    figure = go.Figure(
        go.Bar(
            x=[row["z"] for row in shown],
            y=[chart_label(row["phrase"]) for row in shown],
            orientation="h",
            marker_color="#e53935",
            customdata=[[row["negative"], row["positive"]] for row in shown],
            hovertemplate="%{y}: z %{x:.2f} · in %{customdata[0]} negative, %{customdata[1]} positive<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(260, 22 * len(shown) + 60),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "how typical of negative comments (z of the log-odds)"},
    )
    return figure


def tag_table(rows: list[dict]) -> list[dict]:
    by_name: dict = {}
    for row in rows:
        by_name.setdefault(row["name"] or "(none)", {})[row["tag"]] = row["negative"]
    tags = sorted({row["tag"] for row in rows})
    return [{"": name, **{tag: counts.get(tag, 0) for tag in tags}} for name, counts in by_name.items()]


def feedback_list(ids: list[str], phrase: str) -> None:
    try:
        rows = insights.feedback_by_ids(_shared.store(), ids, actor=_identity.reader())
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    st.markdown(f"**{len(rows)} negative comments contain “{plain(phrase)}”** · select a row to open its run")
    picked = st.dataframe(
        [
            {
                "comment": row["comment"],
                "tags": ", ".join(row["tags"] or []),
                "model": row["model_name"],
                "assistant": row["assistant_id"],
                "by": f"{row['owner_id'] or 'anonymous'} ({'end user' if row['source'] == 'end_user' else 'reviewer'})",
                "at": _shared.when(row["created_at"]),
            }
            for row in rows
        ],
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="themes_feedback",
    )
    chosen = picked.selection.rows if picked else []
    if chosen and chosen[0] < len(rows):
        row = rows[chosen[0]]
        st.switch_page("pages/thread.py", query_params={"thread": row["thread_id"], "run": row["run_id"]})


title, clear = st.columns([5, 1], vertical_alignment="bottom")
title.title("Why do people dislike answers?")
_filters.clear_button(clear)
current = _shared.store()
me = _identity.reader()
try:
    choices = _filters.load_choices(current, current.url, me)
    chosen_filters = _filters.filter_bar(choices, prefix="themes")
    found = load_themes(current, current.url, chosen_filters, me)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.caption(
    f"{_filters.counted(chosen_filters, votes='comments of votes on whole runs and on single messages')}. "
    f"Words and two-word phrases of {found['negative_comments']} negative comments against "
    f"{found['positive_comments']} positive ones, scored by weighted log-odds with an informative Dirichlet prior "
    "(Monroe, Colaresi and Quinn 2008); shown when in at least 2 negative comments and z > 1.96. English stop words "
    "are removed; Chinese is split into words with jieba."
    + (" Only the newest comments were read." if found["truncated"] else "")
)
phrases = found["phrases"]
chosen = None
if not phrases:
    st.info("No phrase stands out in the negative comments (or there are too few comments yet).")
else:
    left, right = st.columns([1, 1.2])
    with left:
        st.plotly_chart(phrases_figure(phrases), key="themes_chart")
    with right:
        st.markdown("**Pick a phrase to see the feedback that contains it**")
        by_phrase = {row["phrase"]: row for row in phrases}
        chosen = st.pills(
            "Phrase",
            list(by_phrase)[:SHOWN],
            format_func=plain,
            key="themes_phrase",
            label_visibility="collapsed",
            wrap=True,
        )
        if chosen:
            row = by_phrase[chosen]
            where = ", ".join(f"{plain(name)} {count}" for name, count in list(row["by_model"].items())[:4])
            st.caption(
                f"“{plain(chosen)}”: in {row['negative']} negative, {row['positive']} positive comments · {where}"
            )
    if chosen:
        feedback_list(by_phrase[chosen]["feedback_ids"], chosen)

st.subheader("Reason tags of negative votes")
st.caption(f"{_filters.counted(chosen_filters)}, as on Stats; a vote with two tags counts for each.")
tabs = st.tabs(["By model", "By assistant"])
for tab, dimension in zip(tabs, ("model_name", "assistant_id")):
    with tab:
        rows = load_tags(current, current.url, dimension, chosen_filters)
        if rows:
            st.dataframe(tag_table(rows), hide_index=True, key=f"themes_tags_{dimension}")
        else:
            st.caption("No tagged negative votes.")
