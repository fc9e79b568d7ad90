"""A full disk, for real: the store on a small tmpfs filled to the last byte.

A vote or an import that cannot be written is `Unavailable` (HTTP 503 with Retry-After, exit 1 with
one line on the command line), never a 409 a client would read as "you already voted"; nothing
changes; once there is space again the same call stores it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid

import pytest

from data_layer import open_store
from data_layer.auth import SYSTEM
from data_layer.errors import Conflict, Unavailable
from tests.conftest import ROOT, ai_message
from tests.small_disk import fill, small_disk
from tests.test_faults import _seed, snapshot
from tests.test_faults_api import serve_api

pytestmark = pytest.mark.slow


def _big_records(prefix: str) -> list[dict]:
    """A thread whose messages need more room than a full disk has (a few hundred kilobytes)."""
    thread, run = f"{prefix}t", f"{prefix}r"
    records = [
        {"kind": "thread", "thread_id": thread},
        {"kind": "run", "run_id": run, "thread_id": thread, "status": "success"},
    ]
    for seq in range(1, 41):
        text = " ".join(uuid.uuid4().hex for _ in range(400))
        records.append(ai_message(thread, run, seq, text, f"{run}m{seq}"))
    return records


def test_duckdb_on_a_full_disk_answers_503_and_keeps_nothing_half_done(tmp_path, monkeypatch):
    with small_disk(tmp_path / "disk") as disk:
        db = str(disk / "feedback.duckdb")
        with open_store(db) as store:
            _seed(store)
        body = "".join(json.dumps(record) + "\n" for record in _big_records("d"))
        vote = {"rating": -1, "comment": "cites an outdated page", "tags": ["incorrect"]}
        path = "/threads/bt0/runs/bt0r1/feedback"
        with serve_api(db, monkeypatch) as (client, store):
            before = snapshot(store)
            filler = fill(disk)
            for answer in (
                client.put(path, json=vote),
                client.post(path, json=vote),
                client.post("/ingest", content=body),
            ):
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"].isdigit()
                assert "disk" in answer.json()["detail"] and "full" in answer.json()["detail"]
            with pytest.raises(Unavailable) as failed:
                store.feedback.upsert(thread_id="bt0", run_id="bt0r1", rating=1, owner_id="cy", actor=SYSTEM)
            assert not isinstance(failed.value, Conflict)
            assert snapshot(store) == before
            filler.unlink()
            # The same calls, once there is room again.
            assert client.put(path, json=vote).status_code == 200
            assert client.post("/ingest", content=body).json()["counts"]["event"] == 40
        with open_store(db) as store:
            assert store.feedback.find(run_id="bt0r1", owner_id="ana", actor=SYSTEM)["comment"] == vote["comment"]
            assert len(store.events.list_messages("dt")) == 40


def test_cli_import_on_a_full_disk_is_one_line_and_exit_1(tmp_path):
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in _big_records("c")))
    with small_disk(tmp_path / "disk") as disk:
        db = str(disk / "feedback.duckdb")
        with open_store(db) as store:
            _seed(store)
            before = snapshot(store)
        filler = fill(disk)
        command = [sys.executable, "-m", "data_layer", "import", str(source), "--db", db]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "disk" in lines[0] and "full" in lines[0], lines
        filler.unlink()
        with open_store(db) as store:
            assert snapshot(store) == before
        again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr


@pytest.mark.postgres
def test_postgres_out_of_disk_is_unavailable_and_stores_nothing(pg_server):
    """The database's tables live in a tablespace on the small disk (its write-ahead log does not), so the
    server reports the full disk as an error, as a server whose data disk fills does."""
    # Under the server's own folder: the server runs as a user that cannot enter pytest's temporary folders.
    with small_disk(pg_server.dir / f"disk-{uuid.uuid4().hex[:8]}", "48m") as disk:
        space = disk / "space"
        space.mkdir()
        if pg_server.as_postgres:
            shutil.chown(space, "postgres", "postgres")
        tablespace, database = f"small_{uuid.uuid4().hex[:8]}", f"full_{uuid.uuid4().hex[:8]}"
        pg_server.admin(f"CREATE TABLESPACE {tablespace} LOCATION '{space}'")
        try:
            pg_server.admin(f'CREATE DATABASE "{database}" TABLESPACE {tablespace}')
            url = pg_server.url(database)
            records = _big_records("p")
            with open_store(url) as store:
                _seed(store)
                before = snapshot(store)
                filler = fill(disk)
                with pytest.raises(Unavailable) as failed:
                    store.ingest(records, actor=SYSTEM)
                assert "disk" in str(failed.value) and "full" in str(failed.value)
                assert snapshot(store) == before
                filler.unlink()
                assert store.ingest(records, actor=SYSTEM).ok
                assert len(store.events.list_messages("pt")) == 40
        finally:
            pg_server.drop_database(pg_server.url(database))
            pg_server.admin(f"DROP TABLESPACE IF EXISTS {tablespace}")
