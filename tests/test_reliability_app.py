"""Reliability seen from outside: concurrent HTTP clients, a database locked by another process, hostile URLs."""

from __future__ import annotations

import random
import threading

import httpx
import pytest
from streamlit.testing.v1 import AppTest

import data_layer
from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.integrity import check

from .conftest import ROOT, AppServer

REVIEWERS = [f"rev{n}" for n in range(16)]
TOKENS = {user: auth.new_token() for user in REVIEWERS}


@pytest.mark.slow
def test_sixteen_http_clients_end_with_the_last_write_of_each_reviewer_and_target(tmp_path):
    db = str(tmp_path / "load.duckdb")
    targets = [("t1", "r1"), ("t1", "r2"), ("t2", "r3")]
    with open_store(db) as store:
        assert store.ingest(
            [{"kind": "run", "run_id": run, "thread_id": thread, "status": "success"} for thread, run in targets],
            actor=SYSTEM,
        ).ok
    tokens = ",".join(auth.token_entry(user, "reviewer", TOKENS[user]) for user in REVIEWERS)
    server = AppServer(db, env={"FEEDBACK_API_TOKENS": tokens, "FEEDBACK_DEMO": "0"})
    last: dict[tuple[str, str], int | None] = {}
    statuses: list[int] = []
    try:

        def client(user: str) -> None:
            rng = random.Random(user)
            with httpx.Client(
                base_url=f"{server.url}/api", headers={"Authorization": f"Bearer {TOKENS[user]}"}, timeout=60
            ) as http:
                for _ in range(15):
                    thread, run = rng.choice(targets)
                    path = f"/threads/{thread}/runs/{run}/feedback"
                    if rng.random() < 0.3:
                        response = http.delete(path)
                        assert response.status_code in (200, 404), response.text
                        last[(user, run)] = None
                    else:
                        rating = rng.choice((1, -1))
                        response = http.put(path, json={"rating": rating, "comment": f"{user} says {rating}"})
                        assert response.status_code == 200, response.text
                        last[(user, run)] = rating
                    statuses.append(response.status_code)

        workers = [threading.Thread(target=client, args=(user,)) for user in REVIEWERS]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        server.stop()
    assert len(statuses) == 16 * 15
    assert all(status < 500 for status in statuses)
    with open_store(db) as store:
        stored = {}
        for thread, run in targets:
            for row in store.feedback.list_by_run(thread, run, actor=SYSTEM):
                key = (row["owner_id"], run)
                assert key not in stored, f"duplicate vote {key}"
                stored[key] = row["rating"]
        assert stored == {key: rating for key, rating in last.items() if rating is not None}
        assert check(store) == {}


def test_the_app_explains_a_database_held_by_another_process(held_db, monkeypatch, fresh_streamlit_caches):
    db, pid = held_db
    monkeypatch.setenv("FEEDBACK_DB", db)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    message = " ".join(box.value for box in at.error)
    assert f"database {db} is in use by process {pid}" in message
    assert "FEEDBACK_DB" in message


@pytest.mark.parametrize(
    "params",
    [
        {"thread": "<script>alert(1)</script>"},
        {"thread": "../../etc/passwd"},
        {"thread": "' OR 1=1 --"},
        {"thread": "x" * 5000},
        {"thread": "no-such-thread", "run": "\x00"},
    ],
)
def test_hostile_thread_links_get_a_clear_message(tmp_path, monkeypatch, fresh_streamlit_caches, params):
    db = str(tmp_path / "links.duckdb")
    with open_store(db) as store:
        assert store.ingest([{"kind": "run", "run_id": "r1", "thread_id": "t1", "status": "success"}], actor=SYSTEM).ok
        before = store.threads.count()
    monkeypatch.setenv("FEEDBACK_DB", db)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.switch_page("pages/thread.py")
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    shown = " ".join(str(box.value) for box in [*at.warning, *at.error, *at.info])
    assert "not found" in shown.lower() or "not a valid" in shown.lower()
    data_layer.release_shared()  # the app's store holds the file; let the check below open it
    with open_store(db) as store:
        assert store.threads.count() == before
