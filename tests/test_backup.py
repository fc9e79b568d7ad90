"""Backups: a consistent copy taken while writers keep voting, restored exactly (also across engines)."""

from __future__ import annotations

import threading

import pytest

from data_layer import backup, open_store
from data_layer.errors import Conflict, InvalidInput
from data_layer.integrity import check

from .test_cli import cli


def everything(store) -> dict:
    threads = store.threads.list(limit=1000, order="created_at asc")
    return {
        "threads": threads,
        "runs": [run for thread in threads for run in store.runs.list_by_thread(thread["thread_id"])],
        "messages": [
            {key: value for key, value in message.items() if key != "id"}
            for thread in threads
            for message in store.events.list_messages(thread["thread_id"])
        ],
        "feedback": [vote for thread in threads for vote in store.feedback.list_by_thread(thread["thread_id"])],
    }


def test_backup_taken_during_writes_restores_to_a_sound_copy(demo_store, tmp_path):
    targets = [
        (thread["thread_id"], run["run_id"])
        for thread in demo_store.threads.list(limit=5)
        for run in demo_store.runs.list_by_thread(thread["thread_id"])
    ]
    stop = threading.Event()

    def keep_voting(n: int) -> None:
        i = 0
        while not stop.is_set():
            thread_id, run_id = targets[i % len(targets)]
            demo_store.feedback.upsert(thread_id=thread_id, run_id=run_id, rating=1 - 2 * (i % 2), owner_id=f"w{n}")
            i += 1

    writers = [threading.Thread(target=keep_voting, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    try:
        manifest = backup.backup(demo_store, tmp_path / "bk")
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    with open_store(str(tmp_path / "restored.duckdb")) as restored:
        backup.restore(restored, tmp_path / "bk")
        assert check(restored) == {}
        with restored.engine.read() as conn:
            for table, count in manifest["counts"].items():
                assert conn.scalar(f"SELECT count(*) FROM {table}") == count


def test_round_trip_is_exact(demo_store, tmp_path):
    backup.backup(demo_store, tmp_path / "bk")
    with open_store(str(tmp_path / "copy.duckdb")) as copy:
        backup.restore(copy, tmp_path / "bk")
        assert everything(copy) == everything(demo_store)


def test_restore_refuses_a_non_empty_target_and_junk(demo_store, tmp_path):
    backup.backup(demo_store, tmp_path / "bk")
    with pytest.raises(Conflict, match="not empty"):
        backup.restore(demo_store, tmp_path / "bk")
    (tmp_path / "junk").mkdir()
    with open_store(str(tmp_path / "empty.duckdb")) as empty:
        with pytest.raises(InvalidInput, match="not a backup directory"):
            backup.restore(empty, tmp_path / "junk")
    with pytest.raises(InvalidInput, match="not empty"):
        backup.backup(demo_store, tmp_path / "bk")


def test_cli_backup_and_restore(tmp_path):
    source, target = str(tmp_path / "a.duckdb"), str(tmp_path / "b.duckdb")
    assert cli("demo", "--db", source, "--threads", "8").returncode == 0
    made = cli("backup", "--db", source, str(tmp_path / "bk"))
    assert made.returncode == 0, made.stderr
    assert "backup written to" in made.stdout
    restored = cli("restore", "--db", target, str(tmp_path / "bk"))
    assert restored.returncode == 0, restored.stderr
    checked = cli("check", "--db", target)
    assert checked.returncode == 0, checked.stderr
    with open_store(source) as a, open_store(target) as b:
        assert everything(a) == everything(b)
    again = cli("restore", "--db", target, str(tmp_path / "bk"))
    assert again.returncode == 1
    assert again.stderr.startswith("error: the target database is not empty")
