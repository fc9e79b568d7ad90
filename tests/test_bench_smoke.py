"""Smoke check of the scale benchmark, as CI runs it: the `small` scale (with two repetitions per
operation) runs end to end and writes its result file.

Timings are not asserted (performance is judged by the benchmark itself, never by a test); what
is checked is that every operation was measured on both engines and the dataset had the asked size.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.generate import SCALES
from tests.conftest import ROOT

EXPECTED = (
    "threads_page[newest]",
    "thread_count[status=error]",
    "open_thread",
    "search[invoice]",
    "feedback_upsert",
    "stats_all",
    "export_csv",
    "import_jsonl",
    "import_records_per_s",
)


def test_small_benchmark_writes_its_result(tmp_path):
    out = tmp_path / "small.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "small", "--reps", "2", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    small = SCALES["small"]
    assert result["generate"]["counts"] == {
        "threads": small.threads,
        "runs": small.runs,
        "events": small.events,
        "feedback": small.feedback,
        "reviewers": small.reviewers,
    }
    assert result["sqlite_build"]["counts"] == {
        "threads_meta": small.threads,
        "runs": small.runs,
        "run_events": small.events,
        "feedback": small.feedback,
    }
    for engine in ("duckdb", "sqlite"):
        ops = result["engines"][engine]["ops"]
        for name in EXPECTED:
            assert ops[name]["median"] > 0, (engine, name)
        assert result["engines"][engine]["file_bytes"] > 0
        assert all(value > 0 for value in result["engines"][engine]["max_rss_mib"].values())
    # the upsert step before the export may add votes (new reviewer, run pairs)
    assert small.feedback <= result["engines"]["duckdb"]["extra"]["export_rows"] <= small.feedback + 30
    assert result["sqlite_over_duckdb"]["stats_all"] > 0
    assert "| open_thread |" in done.stdout
