"""The Queues page's numbers for one queue: progress per reviewer (who is behind), the estimate of all
traffic by assistant, model and week beside the end users' thumbs, the reviewers' agreement, and the
precision advice. Reads through `store.queues`; every read takes the signed-in reader."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from data_layer import auth, errors
from pages import _charts, _shared
from pages._text import chart_label, plain

SPLITS = {"assistant_id": "assistant", "model_name": "model", "week": "week"}
BEHIND_COLOUR = "background-color: rgba(229, 57, 53, 0.15)"


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def progress(name: str, reader: auth.Actor) -> dict:
    return _shared.store().queues.progress(name, actor=reader)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def estimate(name: str, by: str, reader: auth.Actor) -> dict:
    return _shared.store().queues.estimate(name, by=by, actor=reader)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def agreement(name: str, reader: auth.Actor) -> dict:
    return _shared.store().queues.agreement(name, actor=reader)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def advice(name: str, margin: float, reader: auth.Actor) -> dict:
    return _shared.store().queues.advice(name, margin=margin, actor=reader)


def runs(count: int, word: str = "run") -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def progress_section(name: str, reader: auth.Actor) -> None:
    st.subheader("Progress")
    found = progress(name, reader)
    every = auth.can(reader, "view_progress")
    with st.container(horizontal=True):
        st.metric("Runs done", f"{found['done']:,} of {found['items']:,}")
        st.metric("Votes still needed", f"{found['votes_needed']:,}")
        st.metric("Left for you", f"{found['left_for_me']:,}" if auth.can(reader, "queue") else "–")
    rows = found["reviewers"]
    if not rows:
        st.caption(
            "No reviewer has voted on this queue yet."
            if every
            else "You have not voted on this queue yet; a lead sees every reviewer's progress."
        )
        return
    table = pd.DataFrame(
        [
            {
                "reviewer": row["reviewer"],
                "done": row["done"],
                "remaining": row["remaining"],
                "pace per hour": "–" if row["pace_per_hour"] is None else f"{row['pace_per_hour']:.1f}",
                "last hour": row["last_hour"],
                "agreement": share(row["agreement"]),
                "even share": "–" if row["even_share"] is None else f"{row['even_share']:.0f}",
                "behind": "behind" if row["behind"] else "",
            }
            for row in rows
        ]
    )
    styled = table.style.apply(lambda row: [BEHIND_COLOUR if row["behind"] else ""] * len(row), axis=1)
    st.dataframe(styled, hide_index=True, key="qs_progress")
    if every:
        late = found["behind"]
        said = f"Behind: {plain(', '.join(late))}." if late else "Nobody is behind."
        st.caption(
            f"{said} A reviewer with runs left is behind when they have done under half the team's average "
            f"({found['average_done']:.1f} runs each so far). Agreement: how often their vote sides with the "
            "others' majority on the same run."
        )
    else:
        st.caption("Your own row and the queue's totals; a lead sees every reviewer's row and who is behind.")


def estimate_section(name: str, reader: auth.Actor) -> None:
    st.subheader("Quality of all traffic")
    split = st.segmented_control(
        "Split by", list(SPLITS), format_func=SPLITS.get, default="assistant_id", key="qs_by", bind="query-params"
    )
    found = estimate(name, split or "assistant_id", reader)
    if found["estimate"] is None:
        st.info(f"No estimate yet: {plain(found.get('reason', ''))}.", icon=":material/hourglass_empty:")
    else:
        with st.container(horizontal=True):
            st.metric("Good runs, all traffic", share(found["estimate"]))
            st.metric("95 % interval", f"{share(found['low'])} to {share(found['high'])}")
            st.metric("Sampled runs judged", f"{found['rated_items']:,} of {found['sampled_items']:,}")
    st.markdown(plain(found["in_words"]))
    left_out = []
    if found["selected_only_items"]:
        left_out.append(
            f"{runs(found['selected_only_items'])} that entered by the selection alone "
            f"{'is' if found['selected_only_items'] == 1 else 'are'} left out: no random sample of the traffic"
        )
    if found["disputed_items"]:
        left_out.append(
            f"{runs(found['disputed_items'], 'sampled run')} {'is' if found['disputed_items'] == 1 else 'are'} "
            "disputed (a tie) and wait for a verdict"
        )
    if left_out:
        st.caption("; ".join(left_out) + ".")
    groups = found.get("groups", [])
    if not groups:
        return
    label = SPLITS[found["by"]]
    table = pd.DataFrame(
        [
            {
                label: "(none)" if group[found["by"]] is None else str(group[found["by"]]),
                "good": group["estimate"],
                "low": group["low"],
                "high": group["high"],
                "judged": group["rated_items"],
                "sampled": group["sampled_items"],
                "end users up": group["end_user_rate"],
                "end-user votes": group["end_user_votes"],
            }
            for group in groups
        ]
    )
    chart_column, table_column = st.columns([3, 2])
    with chart_column:
        shown = [group for group in groups if group["estimate"] is not None]
        names = [chart_label("(none)" if g[found["by"]] is None else g[found["by"]]) for g in shown]
        fig = go.Figure()
        fig.add_bar(
            x=names,
            y=[g["estimate"] for g in shown],
            name="random sample: good",
            marker_color=_charts.POSITIVE,
            error_y=_charts.interval(shown, "estimate"),
        )
        fig.add_scatter(
            x=names,
            y=[g["end_user_rate"] for g in shown],
            mode="markers",
            name="end users: thumbs up",
            marker={"symbol": "diamond", "size": 11, "color": _charts.NEUTRAL},
        )
        fig.update_yaxes(range=[0, 1], tickformat=".0%")
        _charts.layout(_charts.empty(fig, shown), height=320)
        st.plotly_chart(
            fig,
            key="qs_estimate_chart",
            config={"displaylogo": False},
            alt=f"Share of good runs by {label} with 95 % intervals, beside the end users' thumbs-up share",
        )
    with table_column:
        st.dataframe(
            table.style.format(
                {name: lambda v: share(v) if pd.notna(v) else "–" for name in ("good", "low", "high", "end users up")}
            ),
            hide_index=True,
            key="qs_estimate_table",
        )


def agreement_section(name: str, reader: auth.Actor) -> None:
    st.subheader("Agreement between reviewers")
    found = agreement(name, reader)
    said = []
    with st.container(horizontal=True):
        for key, title in (("fleiss_kappa", "Fleiss' kappa"), ("krippendorff_alpha", "Krippendorff's alpha")):
            statistic = found[key]
            st.metric(title, "–" if statistic["value"] is None else f"{statistic['value']:.2f}")
            if statistic["value"] is None:
                said.append(f"{title}: {statistic.get('reason')}")
            elif statistic["low"] is None:
                said.append(f"{title}: too few runs for an interval")
            else:
                said.append(f"{title}: 95 % interval {statistic['low']:.2f} to {statistic['high']:.2f}")
    st.caption(
        f"Over {found['items_compared']:,} runs with two votes or more ({found['items_with_k_votes']:,} with the "
        f"{found['reviewers_per_item']} the queue asks). " + plain("; ".join(said)) + "."
    )
    criteria_table(found["criteria"])


def statistic_cell(statistic: dict) -> str:
    """A statistic as a table cell: its value with its 95 % interval, or why there is none."""
    if statistic["value"] is None:
        return f"– ({statistic.get('reason')})"
    if statistic["low"] is None:
        return f"{statistic['value']:.2f} (too few runs for an interval)"
    return f"{statistic['value']:.2f} ({statistic['low']:.2f} to {statistic['high']:.2f})"


def criteria_table(criteria: list[dict]) -> None:
    """The same agreement on each criterion of the queue's rubric."""
    if not criteria:
        return
    st.markdown("**Per criterion of the rubric**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "criterion": row["criterion"],
                    "kind": row["kind"],
                    "Fleiss' kappa (95 %)": statistic_cell(row["fleiss_kappa"]),
                    "Krippendorff's alpha (95 %)": statistic_cell(row["krippendorff_alpha"]),
                    "runs compared": row["items_compared"],
                }
                for row in criteria
            ]
        ),
        hide_index=True,
        key="qs_criteria_agreement",
    )
    st.caption(
        "Each criterion's scores from the reviewers' votes: Fleiss' kappa over the runs scored by as many "
        "reviewers as the queue asks, Krippendorff's alpha over every run scored twice or more (for an ordinal "
        "criterion at the ordinal level: 2 against 3 disagrees less than 1 against 5). A reviewer who leaves "
        "an optional criterion out scores one run fewer."
    )


def advice_section(name: str, reader: auth.Actor) -> None:
    st.subheader("Precision advice")
    margin = st.number_input(
        "Margin wanted, +- percentage points (95 %), per week and assistant",
        min_value=0.1,
        max_value=50.0,
        value=3.0,
        step=0.5,
        key="qs_margin",
        width=360,
    )
    try:
        found = advice(name, round(float(margin), 3) / 100, reader)
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    if found["sample_rate"] is not None:
        with st.container(horizontal=True):
            st.metric(
                "Sample rate needed",
                share(found["sample_rate"]),
                help="capped at every run" if found["capped"] else None,
            )
            st.metric("Now", share(found["current_rate"]))
            st.metric("Reviewer votes a week", f"{found['votes_per_week']:,.0f}")
    (st.warning if found["capped"] else st.markdown)(plain(found["sentence"]))
    if found["assistants"]:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "assistant": "(none)" if row["assistant_id"] is None else row["assistant_id"],
                        "runs a week": row["runs_per_week"],
                        "rate needed": min(row["rate_needed"], 1.0),
                    }
                    for row in found["assistants"]
                ]
            ).style.format({"runs a week": "{:,.1f}", "rate needed": "{:.1%}"}),
            hide_index=True,
            key="qs_advice_table",
        )
