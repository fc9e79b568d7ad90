"""Real Chromium against a real dashboard: download the CSV from the Export page and read it back; the
filter bar carried from Stats to Compare; each insight page drawn as it should be, with the README's
screenshots of them."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import expect

from data_layer import demo, insights, open_store
from tests.conftest import demo_server

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


def test_export_page_downloads_the_csv(app_server, page, tmp_path):
    page.goto(app_server.url + "/")
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=TIMEOUT)
    page.goto(app_server.url + "/export?from=2000-01-01&to=2099-12-31")
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT)
    shown = int(re.sub(r"\D", "", page.locator('[data-testid="stMetricValue"]').first.inner_text()))
    # the fixture's demo data: 40 threads, seed 7, every vote kept (one per reviewer, run and scope)
    stored = sum(1 for record in demo.generate(threads=40, seed=7) if record["kind"] == "feedback")
    assert shown == stored
    button = page.locator('[data-testid="stDownloadButton"] button')
    button.wait_for(timeout=TIMEOUT)
    with page.expect_download(timeout=TIMEOUT) as started:
        button.click()
    download = started.value
    assert download.suggested_filename.startswith("feedback-") and download.suggested_filename.endswith(".csv")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    with open(target, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == stored
    assert {row["rating"] for row in rows} == {"1", "-1"}
    assert any("过时" in row["comment"] for row in rows)  # non-ASCII survives the download
    assert all(row["feedback_id"] and row["run_id"] and row["assistant_id"] for row in rows)
    assert page.locator('[data-testid="stException"]').count() == 0


SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _ready(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT)
    page.wait_for_timeout(300)  # a rerun the first one triggered (the URL it writes) may follow
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT)
    assert page.locator('[data-testid="stException"]').count() == 0


def _chosen(page, label: str) -> str:
    """The value a filter bar's selectbox shows."""
    return page.get_by_role("combobox", name=label, exact=True).input_value(timeout=TIMEOUT)


def _whole_page(page, path: Path, height: int) -> None:
    """A screenshot of a long page: Streamlit scrolls inside its own container, so the window is made tall."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(1500)  # the charts redraw for the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


@pytest.mark.slow
def test_filter_bar_carries_from_stats_to_compare_through_the_url(tmp_path, page):
    db = str(tmp_path / "carry.duckdb")
    chosen = {"from": "2000-01-01", "to": "2099-12-31", "assistant": "support-agent", "source": "reviewer"}
    with demo_server(db, 200) as server:
        page.goto(server.url + "/stats?" + urlencode(chosen))
        _ready(page)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT)
        assert _chosen(page, "Assistant") == "support-agent"
        stats_text = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
        # to Compare by the sidebar's link, which carries no filters of its own
        page.locator('[data-testid="stSidebarNav"] a', has_text="Compare").click()
        page.wait_for_url(re.compile(r"/compare\?"), timeout=TIMEOUT)
        _ready(page)
        query = parse_qs(urlparse(page.url).query)
        assert {name: query[name] for name in chosen} == {name: [value] for name, value in chosen.items()}
        assert _chosen(page, "Assistant") == "support-agent" and _chosen(page, "Source") == "Reviewers"
        expect(page.get_by_text("Reviewer votes", exact=True).first).to_be_visible(timeout=TIMEOUT)
        assert page.get_by_text("End-user votes", exact=True).count() == 0  # the source filter holds
        compare_text = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    # the numbers both pages showed are the database's, for the same slice
    with open_store(db) as stored:
        counts = insights.slice_counts(
            stored,
            {"since": "2000-01-01", "until": "2099-12-31", "assistant_id": "support-agent", "source": "reviewer"},
        )
    side = counts["reviewer"]
    expected = f"reviewers {side['positive'] / side['votes'] * 100:.1f} % positive of {side['votes']:,}"
    assert side["votes"] > 30 and any(expected in text for text in stats_text)
    every_model = [text for text in compare_text if "Whole-run votes of reviewers on runs of 2000-01-01" in text]
    assert every_model and all("assistant support-agent" in text for text in every_model)


@pytest.mark.slow
def test_insight_pages_in_the_browser(tmp_path, page):
    """Each insight page on the demo data, with the screenshots of the README: the themes' phrases all
    reachable, one day's stats on a readable axis, Compare in pp, Agreement without emoji."""
    with demo_server(str(tmp_path / "tour.duckdb"), 200) as server:
        page.goto(server.url + "/stats")
        _ready(page)
        page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=TIMEOUT)
        _whole_page(page, SHOTS / "stats.png", 3250)
        last = parse_qs(urlparse(page.url).query)["to"][0]

        page.goto(server.url + f"/stats?from={last}&to={last}")
        _ready(page)
        chart = page.locator(".st-key-chart_over_time")
        chart.locator(".xtick").first.wait_for(timeout=TIMEOUT)
        ticks = [text.strip() for text in chart.locator(".xtick text").all_text_contents()]
        assert ticks == [last]  # one day, one label: its date, not milliseconds around midnight

        page.goto(server.url + "/compare")
        _ready(page)
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=TIMEOUT)
        page.screenshot(path=str(SHOTS / "compare.png"))
        page.goto(server.url + "/compare?by=model&a=gpt-4.1&b=qwen-max-old&from=2000-01-01&to=2099-12-31")
        _ready(page)
        verdict = page.get_by_text(re.compile(r"B is worse than A: B minus A = -\d+\.\d pp")).first
        expect(verdict).to_be_visible(timeout=TIMEOUT)
        page.screenshot(path=str(SHOTS / "compare-verdict.png"))

        page.goto(server.url + "/agreement")
        _ready(page)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT)
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert not re.search("[\U0001f300-\U0001faff]", body)  # no emoji left to draw as empty boxes
        page.screenshot(path=str(SHOTS / "agreement.png"))

        page.goto(server.url + "/themes?from=2000-01-01&to=2099-12-31")
        _ready(page)
        pills = page.locator('[data-testid="stButtonGroup"] button')
        pills.first.wait_for(timeout=TIMEOUT)
        assert pills.count() == 20
        width = page.viewport_size["width"]
        for index in range(pills.count()):
            box = pills.nth(index).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, index
        page.screenshot(path=str(SHOTS / "themes.png"))

        page.goto(server.url + "/export")
        _ready(page)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT)
        _whole_page(page, SHOTS / "export.png", 1250)
