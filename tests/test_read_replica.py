"""Reads off the primary: `FEEDBACK_DB_READ` names a streaming hot standby (PostgreSQL's `pg_basebackup -R`).

The standby replays with `recovery_min_apply_delay` of an hour, so nothing written after it was cloned shows
on it: whatever a read returns says which server answered. A vote reads back at once (the primary), the
stats and the threads list come from the standby (its statistics count the page's scans), and with the
standby killed the same pages come from the primary, with one warning in the log and no error on the page.
"""

from __future__ import annotations

import logging
import re
import time

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from data_layer import auth, open_store, shared_store, stats
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import StoreUnavailable
from tests.conftest import AppServer
from tests.pg_server import StandbyServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TIMEOUT = 20_000
ME = "local-reviewer"
WARNING = "the read standby "
# Two end users' votes are cloned onto the standby; every vote after them is the primary's alone.
RECORDS = [
    {"kind": "thread", "thread_id": "t1", "display_name": "Standby trip"},
    {"kind": "run", "run_id": "r1", "thread_id": "t1", "status": "success", "model_name": "m1"},
    {"kind": "run", "run_id": "r2", "thread_id": "t1", "status": "success", "model_name": "m1"},
    {"kind": "thread", "thread_id": "t2", "display_name": "Standby other"},
    {"kind": "run", "run_id": "r3", "thread_id": "t2", "status": "success", "model_name": "m1"},
    {"kind": "feedback", "thread_id": "t2", "run_id": "r3", "rating": 1, "owner_id": "u1"},
    {"kind": "feedback", "thread_id": "t2", "run_id": "r3", "rating": -1, "owner_id": "u2"},
]


@pytest.fixture
def cluster(pg_server):
    """A seeded database on the primary, and a standby cloned from it after the seeding."""
    url = pg_server.create_database("standby")
    with open_store(url) as store:
        assert store.ingest(RECORDS, actor=SYSTEM).ok
    standby = StandbyServer(pg_server, {"recovery_min_apply_delay": "1h"})
    try:
        yield url, standby, standby.url(url.rsplit("/", 1)[1])
    finally:
        standby.stop()
        pg_server.drop_database(url)


def answered_by_standby(engine) -> bool:
    with engine.stale_read() as conn:
        return bool(conn.scalar("SELECT pg_is_in_recovery()"))


def standby_warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith(WARNING)]


def test_stale_reads_go_to_the_standby_and_fall_back_while_it_is_down(cluster, caplog):
    url, standby, read_url = cluster
    caplog.set_level(logging.WARNING, logger="data_layer.engines.pg_standby")
    with open_store(url, read_url=read_url) as store:
        store.engine.standby.retry_s = 1.0
        store.feedback.upsert(thread_id="t1", run_id="r1", rating=1, actor=Actor("ana"))
        # The reviewer's own vote reads back at once; the aggregates lag (the standby replays an hour late).
        assert [vote["owner_id"] for vote in store.feedback.list_by_run("t1", "r1", actor=Actor("ana"))] == ["ana"]
        assert answered_by_standby(store.engine)
        assert stats.overview(store)["votes"] == 2
        with store.engine.read() as conn:
            assert conn.scalar("SELECT pg_is_in_recovery()") is False

        standby.kill()
        assert stats.overview(store)["votes"] == 3
        assert store.threads.count({"not_reviewed_by": "ana"}) == 1
        assert not answered_by_standby(store.engine)
        time.sleep(1.2)
        # Tried again after `retry_s`, still down: the primary answers, and the log does not say so again.
        assert stats.overview(store)["votes"] == 3
        assert len(standby_warnings(caplog)) == 1, standby_warnings(caplog)
        assert f"127.0.0.1:{standby.port}" in standby_warnings(caplog)[0]
        assert not [record for record in caplog.records if "feedback-standby" in record.getMessage()]
        assert "s3cret" not in caplog.text

        standby.start()
        time.sleep(1.2)
        assert answered_by_standby(store.engine)
        assert stats.overview(store)["votes"] == 2
        assert standby_warnings(caplog)[-1].endswith("answers again: stale reads go to it")


def test_a_standby_down_when_the_store_opens_leaves_reads_on_the_primary(cluster, caplog):
    url, standby, read_url = cluster
    standby.kill()
    with open_store(url, read_url=read_url) as store:
        assert store.threads.count() == 2
        assert [row["thread_id"] for row in store.threads.list(order="title asc")] == ["t2", "t1"]
        rows = [row for batch in store_batches(store) for row in batch.to_pylist()]
        assert sorted(row["rating"] for row in rows) == [-1, 1]
    assert len(standby_warnings(caplog)) == 1


def store_batches(store):
    from data_layer import export

    return export.batches(store, actor=SYSTEM)


def test_a_duckdb_store_refuses_a_standby(tmp_path, monkeypatch, fresh_streamlit_caches):
    db = str(tmp_path / "feedback.duckdb")
    monkeypatch.setenv("FEEDBACK_DB", db)
    monkeypatch.setenv("FEEDBACK_DB_READ", "postgresql://reader@127.0.0.1:1/feedback")
    with pytest.raises(StoreUnavailable, match="FEEDBACK_DB is a DuckDB file"):
        shared_store()
    monkeypatch.setenv("FEEDBACK_DB_READ", "/srv/replica.duckdb")
    with pytest.raises(StoreUnavailable, match="FEEDBACK_DB_READ must be a postgresql:// URL"):
        shared_store()
    # The command line's stores (and any other database than FEEDBACK_DB's) read from their own database.
    with open_store(db) as store:
        assert store.threads.count() == 0
