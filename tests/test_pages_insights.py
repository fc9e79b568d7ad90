"""AppTest of the Stats and Export pages on the demo data and on an empty database."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from data_layer import demo, export, open_store, stats
from data_layer.auth import SYSTEM
from tests.conftest import ROOT

STATS_CHARTS = {
    "chart_over_time",
    "chart_rate_assistant",
    "chart_rate_model",
    "chart_tags_time",
    "chart_tags_assistant",
    "chart_follow_ups",
    "chart_reviewers",
    "chart_agreement",
}
EVERYTHING = {"from": "2000-01-01", "to": "2099-12-31"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("insights") / "demo.duckdb")
    with open_store(path) as opened:
        assert demo.seed(opened, threads=60, seed=7, actor=SYSTEM).ok
    return path


@pytest.fixture
def app(demo_db, monkeypatch, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", demo_db)
    return _page_app


@pytest.fixture
def empty_app(tmp_path, monkeypatch, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", str(tmp_path / "empty.duckdb"))
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return _page_app


def _page_app(page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    for name, value in (params or {}).items():
        at.query_params[name] = value
    at.switch_page(page)
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def _charts(at) -> dict:
    return {chart.proto.id: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def _chart_keys(at) -> set:
    return {key for key in STATS_CHARTS for chart in at.get("plotly_chart") if key in chart.proto.id}


def _metrics(at) -> dict:
    return {metric.label: metric for metric in at.metric}


def _spec(at, key) -> dict:
    [spec] = [spec for chart_id, spec in _charts(at).items() if key in chart_id]
    return spec


def test_stats_page_draws_every_chart_on_demo_data(app, demo_db):
    at = app("pages/stats.py", EVERYTHING)
    assert _chart_keys(at) == STATS_CHARTS
    with open_store(demo_db) as opened:
        expected = stats.dashboard(opened, {"since": "2000-01-01", "until": "2099-12-31"}, actor=SYSTEM)
    metrics = _metrics(at)
    assert metrics["Votes"].value == f"{expected['headline']['current']['votes']:,}"
    assert metrics["Runs"].value == f"{expected['headline']['current']['runs']:,}"
    models = _spec(at, "chart_rate_model")["data"][0]
    assert models["y"][0] == "qwen-max-old"  # worst first
    assert models["text"][0].endswith(f"of {expected['by_model'][0]['votes']}")  # counts shown beside the rate
    over_time = _spec(at, "chart_over_time")["data"]
    assert sum(over_time[0]["y"]) + sum(over_time[1]["y"]) == expected["headline"]["current"]["votes"]
    worst = [frame for frame in at.dataframe if frame.key == "worst_runs"]
    assert len(worst) == 1 and not worst[0].value.empty
    assert at.query_params["from"] == "2000-01-01"


def test_stats_page_filters_come_from_the_url(app, demo_db):
    at = app("pages/stats.py", {**EVERYTHING, "assistant": "support-agent", "source": "end_user"})
    assert _spec(at, "chart_rate_assistant")["data"][0]["y"] == ["support-agent"]
    assert at.selectbox(key="stats_assistant").value == "support-agent"
    with open_store(demo_db) as opened:
        expected = stats.dashboard(
            opened,
            {"since": "2000-01-01", "until": "2099-12-31", "assistant_id": "support-agent", "source": "end_user"},
            actor=SYSTEM,
        )
    assert _metrics(at)["Votes"].value == f"{expected['headline']['current']['votes']:,}"
    at.selectbox(key="stats_assistant").set_value("").run()
    assert "assistant" not in at.query_params
    assert len(_spec(at, "chart_rate_assistant")["data"][0]["y"]) == 3


def test_stats_default_range_is_the_last_four_weeks_of_data(app, demo_db):
    at = app("pages/stats.py")
    with open_store(demo_db) as opened:
        last = stats.bounds(opened)["last_run_at"][:10]
    assert at.query_params["to"] == last
    assert any("previous period" in caption.value for caption in at.caption)


def test_worst_run_row_opens_the_run(app, demo_db):
    at = app("pages/stats.py", EVERYTHING)
    with open_store(demo_db) as opened:
        worst = stats.dashboard(opened, {"since": "2000-01-01", "until": "2099-12-31"}, actor=SYSTEM)["worst_runs"][0]
    at.session_state["worst_runs"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert at.query_params["thread"] == worst["thread_id"] and at.query_params["run"] == worst["run_id"]


def test_stats_page_on_an_empty_database(empty_app):
    at = empty_app("pages/stats.py")
    assert _chart_keys(at) == STATS_CHARTS
    assert _metrics(at)["Votes"].value == "0" and _metrics(at)["Positive rate"].value == "–"
    texts = [a["text"] for a in _spec(at, "chart_rate_model")["layout"].get("annotations", [])]
    assert texts == ["No votes match these filters"]


def test_stats_page_reports_a_bad_address(app):
    at = app("pages/stats.py", {"from": "yesterday", "source": "robots"})
    warnings = " ".join(w.value for w in at.warning)
    assert "yesterday" in warnings and "robots" in warnings
    assert _chart_keys(at) == STATS_CHARTS


@pytest.mark.parametrize("page", ["pages/stats.py", "pages/export.py"])
def test_a_date_out_of_range_in_the_address_is_named_not_a_crash(app, page):
    at = app(page, {"from": "2026-01-01", "to": "9999-12-31"})  # `_page_app` asserts no exception
    assert any(error.value.startswith("Not saved: until 9999") and "out of range" in error.value for error in at.error)


def test_export_page_counts_and_offers_the_download(app, demo_db):
    at = app("pages/export.py")
    default = {"since": at.query_params["from"], "until": at.query_params["to"]}  # the last four weeks of data
    with open_store(demo_db) as opened:
        total = export.count(opened, default, actor=SYSTEM)
        negatives = export.count(opened, {**default, "rating": "negative"}, actor=SYSTEM)
        assert total < export.count(opened, actor=SYSTEM)
    assert _metrics(at)["Rows to export"].value == f"{total:,}"
    [button] = at.get("download_button")
    assert button.proto.label == "Download CSV" and not button.proto.disabled
    assert at.dataframe[0].value.shape[0] == 20
    at.selectbox(key="export_rating").set_value("negative").run()
    assert _metrics(at)["Rows to export"].value == f"{negatives:,}"
    assert at.query_params["rating"] == "negative"
    at.multiselect(key="export_columns").set_value(["rating", "comment"]).run()
    assert list(at.dataframe[0].value.columns) == ["rating", "comment"]
    assert set(at.dataframe[0].value["rating"]) == {-1}
    at.radio(key="export_format").set_value("parquet").run()
    assert at.get("download_button")[0].proto.label == "Download Parquet"


def test_export_page_on_an_empty_database(empty_app):
    at = empty_app("pages/export.py")
    assert _metrics(at)["Rows to export"].value == "0"
    assert at.get("download_button")[0].proto.disabled
    assert "No feedback matches" in at.info[0].value


def test_clicking_a_bar_or_a_day_narrows_the_page(app):
    at = app("pages/stats.py", EVERYTHING)
    at.session_state["chart_rate_model"] = {
        "selection": {
            "points": [{"customdata": ["gpt-4.1"], "y": "gpt-4.1"}],
            "point_indices": [1],
            "box": [],
            "lasso": [],
        }
    }
    at.run()
    assert at.query_params["model"] == "gpt-4.1"
    assert at.selectbox(key="stats_model").value == "gpt-4.1"
    assert _spec(at, "chart_rate_model")["data"][0]["y"] == ["gpt-4.1"]
    at.session_state["chart_over_time"] = {
        "selection": {
            "points": [{"customdata": ["2026-01-05"]}, {"customdata": ["2026-01-03", 4]}],
            "point_indices": [0, 1],
            "box": [],
            "lasso": [],
        }
    }
    at.run()
    # the whole range is drawn per week, so the selected weeks run to the last one's Sunday
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-01-03", "2026-01-11")


def test_the_demo_rubric_on_the_stats_and_export_pages(app, demo_db):
    at = app("pages/stats.py", EVERYTHING)
    assert "Rubric criteria" in [header.value for header in at.subheader]
    with open_store(demo_db) as opened:
        criteria = stats.dashboard(opened, {"since": "2000-01-01", "until": "2099-12-31"}, actor=SYSTEM)["criteria"]
    assert [row["criterion"] for row in criteria] == ["factual", "helpfulness", "tone"]
    [table] = [frame.value for frame in at.dataframe if "result (95% interval)" in frame.value.columns]
    assert list(table["criterion"]) == ["factual", "helpfulness", "tone"]
    assert list(table["scored"]) == [row["overall"]["scored"] for row in criteria]
    factual = criteria[0]["overall"]
    assert table["result (95% interval)"][0].startswith(f"{factual['rate']:.0%} yes ({factual['low']:.0%} to ")
    at = app("pages/export.py")
    offered = at.multiselect(key="export_columns").options
    assert offered[-3:] == ["score.factual", "score.helpfulness", "score.tone"]
