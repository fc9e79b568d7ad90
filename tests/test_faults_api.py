"""Faults and concurrency through the REST API, over real HTTP.

- `/api/ingest` and a vote PUT with each step failing in turn (tests/test_faults.py's walk), on the API
  served by uvicorn in this process so that the test can put a fault plan on the store it uses: a
  full disk answers 503 with Retry-After and stores nothing, conflicts are retried and everything the
  200 reports is stored.
- On PostgreSQL, 16 imports and 32 votes at once over the same few threads, through a real dashboard
  process: nothing acknowledged is missing, no answer is a 5xx, the integrity check passes.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

import data_layer
from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.errors import Conflict, Unavailable
from data_layer.integrity import check
from tests.conftest import AppServer, free_port
from tests.test_faults import _records, _walk

pytestmark = pytest.mark.slow

TOKENS = {"ana": auth.new_token(), "bo": auth.new_token(), "cy": auth.new_token()}
ROLES = {"ana": "admin", "bo": "reviewer", "cy": "reviewer"}


def token_setting() -> str:
    return ",".join(auth.token_entry(user, ROLES[user], token) for user, token in TOKENS.items())


@contextmanager
def serve_api(url: str, monkeypatch):
    """The API app (as mounted under /api) served by uvicorn on loopback, in this process, over the shared
    store of `url`: yields an admin's client and that store."""
    monkeypatch.setenv("FEEDBACK_DB", url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    monkeypatch.setenv("FEEDBACK_API_TOKENS", token_setting())
    from data_layer.api import create_api

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKENS['ana']}"}, timeout=30
    )
    try:
        yield client, data_layer.shared_store(url)
    finally:
        client.close()
        server.should_exit = True
        thread.join(10)
        data_layer.release_shared()


@pytest.fixture
def api(store_url, monkeypatch):
    with serve_api(store_url, monkeypatch) as served:
        yield served


def answer(response: httpx.Response):
    """The API's answer as the data layer's result or error, so the walk can judge it."""
    if response.status_code == 503:
        assert response.headers.get("Retry-After", "").isdigit(), response.headers
        raise Unavailable(response.json()["detail"])
    if response.status_code == 409:
        raise Conflict(response.json()["detail"])
    assert response.status_code in (200, 201), (response.status_code, response.text)
    return response.json()


def test_api_ingest_fails_each_step_all_or_nothing(api):
    client, store = api
    body = "".join(json.dumps(record) + "\n" for record in _records("h"))
    steps = _walk(store, lambda store, _: answer(client.post("/ingest", content=body)), None)
    assert steps > 20


def test_api_vote_fails_each_step_all_or_nothing(api):
    client, store = api
    vote = {"rating": -1, "comment": "cites an outdated page", "tags": ["incorrect"]}
    _walk(store, lambda store, _: answer(client.put("/threads/bt0/runs/bt0r1/feedback", json=vote)), None)


@pytest.mark.postgres
def test_concurrent_ingests_and_votes_on_shared_threads_lose_nothing(pg_server, pg_url):
    """The case seen: concurrent imports deadlocked on the threads' rows, and retried imports answered
    200 having stored nothing. Threads are now locked in one order; a retry replays the same rows."""
    threads = [f"s{n}" for n in range(3)]
    with open_store(pg_url) as store:
        seed = [{"kind": "thread", "thread_id": thread} for thread in threads] + [
            {"kind": "run", "run_id": f"{thread}-base", "thread_id": thread, "status": "success"} for thread in threads
        ]
        assert store.ingest(seed, actor=SYSTEM).ok
    server = AppServer(pg_url, env={"FEEDBACK_API_TOKENS": token_setting(), "FEEDBACK_DEMO": "0"})
    log = pg_server.dir / "log"
    logged = log.stat().st_size

    def ingest(number: int) -> tuple[int, list[dict]]:
        # Every import touches every shared thread, in its own order: a new run with an event and votes.
        records = []
        for position in range(len(threads)):
            thread = threads[(number + position) % len(threads)]
            run = f"{thread}-i{number}"
            records += [
                {"kind": "run", "run_id": run, "thread_id": thread, "status": "success"},
                {
                    "kind": "event",
                    "thread_id": thread,
                    "run_id": run,
                    "seq": 1000 * number + position + 1,
                    "event_type": "ai_message",
                    "content": {"type": "ai", "content": f"answer {number}", "id": f"{run}-m"},
                },
                {"kind": "feedback", "thread_id": thread, "run_id": run, "owner_id": f"u{number}", "rating": 1},
                {
                    "kind": "feedback",
                    "thread_id": thread,
                    "run_id": f"{thread}-base",
                    "owner_id": f"u{number}",
                    "rating": -1,
                },
            ]
        with httpx.Client(base_url=f"{server.url}/api", timeout=120) as client:
            response = client.post(
                "/ingest",
                content="".join(json.dumps(record) + "\n" for record in records),
                headers={"Authorization": f"Bearer {TOKENS['ana']}"},
            )
        return response.status_code, records

    def vote(number: int) -> tuple[int, dict]:
        user = ("bo", "cy")[number % 2]
        thread = threads[number % len(threads)]
        body = {"rating": 1 if number % 3 else -1, "comment": f"vote {number}"}
        with httpx.Client(base_url=f"{server.url}/api", timeout=120) as client:
            response = client.put(
                f"/threads/{thread}/runs/{thread}-base/feedback",
                json=body,
                headers={"Authorization": f"Bearer {TOKENS[user]}"},
            )
        return response.status_code, {"user": user, "thread": thread, **body, "answer": response.json()}

    try:
        with ThreadPoolExecutor(48) as pool:
            ingests = [pool.submit(ingest, number) for number in range(16)]
            votes = [pool.submit(vote, number) for number in range(32)]
            ingested = [future.result() for future in ingests]
            voted = [future.result() for future in votes]
    finally:
        server.stop()

    with log.open("rb") as stream:
        stream.seek(logged)
        assert b"deadlock detected" not in stream.read(), "writers deadlocked: the retry is the exception"
    statuses = [status for status, _ in ingested + voted]
    assert all(status < 500 for status in statuses), statuses
    assert all(status == 200 for status in statuses), statuses
    with open_store(pg_url) as store:
        for _, records in ingested:
            for record in records:
                if record["kind"] == "run":
                    assert store.runs.get(record["run_id"]) is not None, record
                elif record["kind"] == "feedback":
                    stored = store.feedback.find(run_id=record["run_id"], owner_id=record["owner_id"], actor=SYSTEM)
                    assert stored is not None and stored["rating"] == record["rating"], record
        # Each reviewer's last acknowledged vote per run is the one stored (PUT replaces).
        for _, sent in voted:
            stored = store.feedback.get(sent["answer"]["feedback_id"], actor=SYSTEM)
            assert stored is not None and stored["owner_id"] == sent["user"], sent
        for thread in threads:
            imported = {
                (record["run_id"], record["owner_id"])
                for _, records in ingested
                for record in records
                if record["kind"] == "feedback" and record["thread_id"] == thread
            }
            reviewers = {sent["user"] for _, sent in voted if sent["thread"] == thread}
            assert store.feedback.count_by_thread(thread, actor=SYSTEM) == len(imported) + len(reviewers)
            assert store.threads.get(thread)["run_count"] == 1 + len(ingested)
        assert check(store) == {}
