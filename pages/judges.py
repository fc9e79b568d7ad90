"""Judges: can we trust an LLM judge's pass rate? Each judge against people, and its rate corrected.

The table lists every judge: its runs, its raw pass rate, the rate corrected for its errors with the
95 % interval, and its hit rates and kappa against people's verdicts (`data_layer.judges`). One judge,
chosen in the URL (`?judge=`), gets its numbers in words, by assistant and model, per rubric criterion
both it and the reviewers scored, its agreement with people week by week, and the runs where it and
people disagree, each opening its thread: what the people fixing the judge's prompt read. The judge's
rationale is text from outside, drawn as text.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from data_layer import errors
from data_layer.judges import calibration
from pages import _charts, _identity, _shared

MIN_WEEK_RUNS = 10


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_summary(_store, url: str, reader, sampled_only: bool) -> list[dict]:
    return _store.judges.summary(actor=reader, sampled_only=sampled_only)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_judge(_store, url: str, reader, judge: str, sampled_only: bool) -> tuple[dict, dict, dict, list[dict]]:
    numbers = {
        by: _store.judges.calibration(judge, by=by, sampled_only=sampled_only, actor=reader)
        for by in ("assistant_id", "model_name", "week")
    }
    listed = _store.judges.disagreements(judge, sampled_only=sampled_only, limit=200, actor=reader)
    return numbers["assistant_id"], numbers["model_name"], numbers["week"], listed


def interval(row: dict, value: str, low: str, high: str) -> str:
    if row[value] is None:
        return "–"
    return f"{row[value]:.0%} ({row[low]:.0%} to {row[high]:.0%})"


def people_rate(row: dict) -> float | None:
    """People's share of good runs among the calibration runs (those both people and the judge rated)."""
    table = row["table"]
    return (table["tp"] + table["fn"]) / row["calibration_runs"] if row["calibration_runs"] else None


def points(value: float | None) -> float | None:
    """A share as percentage points, for the tables' whole-percent format."""
    return None if value is None else round(value * 100, 1)


def numbers_row(row: dict) -> dict:
    return {
        "runs judged": row["judged_runs"],
        "judge, raw": points(row["raw_rate"]),
        "judge, corrected (95 %)": interval(row, "corrected_rate", "corrected_low", "corrected_high"),
        "people": points(people_rate(row)),
        "calibration runs": row["calibration_runs"],
        "sensitivity": points(row["sensitivity"]),
        "specificity": points(row["specificity"]),
        "kappa": _charts.kappa_text(row["kappa"]),
        "note": row["reason"] or "",
    }


def criterion_row(row: dict) -> dict:
    """One rubric criterion: a binary one's table and hit rates, another's exact-match rate."""
    binary = row["kind"] == "binary"
    table = row.get("table") or {}
    return {
        "criterion": row["criterion"],
        "kind": row["kind"],
        "runs compared": row["runs"],
        "table (tp fn fp tn)": " ".join(str(table[cell]) for cell in ("tp", "fn", "fp", "tn")) if binary else "–",
        "sensitivity (95 %)": interval(row, "sensitivity", "sensitivity_low", "sensitivity_high") if binary else "–",
        "specificity (95 %)": interval(row, "specificity", "specificity_low", "specificity_high") if binary else "–",
        "kappa": _charts.kappa_text(row["kappa"]) if binary else "–",
        "exact match (95 %)": "–" if binary else interval(row, "match_rate", "match_low", "match_high"),
    }


def _percent(help_text: str):
    return st.column_config.NumberColumn(format="%.0f%%", help=help_text)


COLUMNS = {
    "judge, raw": _percent("The share of its runs the judge calls good, as it says."),
    "judge, corrected (95 %)": st.column_config.TextColumn(
        help="The share of its runs that are good once the judge's errors are undone, with the 95 % interval."
    ),
    "people": _percent("People's share of good runs among the calibration runs."),
    "calibration runs": st.column_config.NumberColumn(
        help="Runs both the judge and people rated (by default only runs of a random sample)."
    ),
    "sensitivity": _percent("The share of the runs people call good that the judge calls good."),
    "specificity": _percent("The share of the runs people call bad that the judge calls bad."),
    "note": st.column_config.TextColumn(width="large"),
}


def rates_chart(groups: list[dict], by: str) -> go.Figure:
    """The judge's raw and corrected pass rates per group, the corrected with its interval, beside people's
    rate on the group's calibration runs."""
    figure = go.Figure()
    labels = [str(group[by] or "(none)") for group in groups]
    figure.add_trace(go.Bar(x=labels, y=[group["raw_rate"] for group in groups], name="judge, raw"))
    shown = [group for group in groups if group["corrected_rate"] is not None]
    figure.add_trace(
        go.Scatter(
            x=[str(group[by] or "(none)") for group in shown],
            y=[group["corrected_rate"] for group in shown],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [group["corrected_high"] - group["corrected_rate"] for group in shown],
                "arrayminus": [group["corrected_rate"] - group["corrected_low"] for group in shown],
            },
            mode="markers",
            marker={"size": 10, "color": "#1b5e20"},
            name="judge, corrected (95 % interval)",
        )
    )
    rated = [group for group in groups if group["calibration_runs"]]
    figure.add_trace(
        go.Scatter(
            x=[str(group[by] or "(none)") for group in rated],
            y=[people_rate(group) for group in rated],
            mode="markers",
            marker={"size": 11, "symbol": "diamond", "color": "#e65100"},
            name="people, on the calibration runs",
        )
    )
    axis = {"title": "share of runs good", "range": [0, 1], "tickformat": ".0%"}
    return _charts.layout(figure, height=300, yaxis=axis)


def drift_chart(weeks: list[dict]) -> go.Figure:
    """Week by week: how often the judge agrees with people, with the runs compared as bars."""
    figure = go.Figure()
    shown = [week for week in weeks if week["calibration_runs"] >= MIN_WEEK_RUNS]
    agreement = [(week["table"]["tp"] + week["table"]["tn"]) / week["calibration_runs"] for week in shown]
    figure.add_trace(
        go.Scatter(x=[week["week"] for week in shown], y=agreement, mode="markers+lines", name="agreement with people")
    )
    figure.add_trace(
        go.Scatter(
            x=[week["week"] for week in shown if week["kappa"] is not None],
            y=[week["kappa"] for week in shown if week["kappa"] is not None],
            mode="markers+lines",
            name="kappa",
            line={"dash": "dot"},
        )
    )
    figure.add_trace(
        go.Bar(
            x=[week["week"] for week in weeks],
            y=[week["calibration_runs"] for week in weeks],
            name="runs compared",
            yaxis="y2",
            opacity=0.3,
        )
    )
    # the bars' zero on the lines' zero: both axes run from a sixth below zero, the bars' ticks from zero up
    most = max((week["calibration_runs"] for week in weeks), default=0) * 1.1 or 1
    step = max(1, math.ceil(most / 4))
    return _charts.layout(
        figure,
        height=300,
        yaxis={"title": "agreement, kappa", "range": [-0.2, 1]},
        yaxis2={
            "title": "runs compared",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "range": [-most / 5, most],
            "tickvals": list(range(0, int(most) + 1, step)),
        },
    )


st.title("Can we trust the judge?")
current = _shared.store()
me = _identity.reader()
sampled_only = st.toggle(
    "Calibrate on randomly sampled runs only",
    value=st.query_params.get("calibration") != "all",
    help="Runs that entered a queue because they were picked (complaints, filters) make a judge look better "
    "or worse than it is on all traffic. Turn this off to count every run people rated.",
)
st.query_params["calibration"] = "sampled" if sampled_only else "all"
try:
    judges = load_summary(current, current.url, me, sampled_only)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

st.caption(
    "Each judge against people's verdict on the same runs (the reviewers' majority, or a lead's adjudication), "
    "taken as the truth. **Judge, raw**: the share of its runs the judge calls good. **Judge, corrected**: that "
    "share with the judge's errors undone (Rogan-Gladen); its interval carries the uncertainty of both hit rates "
    "(Lang and Reiczigel). **People**: people's share of good runs among the calibration runs, those both rated. "
    "Sensitivity: the share of good runs the judge calls good; specificity: the share of bad runs it calls bad. "
    "Judges' verdicts never count as people's votes."
)
if not judges:
    st.info(
        "No judge has given a verdict yet. Judges' verdicts arrive through the import (`source: judge`), "
        "`/api/ingest`, or the REST API with a judge's token."
    )
    st.stop()

st.dataframe(
    [{"judge": row["judge"], **numbers_row(row)} for row in judges],
    hide_index=True,
    column_config=COLUMNS,
    key="judges_table",
)
names = [row["judge"] for row in judges]
asked = st.query_params.get("judge")
judge = st.selectbox("Judge", names, index=names.index(asked) if asked in names else 0)
st.query_params["judge"] = judge
try:
    by_assistant, by_model, by_week, listed = load_judge(current, current.url, me, judge, sampled_only)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

metrics = st.columns(5)
raw, corrected = by_assistant["raw_rate"], by_assistant["corrected_rate"]
metrics[0].metric("Judge, raw", _charts.percent(raw), help="The share of its runs the judge calls good.")
metrics[1].metric(
    "Judge, corrected",
    _charts.percent(corrected),
    delta=None if corrected is None else f"{(corrected - raw) * 100:+.0f} pp from raw",
    delta_color="off",
    help=interval(by_assistant, "corrected_rate", "corrected_low", "corrected_high") + ": the judge's rate once its "
    "errors are undone, with the 95 % interval."
    if corrected is not None
    else by_assistant["reason"],
)
metrics[2].metric(
    f"People, on {by_assistant['calibration_runs']:,} runs",
    _charts.percent(people_rate(by_assistant)),
    help="People's share of good runs among the calibration runs: the runs both they and the judge rated.",
)
metrics[3].metric("Sensitivity", _charts.percent(by_assistant["sensitivity"]))
metrics[4].metric("Specificity", _charts.percent(by_assistant["specificity"]))
st.markdown(calibration.in_words(by_assistant))

for title, found, by in (("Per assistant", by_assistant, "assistant_id"), ("Per model", by_model, "model_name")):
    st.markdown(f"**{title}**")
    st.dataframe(
        [{by: group[by] or "(none)", **numbers_row(group)} for group in found["groups"]],
        hide_index=True,
        column_config=COLUMNS,
        key=f"judge_{by}",
    )
    st.plotly_chart(rates_chart(found["groups"], by), key=f"judge_chart_{by}")

if by_assistant["criteria"]:
    st.markdown("**Per rubric criterion**")
    st.caption(
        "The judge's rubric scores against the reviewers' majority on the same runs (a tie counts for none). "
        'A yes/no criterion: the judge\'s table against them, "yes" the positive; another: how often the judge '
        "gives exactly their value."
    )
    st.dataframe([criterion_row(row) for row in by_assistant["criteria"]], hide_index=True, key="judge_criteria")

st.markdown("**Week by week** (bars: runs compared with people; lines: agreement and kappa)")
thin = sum(1 for week in by_week["groups"] if week["calibration_runs"] < MIN_WEEK_RUNS)
if thin:
    st.caption(f"{thin} week(s) with fewer than {MIN_WEEK_RUNS} runs compared show only the bar.")
st.plotly_chart(drift_chart(by_week["groups"]), key="judge_weeks")

st.subheader("Where the judge and people disagree")
st.caption("Newest first. Select a row to open the run's thread.")
if not listed:
    st.info("The judge agrees with people on every run both rated.")
else:
    picked = st.dataframe(
        [
            {
                "judge said": "good" if row["judge_rating"] == 1 else "bad",
                "people said": row["people"],
                "judge's rationale": row["rationale"] or "",
                "reviewers' comments": row["reviewer_comments"] or "",
                "assistant": row["assistant_id"],
                "model": row["model_name"],
                "run at": _shared.when(row["run_created_at"]),
            }
            for row in listed
        ],
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "judge's rationale": st.column_config.TextColumn(width="large"),
            "reviewers' comments": st.column_config.TextColumn(width="large"),
        },
        key="judge_disagreements",
    )
    chosen = picked.selection.rows if picked else []
    if chosen:
        row = listed[chosen[0]]
        st.switch_page("pages/thread.py", query_params={"thread": row["thread_id"], "run": row["run_id"]})
