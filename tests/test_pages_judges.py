"""The Judges page through AppTest on a real store: every judge's numbers, one judge's sentence, its
groups and its disagreements, the calibration toggle, and the empty state."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data_layer.auth import SYSTEM
from data_layer.judges import calibration
from tests.test_judges import JUDGE
from tests.test_judges import calibrated as calibrated  # noqa: F401  (the fixture)


@pytest.fixture
def app(monkeypatch, store_url, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return AppTest.from_file("../app.py", default_timeout=30)


def opened(app: AppTest, **params) -> AppTest:
    for name, value in params.items():
        app.query_params[name] = value
    app.switch_page("pages/judges.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def frame(at: AppTest, column: str):
    """The first table with `column` (AppTest's tables carry no key)."""
    return next(table.value for table in at.dataframe if column in table.value)


def text(at: AppTest) -> str:
    return "\n".join(element.value for element in [*at.markdown, *at.caption, *at.info])


def test_every_judge_and_the_chosen_one_in_words(app, calibrated):
    at = opened(app)
    table = frame(at, "judge")
    assert list(table["judge"]) == [JUDGE]
    assert table["runs judged"][0] == 40 and table["calibration runs"][0] == 24
    assert table["judge, raw"][0] == pytest.approx(29 / 40 * 100, abs=0.05)
    assert table["people"][0] == pytest.approx(16 / 24 * 100, abs=0.05)
    numbers = calibrated.judges.calibration(JUDGE, actor=SYSTEM)
    assert calibration.in_words(numbers) in text(at)
    disagreeing = frame(at, "judge's rationale")
    assert sorted(disagreeing["judge's rationale"]) == ["reason 14", "reason 15", "reason 16", "reason 17"]
    by_assistant = frame(at, "assistant_id")
    assert list(by_assistant["assistant_id"]) == ["a1", "a2"]
    assert at.query_params["judge"] == JUDGE


def test_counting_every_run_people_rated_takes_the_picked_runs_too(app, calibrated):
    at = opened(app, calibration="all")
    assert at.toggle[0].value is False
    assert frame(at, "judge")["calibration runs"][0] == 28
    assert len(frame(at, "judge's rationale")) == 8


def test_without_judges_the_page_says_how_verdicts_arrive(app, store):
    at = opened(app)
    assert "No judge has given a verdict yet" in text(at)


def test_compare_shows_b_against_a_by_the_judge_raw_and_corrected(app, calibrated):
    app.query_params.update({"by": "assistant", "a": "a1", "b": "a2"})
    app.switch_page("pages/compare.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    headings = [element.value for element in app.markdown]
    assert f"#### Judge verdicts, raw: {JUDGE}" in headings
    assert f"#### Judge verdicts, corrected: {JUDGE}" in headings
    corrected = frame(app, "corrected good rate")
    found = calibrated.judges.compare(JUDGE, {"assistant_id": "a1"}, {"assistant_id": "a2"}, actor=SYSTEM)
    assert list(corrected["corrected good rate"]) == pytest.approx(
        [found["corrected"]["a"]["corrected_rate"], found["corrected"]["b"]["corrected_rate"]]
    )
    votes = [list(table.value["votes"]) for table in app.dataframe if "positive rate" in table.value]
    assert votes[:3] == [[24, 4], [0, 0], [30, 10]]  # reviewers', end users', then the judge's raw verdicts
    assert any("divided by the judge's sensitivity + specificity - 1" in c.value for c in app.caption)
