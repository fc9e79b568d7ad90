"""Backups: a consistent copy taken while writers keep voting, restored exactly (also across engines)."""

from __future__ import annotations

import json
import os
import threading

import httpx
import pytest

from data_layer import auth, backup, demo, open_store
from data_layer.errors import Conflict, InvalidInput
from data_layer.integrity import check

from .conftest import AppServer
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
    with pytest.raises(Conflict, match="not empty"):
        backup.backup(demo_store, tmp_path / "bk")


@pytest.mark.slow
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


@pytest.mark.slow
def test_backup_while_the_dashboard_runs_goes_through_its_api(tmp_path):
    db = str(tmp_path / "live.duckdb")
    with open_store(db) as store:
        assert demo.seed(store, threads=10, seed=3).ok
    admin, reviewer = auth.new_token(), auth.new_token()
    tokens = f"{auth.token_entry('root', 'admin', admin)},{auth.token_entry('rev', 'reviewer', reviewer)}"
    server = AppServer(db, env={"FEEDBACK_API_TOKENS": tokens, "FEEDBACK_DEMO": "0"})
    try:
        # the dashboard opens its database on first use
        opened = httpx.get(f"{server.url}/api/threads/none/feedback", headers={"Authorization": f"Bearer {admin}"})
        assert opened.status_code == 404
        locked = cli("backup", "--db", db, str(tmp_path / "direct"))
        assert locked.returncode == 1 and "is in use by process" in locked.stderr
        env = {**os.environ, "FEEDBACK_API_TOKEN": reviewer}
        refused = cli("backup", "nightly", "--api", f"{server.url}/api", env=env)
        assert refused.returncode == 1
        assert "refused the backup (403)" in refused.stderr
        made = cli("backup", "nightly", "--api", f"{server.url}/api", env={**env, "FEEDBACK_API_TOKEN": admin})
        assert made.returncode == 0, made.stderr
        assert str(tmp_path / "backups" / "nightly") in made.stdout
        again = cli("backup", "nightly", "--api", f"{server.url}/api", env={**env, "FEEDBACK_API_TOKEN": admin})
        assert again.returncode == 1 and "not empty" in again.stderr
        escape = cli("backup", "../../etc", "--api", f"{server.url}/api", env={**env, "FEEDBACK_API_TOKEN": admin})
        assert escape.returncode == 1 and "not a valid id" in escape.stderr
        for blank in (b"\n", b"  "):
            answer = httpx.post(
                f"{server.url}/api/admin/backup", content=blank, headers={"Authorization": f"Bearer {admin}"}
            )
            assert answer.status_code == 400 and "not JSON" in answer.json()["detail"]
        assert [path.name for path in (tmp_path / "backups").iterdir()] == ["nightly"]
    finally:
        server.stop()
    with open_store(str(tmp_path / "copy.duckdb")) as copy, open_store(db) as original:
        backup.restore(copy, tmp_path / "backups" / "nightly")
        assert everything(copy) == everything(original)


def test_a_backup_from_before_the_search_index_restores_searchable(demo_store, tmp_path):
    backup.backup(demo_store, tmp_path / "bk")
    manifest_path = tmp_path / "bk" / backup.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    del manifest["counts"]["message_terms"]
    (tmp_path / "bk" / "message_terms.parquet").unlink()
    manifest_path.write_text(json.dumps(manifest))
    with open_store(str(tmp_path / "copy.duckdb")) as copy:
        backup.restore(copy, tmp_path / "bk")
        assert copy.threads.count(search="KeyError") == demo_store.threads.count(search="KeyError") > 0
