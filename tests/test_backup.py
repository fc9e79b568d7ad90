"""Backups: a consistent copy taken while writers keep voting, restored exactly (also across engines)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

import data_layer
from data_layer import auth, backup, demo, open_store, schedule
from data_layer.auth import SYSTEM
from data_layer.errors import Conflict, InvalidInput, Unavailable
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
        "feedback": [
            vote for thread in threads for vote in store.feedback.list_by_thread(thread["thread_id"], actor=SYSTEM)
        ],
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
            demo_store.feedback.upsert(
                thread_id=thread_id, run_id=run_id, rating=1 - 2 * (i % 2), owner_id=f"w{n}", actor=SYSTEM
            )
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


@pytest.mark.slow
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
        assert demo.seed(store, threads=10, seed=3, actor=SYSTEM).ok
    admin, reviewer = auth.new_token(), auth.new_token()
    tokens = f"{auth.token_entry('root', 'admin', admin)},{auth.token_entry('rev', 'reviewer', reviewer)}"
    server = AppServer(db, env={"FEEDBACK_API_TOKENS": tokens, "FEEDBACK_DEMO": "0", "FEEDBACK_BACKUP_EVERY": "0"})
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
        assert copy.threads.count({"search": "KeyError"}) == demo_store.threads.count({"search": "KeyError"}) > 0


class SmallDisk:
    """A directory on a filesystem that is nearly full, and a way to make room on it."""

    def __init__(self, path: Path, make_room, real: bool):
        self.path = path
        self.make_room = make_room
        self.real = real

    def entries(self) -> list[str]:
        return sorted(entry.name for entry in self.path.iterdir() if entry.name != _FILLER)


_FILLER = "filler"
# Room left on the small disk: less than any of these backups needs (a demo of 20 threads takes about 85 KiB).
_ROOM = 32 * 1024


@pytest.fixture(params=["tmpfs", "injected"])
def small_disk(request, tmp_path, monkeypatch):
    """A real 2 MiB tmpfs filled to 32 KiB from full (when the tests run as root), or, for the `injected`
    variant, a directory where Parquet writes fail with ENOSPC after 32 KiB, as a full disk answers."""
    where = tmp_path / "small"
    where.mkdir()
    if request.param == "injected":
        written = {"bytes": 0, "full": True}
        real = pq.ParquetWriter.write_batch

        def write_batch(self, batch, *args, **kwargs):
            written["bytes"] += batch.nbytes
            if written["full"] and written["bytes"] > _ROOM:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(self, batch, *args, **kwargs)

        monkeypatch.setattr(pq.ParquetWriter, "write_batch", write_batch)
        yield SmallDisk(where, lambda: written.update(full=False), real=False)
        return
    if os.geteuid() != 0:
        pytest.skip("not root: no tmpfs can be mounted, so only the injected variant runs")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"mount -t tmpfs failed: {mounted.stderr.decode().strip()}")
    try:
        free = shutil.disk_usage(where).free
        (where / _FILLER).write_bytes(b"\0" * (free - _ROOM))
        yield SmallDisk(where, (where / _FILLER).unlink, real=True)
    finally:
        if subprocess.run(["umount", str(where)]).returncode:
            # Something still holds a file there: detach it now, the kernel frees it when that closes.
            subprocess.run(["umount", "-l", str(where)], check=True)


def test_a_backup_on_a_full_disk_is_unavailable_leaves_nothing_and_its_name_can_be_used_again(store, small_disk):
    assert demo.seed(store, threads=20, seed=5, actor=SYSTEM).ok
    target = small_disk.path / "nightly"
    with pytest.raises(Unavailable, match=r"backup nightly not written \(no space left on device\)"):
        backup.backup(store, target)
    assert small_disk.entries() == []
    small_disk.make_room()
    manifest = backup.backup(store, target)
    assert small_disk.entries() == ["nightly"]
    with open_store(str(small_disk.path.parent / "copy.duckdb")) as copy:
        assert backup.restore(copy, target) == manifest
        assert everything(copy) == everything(store)


@pytest.mark.slow
def test_the_cli_and_the_api_answer_a_full_disk_with_one_line_and_503(tmp_path, small_disk):
    if not small_disk.real:
        pytest.skip("the CLI and the server run in processes of their own, where nothing is injected: tmpfs only")
    db = str(tmp_path / "full.duckdb")
    assert cli("demo", "--db", db, "--threads", "20").returncode == 0
    failed = cli("backup", "--db", db, str(small_disk.path / "direct"))
    assert failed.returncode == 1
    assert failed.stderr == "error: backup direct not written (no space left on device); nothing was kept\n"
    assert small_disk.entries() == []
    admin = auth.new_token()
    server = AppServer(
        db,
        env={
            "FEEDBACK_API_TOKENS": auth.token_entry("root", "admin", admin),
            "FEEDBACK_DEMO": "0",
            "FEEDBACK_BACKUP_DIR": str(small_disk.path),
            "FEEDBACK_BACKUP_EVERY": "0",
        },
    )
    try:
        headers = {"Authorization": f"Bearer {admin}"}
        answer = httpx.post(f"{server.url}/api/admin/backup", json={"name": "nightly"}, headers=headers, timeout=60)
        assert answer.status_code == 503, answer.text
        assert answer.json()["detail"] == "backup nightly not written (no space left on device); nothing was kept"
        assert small_disk.entries() == []
        small_disk.make_room()
        again = httpx.post(f"{server.url}/api/admin/backup", json={"name": "nightly"}, headers=headers, timeout=60)
        assert again.status_code == 200, again.text
        assert small_disk.entries() == ["nightly"]
    finally:
        server.stop()


def test_the_dashboard_keeps_a_recent_backup_and_only_the_last_few(tmp_path, monkeypatch):
    db = str(tmp_path / "kept.duckdb")
    with open_store(db) as store:
        assert demo.seed(store, threads=6, seed=4, actor=SYSTEM).ok
        backup.backup(store, tmp_path / "backups" / "before-upgrade")
    monkeypatch.setenv(schedule.EVERY_VARIABLE, "1s")
    monkeypatch.setenv(schedule.KEEP_VARIABLE, "2")
    monkeypatch.setattr(schedule, "START_DELAY", 0.0)
    data_layer.release_shared()
    store = data_layer.shared_store(db)
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < 4 and time.monotonic() < deadline:
            seen |= {entry["name"] for entry in store.schedule.scheduled()}
            time.sleep(0.1)
        expected = everything(store)
    finally:
        data_layer.release_shared()
    assert len(seen) >= 4, f"only {sorted(seen)} taken in a minute"
    left = sorted(path.name for path in (tmp_path / "backups").iterdir())
    autos = [name for name in left if name.startswith(schedule.PREFIX)]
    assert left == sorted(["before-upgrade", *autos]), "a backup named by a person was removed, or a partial one left"
    assert len(autos) == 2 and autos[0] in seen
    with open_store(str(tmp_path / "copy.duckdb")) as copy:
        backup.restore(copy, tmp_path / "backups" / autos[-1])
        assert everything(copy) == expected


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("30m", 1800), ("90s", 90), ("2d", 172800), ("45", 45), ("0", 0), ("off", 0)]
)
def test_the_backup_interval_reads_units(text, seconds):
    assert schedule.parse_every(text) == seconds


def test_scheduled_backups_are_on_for_a_duckdb_file_by_default_and_refuse_a_bad_setting(monkeypatch):
    monkeypatch.delenv(schedule.EVERY_VARIABLE, raising=False)
    assert schedule.configured("data/feedback.duckdb") == (3600, 5)
    assert schedule.configured("postgresql://u@h/db") == (0, 5)
    monkeypatch.setenv(schedule.EVERY_VARIABLE, "every hour")
    with pytest.raises(InvalidInput, match="FEEDBACK_BACKUP_EVERY='every hour' is not a duration"):
        schedule.configured("data/feedback.duckdb")
