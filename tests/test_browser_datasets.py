"""The Datasets page in real headless Chromium against a real `streamlit run`: the local admin saves the
good runs of the filter bar as a dataset, downloads its JSONL and Parquet, and the files equal what the
DuckDB file holds afterwards. Saves docs/screenshots/datasets.png.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect

from data_layer import datasets, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer
from tests.test_browser_review import TIMEOUT, wait_ready
from tests.test_datasets import conversation, vote

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def download(page, label: str, folder: Path) -> Path:
    with page.expect_download(timeout=TIMEOUT) as started:
        page.locator('[data-testid="stDownloadButton"]').get_by_role("button", name=label, exact=True).click()
    target = folder / started.value.suggested_filename
    started.value.save_as(target)
    return target


def test_an_admin_saves_a_dataset_and_downloads_it(page, tmp_path):
    db = str(tmp_path / "datasets.duckdb")
    with open_store(db) as setup:
        assert setup.ingest(conversation(), actor=SYSTEM).ok
        vote(setup, "r1", "t1", "alice", 1, comment="Clear.")
        vote(setup, "r4", "t3", "alice", 1)
        vote(setup, "r2", "t1", "alice", -1, tags=["incorrect"])
    server = AppServer(db, env={"FEEDBACK_DEMO": "0", "FEEDBACK_BACKUP_EVERY": "0"})
    try:
        page.goto(f"{server.url}/datasets")
        wait_ready(page)
        expect(page.get_by_text("No dataset yet. Save one above.")).to_be_visible(timeout=TIMEOUT)
        page.get_by_label("Name", exact=True).fill("trips")
        page.get_by_role("button", name="Save dataset").click()
        wait_ready(page)
        expect(page.get_by_text("Saved: dataset trips version 1, 2 runs.")).to_be_visible(timeout=TIMEOUT)
        jsonl = download(page, "JSONL", tmp_path)
        parquet = download(page, "Parquet", tmp_path)
        page.screenshot(path=str(SHOTS / "datasets.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        server.stop()
    assert (jsonl.name, parquet.name) == ("trips-v1.jsonl", "trips-v1.parquet")
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [(row["run_id"], row["verdict"], row["ideal"]) for row in rows] == [
        ("r1", "good", "At 8:00 and 9:00."),
        ("r4", "good", "Two near the station."),
    ]
    assert pq.read_table(parquet).column("run_id").to_pylist() == ["r1", "r4"]
    with open_store(db) as after:
        (stored,) = datasets.listing(after, actor=SYSTEM)
        assert (stored["name"], stored["version"], stored["created_by"], stored["items"]) == (
            "trips",
            1,
            "local-reviewer",
            2,
        )
        assert b"".join(datasets.content(after, "trips", 1, "jsonl", actor=SYSTEM)) == jsonl.read_bytes()
        assert b"".join(datasets.content(after, "trips", 1, "parquet", actor=SYSTEM)) == parquet.read_bytes()
