"""The command line, run as users run it: `python -m data_layer ...` in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from data_layer import open_store

from .conftest import ROOT


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "data_layer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _commands(*parents: str) -> list[tuple[str, ...]]:
    """Every command the CLI's own help lists (nested ones, like `token new`, as their full path)."""
    listing = cli(*parents, "--help").stdout
    names = re.findall(r"^    ([a-z][a-z-]*)", listing, re.M)
    found = []
    for name in names:
        nested = _commands(*parents, name)
        found += nested if nested else [(*parents, name)]
    return found


COMMANDS = _commands()
# The commands other tools call (../shared/reference/interfaces.md): they stay.
PROMISED = {
    ("init",),
    ("demo",),
    ("import",),
    ("import-deerflow",),
    ("export",),
    ("stats",),
    ("backup",),
    ("restore",),
    ("token", "new"),
    ("queue", "create"),
    ("queue", "list"),
    ("queue", "items"),
    ("queue", "estimate"),
    ("dataset", "create"),
    ("dataset", "list"),
    ("dataset", "export"),
}


def test_the_promised_commands_exist():
    assert PROMISED <= set(COMMANDS), sorted(PROMISED - set(COMMANDS))


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_and_takes_its_options(command, tmp_path):
    result = cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m data_layer {' '.join(command)}")
    if command != ("token", "new"):
        assert "--db" in result.stdout
    # An option no command takes is refused in one line on stderr, with the usage, never a traceback.
    refused = cli(*command, "--no-such-option")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "unrecognized arguments: --no-such-option" in refused.stderr or "required" in refused.stderr


@pytest.mark.slow
def test_init_demo_stats_round_trip(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    init = cli("init", "--db", db)
    assert init.returncode == 0, init.stderr
    assert "schema version" in init.stdout
    demo = cli("demo", "--db", db, "--threads", "12", "--seed", "5")
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.startswith("imported 12 threads")
    stats = cli("stats", "--db", db, "--json")
    assert stats.returncode == 0, stats.stderr
    numbers = json.loads(stats.stdout)
    with open_store(db) as store:
        assert numbers["threads"] == store.threads.count() == 12
        assert numbers["votes"] == sum(t["positive"] + t["negative"] for t in store.threads.list(limit=100))


def test_feedback_db_environment_variable_is_used(tmp_path):
    db = tmp_path / "env.duckdb"
    env = {"FEEDBACK_DB": str(db), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = cli("init", env=env)
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_import_reports_bad_lines_on_stderr_and_fails(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"kind": "thread", "thread_id": "t1"}) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"kind": "thread", "thread_id": "t2"}) + "\n{oops\n")
    result = cli("import", "--db", db, str(good), str(bad))
    assert result.returncode == 1
    assert "imported 1 threads" in result.stdout
    assert "line 2: malformed JSON" in result.stderr
    with open_store(db) as store:
        assert store.threads.get("t1") is not None
        assert store.threads.get("t2") is None


def test_missing_file_is_one_line_error(tmp_path):
    result = cli("import", "--db", str(tmp_path / "x.duckdb"), str(tmp_path / "nope.jsonl"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_locked_database_gives_a_clear_message(held_db):
    db, pid = held_db
    result = cli("stats", "--db", db)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.count("\n") == 0
    assert f"database {db} is in use by process {pid}" in line
    assert "FEEDBACK_DB" in line


def test_unknown_command_fails_with_usage():
    result = cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
