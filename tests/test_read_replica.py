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

from data_layer import auth, export, open_store, shared_store, stats
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import StoreUnavailable
from tests.conftest import AppServer
from tests.pg_server import PASSWORD, StandbyServer
from tests.test_browser_review import wait_ready

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


def export_rows(store) -> list[dict]:
    return [row for batch in export.batches(store, actor=SYSTEM) for row in batch.to_pylist()]


def standby_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith(WARNING) and record.levelno == logging.WARNING
    ]


def test_stale_reads_go_to_the_standby_and_fall_back_while_it_is_down(cluster, caplog):
    url, standby, read_url = cluster
    caplog.set_level(logging.INFO, logger="data_layer.engines.pg_standby")
    with open_store(url, read_url=read_url) as store:
        store.engine.standby.retry_s = 1.0
        store.feedback.upsert(thread_id="t1", run_id="r1", rating=1, actor=Actor("ana"))
        # The reviewer's own vote reads back at once; the aggregates lag (the standby replays an hour late).
        assert [vote["owner_id"] for vote in store.feedback.list_by_run("t1", "r1", actor=Actor("ana"))] == ["ana"]
        assert answered_by_standby(store.engine)
        assert stats.overview(store)["votes"] == 2
        # The export copies its rows out of the standby too (`bulk_batches`): the two cloned votes.
        assert sorted(row["reviewer"] for row in export_rows(store)) == ["u1", "u2"]
        with store.engine.read() as conn:
            assert conn.scalar("SELECT pg_is_in_recovery()") is False
        # A table the standby has not replayed yet (a migration's): the primary answers that statement alone.
        store.engine.write(lambda conn: conn.execute("CREATE TABLE added_later (x INTEGER)"))
        with store.engine.stale_read() as conn:
            assert conn.scalar("SELECT count(*) FROM added_later") == 0
            assert conn.scalar("SELECT pg_is_in_recovery()") is True
        assert standby_warnings(caplog) == []

        standby.kill()
        assert stats.overview(store)["votes"] == 3
        assert sorted(row["reviewer"] for row in export_rows(store)) == ["ana", "u1", "u2"]
        assert store.threads.count({"not_reviewed_by": "ana"}) == 1
        assert not answered_by_standby(store.engine)
        time.sleep(1.2)
        # Tried again after `retry_s`, still down: the primary answers, and the log does not say so again.
        assert stats.overview(store)["votes"] == 3
        assert len(standby_warnings(caplog)) == 1, standby_warnings(caplog)
        assert f"127.0.0.1:{standby.port}" in standby_warnings(caplog)[0]
        assert not [record for record in caplog.records if "feedback-standby" in record.getMessage()]
        assert PASSWORD not in caplog.text

        standby.start()
        time.sleep(1.2)
        assert answered_by_standby(store.engine)
        assert stats.overview(store)["votes"] == 2
        assert len(standby_warnings(caplog)) == 1
        assert any(record.getMessage().endswith("answers again: stale reads go to it") for record in caplog.records)


def test_a_standby_down_when_the_store_opens_leaves_reads_on_the_primary(cluster, caplog):
    url, standby, read_url = cluster
    standby.kill()
    with open_store(url, read_url=read_url) as store:
        assert store.threads.count() == 2
        assert [row["thread_id"] for row in store.threads.list(order="title asc")] == ["t2", "t1"]
        assert sorted(row["rating"] for row in export_rows(store)) == [-1, 1]
    assert len(standby_warnings(caplog)) == 1


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


def standby_scans(read_url: str) -> int:
    """Table scans the standby has counted in the test's database (each backend reports its own, at the latest
    about 10 s after its last statement)."""
    with psycopg.connect(read_url, autocommit=True) as conn:
        return conn.execute("SELECT sum(seq_scan + coalesce(idx_scan, 0)) FROM pg_stat_user_tables").fetchone()[0]


def metric(page, label: str) -> int:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    expect(box).to_be_visible(timeout=TIMEOUT)
    return int(re.sub(r"\D", "", box.locator('[data-testid="stMetricValue"]').inner_text()))


def open_page(page, url: str) -> None:
    page.goto(url)
    wait_ready(page)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_the_app_shows_my_vote_at_once_and_the_stats_from_the_standby_or_the_primary(cluster, page):
    url, standby, read_url = cluster
    token = auth.new_token()
    env = {
        "FEEDBACK_DB_READ": read_url,
        "FEEDBACK_DEMO": "0",
        "FEEDBACK_API_TOKENS": auth.token_entry(ME, "reviewer", token),
    }
    server = AppServer(url, env=env)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{server.url}/api", headers=headers, timeout=30) as api:
            saved = api.put("/threads/t1/runs/r1/feedback", json={"rating": 1, "comment": "seen at once"})
            assert saved.status_code == 200, saved.text
            listed = api.get("/threads/t1/runs/r1/feedback")
            assert [(vote["user_id"], vote["comment"]) for vote in listed.json()] == [(ME, "seen at once")]

        open_page(page, f"{server.url}/thread?thread=t1")
        caption = page.get_by_text(re.compile(r"runs · last activity"))
        expect(caption).to_contain_text(re.compile(r"1\s*thumb_up\s*·\s*0\s*thumb_down"), timeout=TIMEOUT)

        scans = standby_scans(read_url)
        open_page(page, f"{server.url}/stats")
        # The standby replays an hour late: its stats hold the two cloned votes, not the one just cast.
        assert metric(page, "Votes") == 2
        deadline = time.monotonic() + 15
        while standby_scans(read_url) <= scans and time.monotonic() < deadline:
            time.sleep(0.5)
        assert standby_scans(read_url) > scans

        standby.kill()
        # Another filter than before (every run is m1's), so the page's cache does not answer for the database.
        open_page(page, f"{server.url}/stats?model=m1")
        assert metric(page, "Votes") == 3
        open_page(page, f"{server.url}/stats?model=m1&source=reviewer")
        assert metric(page, "Votes") == 1
    finally:
        server.stop()
    log = server.log.read_text()
    assert log.count("the read standby does not answer") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
