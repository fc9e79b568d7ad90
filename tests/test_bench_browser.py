"""Smoke check of the browser benchmark (`bench/browser.py`): at the `small` scale, one repetition
runs end to end against a real `streamlit run` in headless Chromium, measures every step, and its
votes are in the database. Timings are not asserted: the benchmark judges them, never a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import browser
from bench.report import write_section
from data_layer import open_store
from tests.conftest import CHROMIUM, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROWS = [
    "open thread (from the Threads table)",
    "vote on the thread page",
    "stats cold (after a vote): headline",
    "stats cold (after a vote): every chart",
    "go to Threads",
    "stats cached: headline",
    "stats cached: every chart",
    "go to Review queue",
    "vote in the review queue (key U or D)",
    "go to Compare",
    "go to Agreement",
    "go to Themes",
    "go to Export",
]


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run should have installed Debian's chromium")
        pytest.skip(f"the browser benchmark needs Debian's chromium at {CHROMIUM}")
    db = tmp_path_factory.mktemp("browserbench") / "small.duckdb"
    subprocess.run(
        [sys.executable, "-m", "bench.generate", "--scale", "small", "--db", str(db)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return db


def test_the_browser_benchmark_measures_every_step_and_its_votes_are_stored(small_db, tmp_path):
    with open_store(str(small_db)) as store, store.engine.read() as conn:
        before = conn.scalar("SELECT count(*) FROM feedback WHERE owner_id = 'local-reviewer'")
    out = tmp_path / "browser.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.browser", "--db", str(small_db), "--reps", "1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["scale"] == "small" and result["threads"] == 1_000 and result["reps"] == 1
    assert list(result["rows"]) == ROWS
    for name, row in result["rows"].items():
        assert len(row["samples"]) == 1 and 0 < row["median"] < browser.TIMEOUT, name
    assert len(result["load_average_at_start"]) == 3 and len(result["load_average_at_end"]) == 3

    table = browser.markdown(result)
    assert table in done.stdout
    for name in ROWS:
        assert f"| {name} |" in table
    docs = tmp_path / "benchmarks.md"
    start, end = "<!-- results:browser-small:start -->", "<!-- results:browser-small:end -->"
    docs.write_text(f"# Benchmarks\n\nbefore\n{start}\nold\n{end}\nafter\n")
    write_section("browser-small", table, docs)
    assert docs.read_text() == f"# Benchmarks\n\nbefore\n{start}\n{table}\n{end}\nafter\n"

    # The votes it timed as saved are in the database: two on the thread page (the warm-up's and the
    # repetition's, on different threads) and at least one in the review queue.
    with open_store(str(small_db)) as store, store.engine.read() as conn:
        after = conn.scalar("SELECT count(*) FROM feedback WHERE owner_id = 'local-reviewer'")
    assert after - before >= 3
