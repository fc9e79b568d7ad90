"""The Judges page in real headless Chromium against a real `streamlit run` on the demo data: both demo
judges are there, the lenient one's corrected pass rate is clearly below its raw one, and a run where a
judge and people disagree opens its thread. The numbers the page shows are read from the page and
checked against the database after the server stops. Saves docs/screenshots/judges.png.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from data_layer import demo_judges, open_store
from data_layer.auth import SYSTEM
from tests.conftest import demo_server
from tests.test_browser_insights import _ready, _whole_page
from tests.test_browser_review import SHOTS, TIMEOUT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CLOSE, LENIENT = demo_judges.JUDGES


def metrics(page) -> dict[str, str]:
    """The page's metrics, label to value as drawn."""
    shown = page.locator('[data-testid="stMetric"]')
    expect(shown.first).to_be_visible(timeout=TIMEOUT)
    labels = shown.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = shown.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values, strict=True)}


def percent(text: str) -> float:
    return float(re.fullmatch(r"(\d+)%", text).group(1)) / 100


def test_the_judges_page_shows_both_judges_corrects_the_lenient_one_and_opens_a_disagreement(tmp_path, page):
    shown, sentences = {}, {}
    with demo_server(str(tmp_path / "judges.duckdb"), 200) as server:
        page.goto(f"{server.url}/judges")
        _ready(page)
        options = page.get_by_role("combobox", name="Judge", exact=True)
        options.click()
        listed = page.get_by_role("option").all_inner_texts()
        options.press("Escape")
        for judge in (CLOSE, LENIENT):
            page.goto(f"{server.url}/judges?judge={judge}")
            _ready(page)
            page.wait_for_selector('[data-testid="stDataFrame"]', timeout=TIMEOUT)
            shown[judge] = metrics(page)
            sentences[judge] = page.get_by_text(re.compile(r"^The judge calls")).inner_text()
        _whole_page(page, SHOTS / "judges.png", 2700)

        # the lenient judge's newest disagreement opens its thread at its run
        disagreements = page.locator(".st-key-judge_disagreements")
        disagreements.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # the table is drawn on a canvas after its element appears
        table = disagreements.bounding_box()
        page.mouse.click(table["x"] + 15, table["y"] + 35 + 17)  # the first row's selection marker
        page.wait_for_url(re.compile(r"/thread\?thread="), timeout=TIMEOUT)
        _ready(page)
        opened = parse_qs(urlparse(page.url).query)
        header = page.get_by_text(re.compile(r"^thread .* runs · last activity")).inner_text()
        headings = page.locator('[data-testid="stMain"] h3').all_inner_texts()
        server.stop()  # DuckDB lets one process hold the file

    with open_store(server.db) as store:
        summary = {row["judge"]: row for row in store.judges.summary(actor=SYSTEM)}
        newest = store.judges.disagreements(LENIENT, sampled_only=True, limit=1, actor=SYSTEM)[0]
        thread = store.threads.get(newest["thread_id"])
    assert listed == sorted(summary) == sorted(demo_judges.JUDGES)
    for judge, numbers in summary.items():
        assert numbers["corrected_rate"] is not None, numbers["reason"]
        people = (numbers["table"]["tp"] + numbers["table"]["fn"]) / numbers["calibration_runs"]
        assert shown[judge] == {
            "Judge, raw": f"{numbers['raw_rate']:.0%}",
            "Judge, corrected": f"{numbers['corrected_rate']:.0%}",
            f"People, on {numbers['calibration_runs']:,} runs": f"{people:.0%}",
            "Sensitivity": f"{numbers['sensitivity']:.0%}",
            "Specificity": f"{numbers['specificity']:.0%}",
        }
        assert f"{numbers['corrected_low']:.0%} to {numbers['corrected_high']:.0%}" in sentences[judge]
    # the close judge barely moves; the lenient one's corrected rate is clearly below its raw one
    close, lenient = shown[CLOSE], shown[LENIENT]
    assert abs(percent(close["Judge, corrected"]) - percent(close["Judge, raw"])) <= 0.05
    assert percent(lenient["Judge, corrected"]) <= percent(lenient["Judge, raw"]) - 0.1
    assert summary[LENIENT]["specificity"] < 0.6 < 0.85 < summary[CLOSE]["specificity"]
    # the row opened is the newest disagreement on a sampled run, a good verdict on a run people called bad
    assert opened == {"thread": [newest["thread_id"]], "run": [newest["run_id"]]}
    assert (newest["judge_rating"], newest["people"]) == (1, "bad")
    assert f"thread {newest['thread_id']}" in header
    assert (thread["title"] or thread["display_name"] or "(untitled thread)") in headings
