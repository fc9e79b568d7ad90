"""AppTest of what the insight pages share: one filter bar with one default, carried from page to
page; numbers that say what they count and agree across pages; a one-day time axis that reads as a
day; Compare's percentage points and p-values; Agreement without emoji and without weeks too thin
for a kappa."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from data_layer import analysis, demo, insights, open_store, stats
from data_layer.auth import SYSTEM
from pages._charts import FEW_BUCKETS, time_axis
from pages._text import plain
from tests.conftest import ROOT

PAGES = {
    "pages/stats.py": "stats",
    "pages/compare.py": "compare",
    "pages/agreement.py": "agreement",
    "pages/themes.py": "themes",
    "pages/export.py": "export",
}
EVERYTHING = {"from": "2000-01-01", "to": "2099-12-31"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("filters") / "demo.duckdb")
    with open_store(path) as opened:
        assert demo.seed(opened, threads=120, seed=7, actor=SYSTEM).ok
    return path


@pytest.fixture
def open_page(demo_db, monkeypatch, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", demo_db)

    def run(page: str, params: dict | None = None, at: AppTest | None = None) -> AppTest:
        at = at or AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        for name, value in (params or {}).items():
            at.query_params[name] = value
        at.switch_page(page)
        at.run()
        assert not at.exception, [item.value for item in at.exception]
        return at

    return run


def _texts(at, kind: str = "caption") -> str:
    return "\n".join(str(element.value) for element in getattr(at, kind))


def _spec(at, key: str) -> dict:
    [spec] = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart") if key in chart.proto.id]
    return spec


@pytest.mark.slow
def test_every_insight_page_has_the_same_filter_bar_and_default(open_page, demo_db):
    with open_store(demo_db) as opened:
        last = stats.bounds(opened)["last_run_at"][:10]
    first = (date.fromisoformat(last) - timedelta(days=27)).isoformat()
    for page, prefix in PAGES.items():
        at = open_page(page)
        assert (at.query_params["from"], at.query_params["to"]) == (first, last), page
        assert at.date_input(key=f"{prefix}_range").value == (date.fromisoformat(first), date.fromisoformat(last))
        for name in ("assistant", "model", "reviewer", "source"):
            assert at.selectbox(key=f"{prefix}_{name}") is not None, (page, name)


def test_the_filters_follow_the_user_to_the_next_page(open_page):
    at = open_page("pages/stats.py", {**EVERYTHING, "assistant": "support-agent", "source": "end_user"})
    # the sidebar's link carries no parameters: the next page starts from an empty address
    at.query_params.clear()
    at = open_page("pages/themes.py", at=at)
    assert at.query_params["assistant"] == "support-agent" and at.query_params["source"] == "end_user"
    assert at.selectbox(key="themes_assistant").value == "support-agent"
    assert "End users" in at.selectbox(key="themes_source").format_func("end_user")
    assert "on runs of 2000-01-01 to 2099-12-31 (UTC), assistant support" in _texts(at)
    # Clear filters forgets them for the next page too
    at.button[0].click().run()
    at.query_params.clear()
    at = open_page("pages/export.py", at=at)
    assert "assistant" not in at.query_params and at.query_params["from"] != "2000-01-01"


@pytest.mark.slow
def test_stats_and_compare_and_agreement_show_one_number(open_page, demo_db):
    slice_ = {**EVERYTHING, "model": "gpt-4.1"}
    with open_store(demo_db) as opened:
        counts = insights.slice_counts(opened, {"since": "2000-01-01", "until": "2099-12-31", "model_name": "gpt-4.1"})
    side = counts["reviewer"]
    said = f"reviewers {side['positive'] / side['votes'] * 100:.1f} % positive of {side['votes']:,}"
    stats_page = open_page("pages/stats.py", slice_)
    assert said in _texts(stats_page)
    assert "Whole-run votes of reviewers and end users together on runs of 2000-01-01" in _texts(stats_page)
    agreement = open_page("pages/agreement.py", slice_)
    assert said in _texts(agreement)
    export_page = open_page("pages/export.py", slice_)
    assert said in _texts(export_page)
    compare = open_page("pages/compare.py", {**slice_, "by": "assistant"})
    tables = [frame.value for frame in compare.dataframe if "slice" in frame.value]
    # reviewer votes and end-user votes, then the demo's first LLM judge apart: raw and corrected
    assert len(tables) == 4 and "corrected good rate" in tables[3]
    expected = f"Whole-run votes of reviewers on runs of 2000-01-01 to 2099-12-31 (UTC), model {plain('gpt-4.1')}"
    assert expected in _texts(compare)


def test_the_alert_panel_follows_the_model_filter(open_page, demo_db):
    def alert_votes(at) -> int:
        charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "alerts_" in c.proto.id]
        return sum(point[0] for spec in charts for point in spec["data"][3]["customdata"])

    everything = open_page("pages/stats.py", EVERYTHING)
    one_model = open_page("pages/stats.py", {**EVERYTHING, "model": "qwen-max-old"})
    with open_store(demo_db) as opened:
        series = insights.daily_series(opened, {"until": "2099-12-31", "model_name": "qwen-max-old"})
        expected = sum(day["votes"] for rows in series["series"].values() for day in rows)
    assert 0 < alert_votes(one_model) == expected < alert_votes(everything)
    assert f"Whole-run votes of reviewers and end users together on model {plain('qwen-max-old')}:" in _texts(one_model)


def test_a_single_day_reads_as_that_day(open_page, demo_db):
    with open_store(demo_db) as opened:
        last = stats.bounds(opened)["last_run_at"][:10]
    at = open_page("pages/stats.py", {"from": last, "to": last})
    for key in ("chart_over_time", "chart_tags_time"):
        axis = _spec(at, key)["layout"]["xaxis"]
        assert axis["type"] == "category" and axis["categoryarray"] == [last], key


@pytest.mark.parametrize(
    ("days", "kind"), [(1, "category"), (3, "category"), (FEW_BUCKETS, "category"), (FEW_BUCKETS + 1, "date")]
)
def test_time_axis_by_span(days, kind):
    start = date(2026, 3, 1)
    buckets = [(start + timedelta(days=n)).isoformat() for n in range(0, days, 2 if days > 3 else 1)]
    buckets.append((start + timedelta(days=days - 1)).isoformat())
    axis = time_axis(go.Figure(), sorted(set(buckets))).layout.xaxis
    assert axis.type == kind
    if kind == "category":  # every day labelled, the missing ones too
        assert list(axis.categoryarray) == [(start + timedelta(days=n)).isoformat() for n in range(days)]
    weeks = time_axis(go.Figure(), ["2026-03-02", "2026-03-16"], "week").layout.xaxis
    assert list(weeks.categoryarray) == ["2026-03-02", "2026-03-09", "2026-03-16"]


def test_compare_writes_points_and_small_p_values(open_page):
    at = open_page("pages/compare.py", {**EVERYTHING, "by": "model", "a": "gpt-4.1", "b": demo.WORSE_MODEL})
    verdicts = _texts(at, "error")
    assert re.search(r"B minus A = -\d+\.\d pp \(95 % interval -\d+\.\d pp to -\d+\.\d pp\)", verdicts)
    assert re.search(r"test p (< 0\.001|= 0\.\d{3});", verdicts) and not re.search(r"= -?\d+\.\d %", verdicts)
    [reviewers, _users] = [frame.value for frame in at.dataframe if "p (Holm)" in frame.value]
    assert all(re.fullmatch(r"p (< 0\.001|= \d\.\d{3})|–", value) for value in reviewers["p (Holm)"])
    worst = reviewers[reviewers["name"] == demo.WORSE_MODEL].iloc[0]
    assert worst["difference"] < -10  # in points, not a fraction
    assert "percentage points (pp)" in _texts(at)


def test_p_values_and_differences_as_people_read_them():
    assert [analysis.p_text(p) for p in (0.0000004, 0.000999, 0.001, 0.0123, None)] == [
        "p < 0.001",
        "p < 0.001",
        "p = 0.001",
        "p = 0.012",
        "–",
    ]
    assert (analysis.points(0.373), analysis.points(-0.05)) == ("+37.3 pp", "-5.0 pp")


def test_agreement_without_emoji_and_without_thin_weeks(open_page, demo_db):
    at = open_page("pages/agreement.py", EVERYTHING)
    shown = [_texts(at, kind) for kind in ("caption", "markdown", "metric")]
    shown += [frame.value.to_csv() for frame in at.dataframe]
    assert not re.search("[\U0001f300-\U0001faff]", "\n".join(shown))
    assert at.selectbox(key="agreement_source").disabled and at.selectbox(key="agreement_reviewer").disabled
    with open_store(demo_db) as opened:
        weeks = insights.end_user_agreement(opened, {"since": "2000-01-01", "until": "2099-12-31"})["by_week"]
    thin = [week["week"] for week in weeks if week["n"] < 10]
    kappa = _spec(at, "agreement_weeks")["data"][0]
    assert thin and not set(thin) & set(kappa["x"])
    assert len(kappa["x"]) == sum(1 for week in weeks if week["n"] >= 10 and week["kappa"] is not None)
    assert f"{len(thin)} weeks with fewer than 10 pairs show only the bar" in _texts(at)
    groups = [frame.value for frame in at.dataframe if "note" in frame.value]
    assert groups and all(list(frame.columns)[-2:] == ["kappa (95 %)", "note"] for frame in groups)


def test_themes_phrases_wrap(open_page):
    at = open_page("pages/themes.py", EVERYTHING)
    assert len(at.pills[0].options) > 5 and at.pills[0].proto.wrap  # the browser test sees all 20 on screen
