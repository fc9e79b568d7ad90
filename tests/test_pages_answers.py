"""AppTest of the answer pages (compare, agreement, themes) on the demo data and on an empty store."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data_layer import demo, demo_judges, open_store
from data_layer.auth import SYSTEM
from pages._text import plain
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("answers") / "demo.duckdb")
    with open_store(path) as store:
        assert demo.seed(store, threads=200, seed=7, actor=SYSTEM).ok
    return path


def _open(monkeypatch, db: str, page: str, **params) -> AppTest:
    monkeypatch.setenv("FEEDBACK_DB", db)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.switch_page(page)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


EVERYTHING = {"from": "2000-01-01", "to": "2099-12-31"}


def _texts(at, kind: str) -> str:
    return "\n".join(str(element.value) for element in getattr(at, kind))


def test_compare_calls_the_worse_model_worse_for_both_sources(monkeypatch, demo_db, fresh_streamlit_caches):
    at = _open(monkeypatch, demo_db, "pages/compare.py", by="model", a="gpt-4.1", b=demo.WORSE_MODEL, **EVERYTHING)
    assert not at.exception
    slices = [at.selectbox(key=f"compare_{side}_model").value for side in "ab"]
    assert slices == ["gpt-4.1", demo.WORSE_MODEL]
    assert at.selectbox(key="compare_model").disabled  # the slices pick the model
    errors = _texts(at, "error")
    # reviewer votes, end-user votes and the demo's first LLM judge, each its own verdict
    assert errors.count("B is worse than A") == 3
    captions = _texts(at, "caption")
    assert "Holm" in captions and "4 tests at once" in captions
    judge = next(iter(demo_judges.JUDGES))
    assert [md.value for md in at.markdown if md.value.startswith("####")] == [
        "#### Reviewer votes",
        "#### End-user votes",
        f"#### Judge verdicts, raw: {judge}",
        f"#### Judge verdicts, corrected: {judge}",
    ]


def test_stats_page_flags_the_planted_bad_day(monkeypatch, demo_db, fresh_streamlit_caches):
    at = _open(monkeypatch, demo_db, "pages/stats.py")
    assert not at.exception
    alerts = [box.value for box in at.error if "alert" in box.value]
    assert len(alerts) == 1
    assert alerts[0].startswith("1 alert:") and f"{plain(demo.BAD_DAY_ASSISTANT)} on" in alerts[0]


def test_compare_date_ranges_and_assistants(monkeypatch, demo_db, fresh_streamlit_caches):
    at = _open(monkeypatch, demo_db, "pages/compare.py", by="assistant", **{"from": "2026-01-01", "to": "2026-01-14"})
    assert not at.exception and at.selectbox(key="compare_a_assistant").value == "coding-agent"
    at.segmented_control[0].set_value("dates").run()
    assert not at.exception
    # B is the filter bar's range, A the fortnight before it
    assert len(at.date_input) == 1 and "All " not in " ".join(sub.value for sub in at.subheader)
    slices = [list(frame.value["slice"]) for frame in at.dataframe if "slice" in frame.value][0]
    assert slices == ["A: 2025-12-18 to 2025-12-31 (UTC)", "B: 2026-01-01 to 2026-01-14 (UTC)"]


def test_agreement_page(monkeypatch, demo_db, fresh_streamlit_caches):
    at = _open(monkeypatch, demo_db, "pages/agreement.py")
    assert not at.exception
    assert [metric.label for metric in at.metric] == ["Percent agreement", "Cohen's kappa"]
    assert "95 %" in _texts(at, "caption") and "the agent fooled the user" in _texts(at, "caption")
    at.session_state["agreement_disagreements"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params.get("thread") and at.query_params.get("run")


def test_themes_phrase_opens_its_feedback_and_a_row_opens_the_run(monkeypatch, demo_db, fresh_streamlit_caches):
    at = _open(monkeypatch, demo_db, "pages/themes.py", **EVERYTHING)
    assert not at.exception
    options = at.pills[0].options
    assert options[0] == "outdated" and "信息过时" in options
    at.pills[0].set_value("outdated").run()
    assert not at.exception
    listed = at.dataframe[-3].value  # the feedback list sits above the two tag tables
    assert len(listed) > 10 and listed["comment"].str.contains("outdated", case=False).all()
    at.session_state["themes_feedback"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception and at.query_params.get("thread") and at.query_params.get("run")


@pytest.mark.parametrize("page", ["pages/compare.py", "pages/agreement.py", "pages/themes.py"])
def test_pages_on_an_empty_store(monkeypatch, tmp_path, page, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    at = _open(monkeypatch, str(tmp_path / "empty.duckdb"), page)
    assert not at.exception
    assert at.info, "an empty store explains itself"
