"""AppTest on a real store of what judges' verdicts add to the pages: the Judges page's table per rubric
criterion, the Export page's source `judge` (its rows, columns and words), and the other insight pages
keeping to people's votes when the address asks for judges."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data_layer import export
from data_layer.auth import SYSTEM
from tests.test_export_judges import records
from tests.test_judge_criteria import JUDGE
from tests.test_judge_criteria import scored as scored  # noqa: F401  (the fixture)

EVERYTHING = {"from": "2000-01-01", "to": "2099-12-31"}


@pytest.fixture
def app(monkeypatch, store_url, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return AppTest.from_file("../app.py", default_timeout=30)


def opened(app: AppTest, page: str, **params) -> AppTest:
    for name, value in params.items():
        app.query_params[name] = value
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_judges_page_has_a_table_per_rubric_criterion(app, scored):
    at = opened(app, "pages/judges.py")
    table = next(table.value for table in at.dataframe if "criterion" in table.value)
    assert list(table["criterion"]) == ["clarity", "factual", "tone"]
    assert list(table["runs compared"]) == [3, 10, 2]
    assert list(table["table (tp fn fp tn)"]) == ["–", "4 2 1 3", "–"]
    assert table["sensitivity (95 %)"][1].startswith("67% (")
    assert list(table["exact match (95 %)"])[0].startswith("67% (") and table["exact match (95 %)"][2].startswith("50%")
    assert list(table["kappa"]) == ["–", "0.40", "–"]


def test_the_export_page_lists_judges_verdicts_when_the_source_asks(app, store):
    assert store.ingest(records(), actor=SYSTEM).ok
    at = opened(app, "pages/export.py", source="judge", **EVERYTHING)
    assert at.selectbox(key="export_source").value == "judge"
    assert at.metric[0].value == "2"
    assert at.multiselect(key="export_columns_judges").value == [*export.COLUMNS, "judge", "rationale"]
    assert any("LLM judge's verdict" in caption.value for caption in at.caption)
    preview = at.dataframe[0].value
    assert list(preview["judge"]) == [JUDGE, JUDGE] and list(preview["rationale"]) == [
        "=correct, says 4",
        "wrong answer",
    ]
    # people's rows keep their own columns, without the judges'
    people = opened(AppTest.from_file("../app.py", default_timeout=30), "pages/export.py", **EVERYTHING)
    assert people.metric[0].value == "2"
    assert "judge" not in people.multiselect(key="export_columns").value


def test_another_insight_page_keeps_to_peoples_votes(app, store):
    assert store.ingest(records(), actor=SYSTEM).ok
    at = opened(app, "pages/stats.py", source="judge", **EVERYTHING)
    assert at.selectbox(key="stats_source").value == ""
    assert any("Judges' verdicts are not people's votes" in info.value for info in at.info)
    assert "source" not in at.query_params
