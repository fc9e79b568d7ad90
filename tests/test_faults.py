"""Fault injection: every write path, with each of its steps failing in turn, on both engines.

A write's steps (statements, bulk loads, the commit) are counted with a plan that fails none; then each
step fails once with a write conflict (which the engine retries) and once with a full disk (which it
must not retry). Only two outcomes are allowed: the caller gets an error and nothing changed, or the
caller gets success and everything is stored, exactly as a write without faults stores it. Success
with less is the defect these tests exist for (an import retried on a conflict once committed nothing
and still answered with the first attempt's counts).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg
import pytest

from data_layer import auth, backup, open_store
from data_layer.auth import SYSTEM
from data_layer.engines import open_engine
from data_layer.engines.faults import FaultPlan, attempts_failing_at, engine_error, injected
from data_layer.errors import Conflict, DataLayerError, Unavailable
from data_layer.schema import migrate
from tests.test_ingest import make_deerflow_db
from tests.test_postgres import _UPSTREAM

pytestmark = pytest.mark.slow

ADMIN = auth.Actor("ana", "admin")
REVIEWER = auth.Actor("bo", "reviewer")
STARTED = datetime.now(UTC)
# Conflicts one write meets and still succeeds: the engines try a write 8 times.
RETRIED = 7
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00")


def _records(prefix: str, votes: bool = True) -> list[dict]:
    """Two threads with runs, messages and votes: the kind of file the gateway sends."""
    records = []
    for t in range(2):
        thread = f"{prefix}t{t}"
        records.append({"kind": "thread", "thread_id": thread, "display_name": f"Thread {prefix}{t}"})
        for r in range(2):
            run = f"{thread}r{r}"
            records.append(
                {
                    "kind": "run",
                    "run_id": run,
                    "thread_id": thread,
                    "status": "success",
                    "model_name": "m1",
                    "created_at": f"2026-11-0{r + 1}T10:00:00Z",
                }
            )
            for seq, (kind, text) in enumerate((("human", "weather in Paris"), ("ai", "sunny and warm")), start=1):
                records.append(
                    {
                        "kind": "event",
                        "thread_id": thread,
                        "run_id": run,
                        "seq": r * 10 + seq,
                        "event_type": f"{kind}_message",
                        "content": {"type": kind, "content": f"{text} {run}", "id": f"{run}m{seq}"},
                    }
                )
            if votes:
                records.append(
                    {"kind": "feedback", "thread_id": thread, "run_id": run, "owner_id": "eu1", "rating": 1 - 2 * r}
                )
    return records


BASE = _records("b")


def _seed(store) -> None:
    report = store.ingest(BASE, actor=SYSTEM)
    assert report.ok, report.summary()
    store.feedback.upsert(thread_id="bt0", run_id="bt0r0", rating=1, comment="fine", actor=ADMIN)
    store.feedback.upsert(thread_id="bt1", run_id="bt1r1", rating=-1, tags=["slow"], actor=REVIEWER)


def snapshot(store) -> dict[str, list]:
    """Every table's rows, in a stable order, as comparable values."""
    with store.engine.read() as conn:
        tables = [row["table_name"] for row in conn.all(_TABLES)]
        return {
            table: sorted(json.dumps(row, sort_keys=True, default=_text) for row in conn.all(f"SELECT * FROM {table}"))
            for table in sorted(tables)
        }


def _text(value) -> str:
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)


def normalized(state: dict[str, list], before: dict[str, list]) -> dict[str, list]:
    """`state` with what differs between two equal writes made apart: ids drawn from a sequence or at
    random (the ids `before` does not hold), and times at or after the test's start."""
    known = set(_UUID.findall(json.dumps(before)))

    def clean(row: str) -> str:
        row = re.sub(r'"id": \d+', '"id": N', row)
        row = _UUID.sub(lambda m: m.group(0) if m.group(0) in known else "NEW", row)
        return _ISO.sub(lambda m: "NOW" if datetime.fromisoformat(m.group(0)) >= STARTED else m.group(0), row)

    return {table: sorted(clean(row) for row in rows) for table, rows in state.items()}


@dataclass(frozen=True)
class Path:
    name: str
    act: Callable  # act(store, context) -> result


_TABLES = (
    "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema IN ('main', 'public') AND table_type = 'BASE TABLE'"
)


class Baseline:
    """The store's rows as seeded, kept in a schema of their own, put back after each write that succeeded
    (faster than a fresh database per step: a PostgreSQL database took a second to create and drop)."""

    def __init__(self, store):
        self.store = store
        with store.engine.read() as conn:
            self.tables = sorted(row["table_name"] for row in conn.all(_TABLES))

        def keep(conn):
            conn.execute("CREATE SCHEMA faults_base")
            for table in self.tables:
                conn.execute(f"CREATE TABLE faults_base.{table} AS SELECT * FROM {table}")

        store.engine.write(keep)

    def restore(self) -> None:
        def put_back(conn):
            for table in self.tables:
                conn.execute(f"DELETE FROM {table}")
                conn.execute(f"INSERT INTO {table} SELECT * FROM faults_base.{table}")

        self.store.engine.write(put_back)


def _walk(store, act: Callable, context) -> int:
    """Fail each step of `act` in turn with each kind of fault; return the number of steps."""
    _seed(store)
    baseline = Baseline(store)
    before = snapshot(store)
    with injected(store.engine, FaultPlan()) as counting:
        clean_result = act(store, context)
    expected = normalized(snapshot(store), before)
    steps = len(counting.steps)
    assert steps > 0
    baseline.restore()
    engine = store.engine.name
    for number in range(1, steps + 1):
        # A full disk: the write fails, says so, and leaves everything as it was.
        plan = FaultPlan(number, engine_error(engine, "disk_full"))
        with injected(store.engine, plan), pytest.raises(DataLayerError) as failed:
            act(store, context)
        assert plan.fired == 1
        assert isinstance(failed.value, Unavailable) and not isinstance(failed.value, Conflict), failed.value
        assert snapshot(store) == before, f"step {number} ({counting.steps[number - 1]}) changed the store"
    # Conflicts: each attempt of one write fails at the next step (the engine retries 8 times, so 7 of
    # them per write), and the write still stores everything, as a write without faults does.
    numbers = list(range(1, steps + 1))
    for first in range(0, steps, RETRIED):
        chunk = numbers[first : first + RETRIED]
        plan = FaultPlan(attempts_failing_at(chunk), engine_error(engine, "conflict"))
        with injected(store.engine, plan):
            result = act(store, context)
        assert plan.fired == len(chunk)
        assert _comparable(result) == _comparable(clean_result), f"steps {chunk}: another answer"
        assert normalized(snapshot(store), before) == expected, f"steps {chunk}: not all stored after retries"
        baseline.restore()
    return steps


def _comparable(result):
    if hasattr(result, "as_dict"):
        return result.as_dict()
    if isinstance(result, dict):
        return {key: value for key, value in result.items() if key not in ("feedback_id", "created_at", "updated_at")}
    return result


def _import_file(suffix: str):
    def act(store, tmp_path):
        path = tmp_path / f"records{suffix}"
        if not path.exists():
            records = _records("n") + [
                # a stored thread gains a run, and a stored vote changes
                {"kind": "run", "run_id": "bt0r9", "thread_id": "bt0", "status": "error"},
                {"kind": "feedback", "thread_id": "bt0", "run_id": "bt0r0", "owner_id": "eu1", "rating": -1},
            ]
            if suffix == ".jsonl":
                path.write_text("".join(json.dumps(record) + "\n" for record in records))
            else:
                path.write_text(json.dumps(records))
        return store.import_file(path, actor=SYSTEM)

    return act


PATHS = [
    Path(
        "vote create",
        lambda store, _: store.feedback.create(
            thread_id="bt1", run_id="bt1r0", rating=-1, comment="wrong city", tags=["incorrect"], actor=REVIEWER
        ),
    ),
    Path(
        "vote upsert, new",
        lambda store, _: store.feedback.upsert(
            thread_id="bt0", run_id="bt0r1", message_id="bt0r1m2", rating=1, actor=REVIEWER
        ),
    ),
    Path(
        "vote upsert, change",
        lambda store, _: store.feedback.upsert(thread_id="bt0", run_id="bt0r0", rating=-1, comment="no", actor=ADMIN),
    ),
    Path("vote retract", lambda store, _: store.feedback.retract(thread_id="bt1", run_id="bt1r1", actor=REVIEWER)),
    Path(
        "vote delete",
        lambda store, _: store.feedback.delete(
            store.feedback.find(run_id="bt1r1", owner_id="bo", actor=SYSTEM)["feedback_id"],
            thread_id="bt1",
            actor=ADMIN,
        ),
    ),
    Path("import, JSONL (fast reader)", _import_file(".jsonl")),
    Path("import, JSON array (record by record)", _import_file(".json")),
    Path("ingest records", lambda store, _: store.ingest_numbered(iter(enumerate(_records("i"), 1)), actor=ADMIN)),
    Path("queue claim", lambda store, _: store.queue.next_run(actor=REVIEWER)),
    Path("queue skip", lambda store, _: store.queue.skip("bt0r0", actor=REVIEWER)),
]


@pytest.mark.parametrize("path", PATHS, ids=[path.name for path in PATHS])
def test_each_failed_step_leaves_all_or_nothing(path, store, tmp_path):
    steps = _walk(store, path.act, tmp_path)
    assert steps >= 2


def test_deerflow_sqlite_import_all_or_nothing(store, tmp_path):
    source = tmp_path / "deerflow.db"
    make_deerflow_db(source)
    _walk(store, lambda store, _: store.import_deerflow(source, actor=SYSTEM), None)


@pytest.mark.postgres
def test_deerflow_postgres_import_and_its_marks_all_or_nothing(store, request, pg_server):
    upstream = pg_server.create_database("upstream")
    request.addfinalizer(lambda: pg_server.drop_database(upstream))
    with psycopg.connect(upstream, autocommit=True) as conn:
        conn.execute(_UPSTREAM)
    # The marks are written in the import's transaction: a failed import leaves them where they were.
    _walk(store, lambda store, _: store.import_deerflow(upstream, actor=SYSTEM), None)


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_migration_failing_at_any_step_resumes_to_the_same_schema(engine, request, tmp_path):
    """Each migration step is one transaction: a failure leaves the store at the last whole step, and the
    next open finishes the migration to the schema a migration without faults gives."""

    def url() -> str:
        if engine == "duckdb":
            return str(tmp_path / f"m{uuid.uuid4().hex[:8]}.duckdb")
        server = request.getfixturevalue("pg_server")
        made = server.create_database("mig")
        request.addfinalizer(lambda: server.drop_database(made))
        return made

    def schema(location: str) -> list:
        with open_store(location) as store, store.engine.read() as conn:
            return sorted(
                (row["table_name"], row["column_name"], row["data_type"])
                for row in conn.all(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema IN ('main', 'public')"
                )
            )

    clean = url()
    engine_ = open_engine(clean)
    plan = FaultPlan()
    with injected(engine_, plan):
        version = migrate(engine_)
    engine_.close()
    expected = schema(clean)
    for number in range(1, len(plan.steps) + 1):
        location = url()
        engine_ = open_engine(location)
        try:
            with injected(engine_, FaultPlan(number, engine_error(engine, "disk_full"))):
                with pytest.raises(Unavailable):
                    migrate(engine_)
        finally:
            engine_.close()
        with open_store(location) as store:
            assert store.schema_version == version
        assert schema(location) == expected, f"step {number}"


def test_a_retried_import_reports_what_the_committed_attempt_stored(store):
    """The case the issue saw: the retry of an import whose input was an iterator."""
    plan = FaultPlan(40, engine_error(store.engine.name, "conflict"))
    with injected(store.engine, plan):
        report = store.ingest_numbered(iter(enumerate(_records("x"), 1)), actor=SYSTEM)
    assert plan.fired == 1
    assert report.ok and report.counts == {"thread": 2, "run": 4, "event": 8, "feedback": 4}
    assert store.threads.get("xt1")["run_count"] == 2
    assert store.feedback.count_by_thread("xt0", actor=SYSTEM) == 2


def test_a_full_disk_is_not_a_conflict(store):
    store.ingest(BASE, actor=SYSTEM)
    for kind in ("disk_full", "io_error"):
        plan = FaultPlan(3, engine_error(store.engine.name, kind))
        with injected(store.engine, plan), pytest.raises(Unavailable) as failed:
            store.feedback.upsert(thread_id="bt0", run_id="bt0r0", rating=1, actor=REVIEWER)
        assert not isinstance(failed.value, Conflict)
        # Not retried: the fault fired once and the write gave up at once.
        assert len(plan.steps) == 3
    assert store.feedback.find(run_id="bt0r0", owner_id="bo", actor=SYSTEM) is None


def test_backup_failing_at_any_step_leaves_no_backup_or_a_whole_one(store, tmp_path):
    _seed(store)
    before = snapshot(store)
    with injected(store.engine, FaultPlan()) as counting:
        clean = backup.backup(store, tmp_path / "clean")
    assert counting.steps, "a backup runs in a write"
    engine = store.engine.name
    for number in range(1, len(counting.steps) + 1):
        target = tmp_path / f"full{number}"
        with injected(store.engine, FaultPlan(number, engine_error(engine, "disk_full"))):
            with pytest.raises(Unavailable):
                backup.backup(store, target)
        assert not target.exists() and not list(tmp_path.glob(f".full{number}*")), f"step {number} left files"
        target = tmp_path / f"conflict{number}"
        with injected(store.engine, FaultPlan(number, engine_error(engine, "conflict"))) as plan:
            manifest = backup.backup(store, target)
        assert plan.fired == 1 and manifest["counts"] == clean["counts"]
        assert sorted(path.name for path in target.iterdir()) == sorted(
            path.name for path in (tmp_path / "clean").iterdir()
        )
    assert snapshot(store) == before


def test_restore_failing_at_any_step_leaves_the_store_empty_or_whole(store, request, tmp_path):
    _seed(store)
    backup.backup(store, tmp_path / "source")
    expected = snapshot(store)

    def empty_store():
        if store.engine.name == "duckdb":
            return open_store(str(tmp_path / f"r{uuid.uuid4().hex[:8]}.duckdb"))
        server = request.getfixturevalue("pg_server")
        url = server.create_database("restore")
        request.addfinalizer(lambda: server.drop_database(url))
        return open_store(url)

    with empty_store() as target, injected(target.engine, FaultPlan()) as counting:
        backup.restore(target, tmp_path / "source")
    engine = store.engine.name
    target = empty_store()
    try:
        empty = snapshot(target)
        for number in range(1, len(counting.steps) + 1):
            with injected(target.engine, FaultPlan(number, engine_error(engine, "disk_full"))):
                with pytest.raises(Unavailable):
                    backup.restore(target, tmp_path / "source")
            assert snapshot(target) == empty, f"step {number} left rows behind"
        for first in range(0, len(counting.steps), RETRIED):
            chunk = list(range(first + 1, min(first + RETRIED, len(counting.steps)) + 1))
            with injected(target.engine, FaultPlan(attempts_failing_at(chunk), engine_error(engine, "conflict"))):
                backup.restore(target, tmp_path / "source")
            assert normalized(snapshot(target), expected) == normalized(expected, expected), f"steps {chunk}"
            target.close()
            target = empty_store()
    finally:
        target.close()
