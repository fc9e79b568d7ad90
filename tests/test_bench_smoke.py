"""Smoke check of the scale benchmark, as CI runs it: the `small` scale (with two repetitions per
operation) runs end to end on DuckDB, PostgreSQL and the SQLite baseline in one run, and writes its
result file.

Timings are not asserted (performance is judged by the benchmark itself, never by a test); what
is checked is that every operation was measured on every engine and the dataset had the asked size.
PostgreSQL takes part when the server binaries exist; outside CI, without them, its test skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.generate import SCALES
from tests.conftest import ROOT
from tests.pg_server import find_binaries

pytestmark = pytest.mark.slow

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
    "import_real[empty store]",
    "import_real_records_per_s[large store]",
)
SMALL = SCALES["small"]
GENERATED = {
    "threads": SMALL.threads,
    "runs": SMALL.runs,
    "events": SMALL.events,
    "feedback": SMALL.feedback,
    "reviewers": SMALL.reviewers,
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One `small` run with every engine this machine has; returns (result JSON, stdout, engines)."""
    engines = ["duckdb", "sqlite"]
    if find_binaries() is not None:
        engines.append("postgresql")
    elif os.environ.get("CI"):
        pytest.fail("PostgreSQL server binaries are missing in CI: .ci/run should have installed postgresql")
    out = tmp_path_factory.mktemp("bench") / "small.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "small", "--reps", "2", "--out", str(out)]
        + ["--engines", ",".join(engines)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text()), done.stdout, engines


def _check_engine(result: dict, engine: str) -> None:
    ops = result["engines"][engine]["ops"]
    for name in EXPECTED:
        assert ops[name]["median"] > 0, (engine, name)
    assert result["engines"][engine]["file_bytes"] > 0
    assert all(value > 0 for value in result["engines"][engine]["max_rss_mib"].values())


def test_small_benchmark_writes_its_result(small_run):
    result, stdout, _ = small_run
    assert result["generate"]["duckdb"]["counts"] == GENERATED
    assert result["sqlite_build"]["counts"] == {
        "threads_meta": SMALL.threads,
        "runs": SMALL.runs,
        "run_events": SMALL.events,
        "feedback": SMALL.feedback,
    }
    for engine in ("duckdb", "sqlite"):
        _check_engine(result, engine)
    # the upsert step before the export may add votes (new reviewer, run pairs)
    assert SMALL.feedback <= result["engines"]["duckdb"]["extra"]["export_rows"] <= SMALL.feedback + 30
    assert result["sqlite_over_duckdb"]["stats_all"] > 0
    assert "| open_thread |" in stdout


def test_postgresql_measured_side_by_side(small_run):
    result, stdout, engines = small_run
    if "postgresql" not in engines:
        pytest.skip("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    assert result["generate"]["postgresql"]["counts"] == GENERATED
    _check_engine(result, "postgresql")
    assert SMALL.feedback <= result["engines"]["postgresql"]["extra"]["export_rows"] <= SMALL.feedback + 30
    # both engines measured the same operations, and the table sets them side by side
    assert set(result["engines"]["postgresql"]["ops"]) == set(result["engines"]["duckdb"]["ops"])
    assert result["postgresql_over_duckdb"]["open_thread"] > 0
    assert "PostgreSQL median ms" in stdout.splitlines()[2]
    assert result["postgresql_settings"]["fsync"] == "on"
