"""Nothing lost, nothing broken: concurrent writers, SIGKILL at random moments, hostile record streams."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from data_layer import backup, open_store
from data_layer import cli as cli_module
from data_layer.auth import SYSTEM
from data_layer.engines import duck_journal
from data_layer.errors import DataLayerError
from data_layer.integrity import check

from . import crash
from .conftest import ROOT
from .test_backup import everything
from .test_cli import cli


def runs_of(store, limit=4):
    threads = store.threads.list(limit=limit, order="created_at asc")
    return [
        (thread["thread_id"], run["run_id"])
        for thread in threads
        for run in store.runs.list_by_thread(thread["thread_id"])
    ]


@pytest.mark.slow
def test_sixteen_writers_end_with_the_last_write_of_each_reviewer_and_target(demo_store):
    targets = runs_of(demo_store)[:4]
    last: dict[tuple[str, str], int | None] = {}
    failures: list[BaseException] = []
    barrier = threading.Barrier(16)

    def reviewer(n: int) -> None:
        rng = random.Random(n)
        owner = f"load-{n}"
        try:
            barrier.wait()
            for _ in range(40):
                thread_id, run_id = rng.choice(targets)
                if rng.random() < 0.25:
                    demo_store.feedback.retract(thread_id=thread_id, run_id=run_id, owner_id=owner, actor=SYSTEM)
                    last[(owner, run_id)] = None
                else:
                    rating = rng.choice((1, -1))
                    demo_store.feedback.upsert(
                        thread_id=thread_id, run_id=run_id, rating=rating, owner_id=owner, actor=SYSTEM
                    )
                    last[(owner, run_id)] = rating
        except BaseException as error:  # noqa: BLE001 - every failure is reported below
            failures.append(error)

    workers = [threading.Thread(target=reviewer, args=(n,)) for n in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    stored = {}
    for thread_id, run_id in targets:
        for row in demo_store.feedback.list_by_run(thread_id, run_id, actor=SYSTEM):
            if row["owner_id"].startswith("load-"):
                key = (row["owner_id"], run_id)
                assert key not in stored, f"duplicate vote {key}"
                stored[key] = row["rating"]
    assert stored == {key: rating for key, rating in last.items() if rating is not None}
    assert check(demo_store) == {}


@pytest.mark.slow
def test_sigkill_during_votes_and_imports_loses_nothing_acknowledged(tmp_path):
    """Kills spread over writes, checkpoints and the log replay of the next open (tests/crash.py); the stress mode,
    `python -m tests.crash_stress`, does the same hundreds of times under load (docs/reliability.md)."""
    db = str(tmp_path / "crash.duckdb")
    targets = crash.seeded(db)
    rng = random.Random(2026)
    ledger = crash.Ledger()
    timings = crash.Timings()
    for round_ in range(24):
        phase = crash.PHASES[(round_ // 2) % len(crash.PHASES)]
        importing = round_ % 2 == 1
        point = timings.draw(phase, importing, rng)
        crash.kill_round(db, targets, ledger, round_, point, importing, tmp_path, timings)
        assert ledger.problems(db) == [], f"after kill {round_} ({phase})"
    assert ledger.votes, "no vote was acknowledged before any kill: the test proved nothing"
    assert not duck_journal.path_of(db).exists()


@pytest.fixture(scope="module")
def torn_write(tmp_path_factory) -> str:
    """tests/torn_write.c built: LD_PRELOAD it to tear a block write and SIGKILL the writer, as Linux does."""
    library = crash.build_torn_write(tmp_path_factory.mktemp("torn"))
    if library is None:
        pytest.skip("the torn-write library needs Linux and a C compiler (cc or gcc)")
    return library


# (importer?, which of the child's 256 KiB writes is torn, only those at this offset): any block write of a voter's
# first checkpoints or of an import, and the in-place rewrite of metadata block 0 (at 12288) that left the file
# unreadable in issue 16.
_TEARS = [
    (False, 1, None),
    (False, 2, None),
    (False, 3, None),
    (False, 1, 12288),
    (False, 2, 12288),
    (True, 1, None),
    (True, 1, 12288),
]


@pytest.mark.slow
def test_a_kill_that_tears_a_block_write_loses_nothing(tmp_path, torn_write):
    db = str(tmp_path / "torn.duckdb")
    targets = crash.seeded(db)
    ledger = crash.Ledger()
    for round_, (importing, nth, offset) in enumerate(_TEARS):
        env = {"TORN_LIBRARY": torn_write, **({"TORN_OFFSET": str(offset)} if offset else {})}
        point = crash.KillPoint(crash.TEAR, nth)
        child = crash.kill_round(db, targets, ledger, round_, point, importing, tmp_path, crash.Timings(), env)
        assert child.reached, f"tear {round_} did not happen (the child ended with {child.returncode})"
        assert ledger.problems(db) == [], f"after tear {round_} ({'importer' if importing else 'voter'}, write {nth})"
    assert ledger.votes
    assert ledger.written_back >= 2, "no tear landed inside a checkpoint: the test proved nothing"


def _other_process_opens(db: str) -> str:
    """What another process gets when it opens `db` with DuckDB: "opened", or DuckDB's error."""
    code = """
import duckdb, sys
try:
    duckdb.connect(sys.argv[1]).close()
    print("opened")
except duckdb.Error as error:
    print(error)
"""
    return subprocess.run([sys.executable, "-c", code, db], capture_output=True, text=True, timeout=60).stdout.strip()


def test_a_journal_is_written_back_only_for_a_checkpoint_that_did_not_finish(tmp_path):
    db = str(tmp_path / "journal.duckdb")
    (thread_id, run_id), *_ = crash.seeded(db)
    journal = duck_journal.path_of(db)
    with open_store(db) as store:
        vote = store.feedback.create(thread_id=thread_id, run_id=run_id, rating=1, owner_id="j1", actor=SYSTEM)
        store.engine.checkpoint()
        # The journal reads the file through a descriptor kept open, so DuckDB's lock holds after a checkpoint.
        assert "Could not set lock" in _other_process_opens(db)
        with store.engine.read() as conn:
            duck_journal.write(db, conn.cursor)
            # While DuckDB has the file open, nobody writes blocks back: not a second store of this process.
            with open_store(db) as second:
                assert second.engine.recovered is None
            assert journal.exists()
            # A checkpoint with something to fold in finishes, and the process dies before removing the journal.
            later = store.feedback.create(thread_id=thread_id, run_id=run_id, rating=-1, owner_id="j2", actor=SYSTEM)
            conn.execute("CHECKPOINT")
    with open_store(db) as store:
        assert store.engine.recovered == "dropped the journal of a checkpoint that finished"
        assert store.feedback.get(vote["feedback_id"], actor=SYSTEM)["rating"] == 1
        assert store.feedback.get(later["feedback_id"], actor=SYSTEM)["rating"] == -1
        assert check(store) == {}
    assert not journal.exists()
    # A journal cut short was being written when the process died: its checkpoint had not begun.
    journal.write_bytes(b"feedback-checkpoint-journal/1\n{")
    with open_store(db) as store:
        assert store.engine.recovered == "dropped an incomplete journal (its checkpoint had not begun)"
        assert store.feedback.get(vote["feedback_id"], actor=SYSTEM) is not None
    assert not journal.exists()
    assert _other_process_opens(db) == "opened"


def _damage(db: str) -> None:
    """Flip bytes inside metadata block 0, as a torn write or a bad disk leaves it."""
    with open(db, "r+b") as file:
        file.seek(duck_journal.START + 1000)
        file.write(b"\xff" * 64)


@pytest.mark.slow
def test_check_tells_a_damaged_file_from_one_in_use_and_names_the_backup_that_restores_it(
    tmp_path, held_db, monkeypatch, fresh_streamlit_caches
):
    db = str(tmp_path / "damaged.duckdb")
    assert cli("demo", "--db", db, "--threads", "8").returncode == 0
    with open_store(db) as store:
        before = everything(store)
    assert cli("backup", "--db", db, str(tmp_path / "backups" / "older")).returncode == 0
    assert cli("backup", "--db", db, str(tmp_path / "backups" / "auto-newest")).returncode == 0
    newest = tmp_path / "backups" / "auto-newest"
    taken = datetime.fromisoformat(json.loads((newest / backup.MANIFEST).read_text())["created_at"])
    _damage(db)

    damaged = cli("check", "--db", db)
    assert damaged.returncode == cli_module.EXIT_DAMAGED
    line = damaged.stderr.rstrip("\n")
    assert "\n" not in line
    assert line.startswith(f"damaged: database {db} is damaged and does not open (Corrupt database file: ")
    assert f"Newest backup: {newest}, taken {taken:%Y-%m-%d %H:%M} UTC." in line
    command = f"python -m data_layer restore {newest} --db {db}"
    assert line.endswith(f"move {db} and {db}.wal aside, then run: {command}")

    # The dashboard says the same on the page, and nothing else.
    monkeypatch.setenv("FEEDBACK_DB", db)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception
    assert [box.value for box in at.error] == [f"The database cannot be opened: {line.removeprefix('damaged: ')}"]

    # Following the message restores every vote.
    os.rename(db, db + ".damaged")
    restored = cli(*command.split()[3:])
    assert restored.returncode == 0, restored.stderr
    assert cli("check", "--db", db).returncode == 0
    with open_store(db) as store:
        assert everything(store) == before

    held, pid = held_db
    in_use = cli("check", "--db", held)
    assert in_use.returncode == cli_module.EXIT_IN_USE
    assert in_use.stderr.startswith(f"in use: database {held} is in use by process {pid}")


_ids = st.sampled_from(["t1", "t2", "t3", "r1", "r2", "r3", "x'y", "a/b", ""])
_record = st.one_of(
    st.fixed_dictionaries({"kind": st.just("thread"), "thread_id": _ids}),
    st.fixed_dictionaries(
        {"kind": st.just("run"), "run_id": _ids, "thread_id": _ids},
        optional={"status": st.sampled_from(["success", "error", "bogus"]), "total_tokens": st.integers(-5, 10**6)},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("event"),
            "thread_id": _ids,
            "run_id": _ids,
            "seq": st.integers(-2, 40),
            "event_type": st.sampled_from(["human_message", "ai_message", "llm.ai.response", "run_end", ""]),
        },
        optional={"content": st.one_of(st.text(max_size=30), st.just({"type": "ai", "content": "x", "id": "m1"}))},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("feedback"),
            "thread_id": _ids,
            "run_id": _ids,
            "rating": st.sampled_from([1, -1, 0, True, "1", 1.0]),
        },
        optional={
            "owner_id": st.sampled_from(["ana", "bo", None]),
            "message_id": st.sampled_from(["m1", "t1:1"]),
            "tags": st.sampled_from([[], ["slow"], ["nope"]]),
        },
    ),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_record, max_size=12), min_size=1, max_size=3))
def test_any_record_stream_keeps_the_store_invariants(tmp_path_factory, batches):
    db = str(tmp_path_factory.mktemp("prop") / "p.duckdb")
    with open_store(db) as store:
        for batch in batches:
            before = _counts(store)
            try:
                report = store.ingest(batch, actor=SYSTEM)
            except DataLayerError as error:
                pytest.fail(f"ingest raised instead of reporting: {error!r}")
            if report.ok:
                assert report.counts == {
                    kind: sum(r.get("kind") == kind for r in batch) for kind in ("thread", "run", "event", "feedback")
                }
            else:
                assert report.errors, "a failed import must say why"
                assert _counts(store) == before
            assert check(store) == {}


def _counts(store) -> tuple:
    with store.engine.read() as conn:
        return tuple(
            conn.scalar(f"SELECT count(*) FROM {table}") for table in ("threads", "runs", "run_events", "feedback")
        )
