"""Real Chromium against a real dashboard: download the CSV from the Export page and read it back."""

from __future__ import annotations

import csv
import re

import pytest

from data_layer import demo

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
