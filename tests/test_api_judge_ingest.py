"""Judges' verdicts through `/api/ingest` over real HTTP on a running `streamlit run app.py`, on both
engines: stored as the judge's, counted apart, and a bad verdict refused by line and field with
nothing stored."""

from __future__ import annotations

import json

import httpx
import pytest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer

JUDGE = "helpfulness-v3@gpt-4.1"
USERS = {"ad": "admin", "vi": "viewer"}
TOKENS = {user: auth.new_token() for user in USERS}


@pytest.fixture(scope="module")
def api(module_store_url):
    with open_store(module_store_url) as store:
        records = [{"kind": "thread", "thread_id": "t1"}]
        records += [{"kind": "run", "run_id": f"r{n}", "thread_id": "t1"} for n in range(3)]
        assert store.ingest(records, actor=SYSTEM).ok
    tokens = ",".join(auth.token_entry(user, role, TOKENS[user]) for user, role in USERS.items())
    server = AppServer(module_store_url, env={"FEEDBACK_API_TOKENS": tokens, "FEEDBACK_DEMO": "0"})
    clients = {
        user: httpx.Client(base_url=f"{server.url}/api", headers={"Authorization": f"Bearer {TOKENS[user]}"})
        for user in USERS
    }
    yield clients
    for client in clients.values():
        client.close()
    server.stop()


def verdict(run: str, rating: int, **fields) -> dict:
    record = {"kind": "feedback", "source": "judge", "judge": JUDGE, "thread_id": "t1", "run_id": run}
    return {**record, "rating": rating, **fields}


def body(*records: dict) -> str:
    return "\n".join(json.dumps(record) for record in records)


def test_verdicts_through_the_ingest_endpoint(api):
    bad = body(verdict("r0", 1), verdict("r1", 1, scores={"factual": 1.5}), verdict("r2", -1) | {"judge": None})
    refused = api["ad"].post("/ingest", content=bad, headers={"Content-Type": "application/x-ndjson"})
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert [error["line"] for error in errors] == [2, 3]
    assert "score factual" in errors[0]["error"] and "missing required field judge" in errors[1]["error"]
    assert api["vi"].get("/judges").json() == []

    good = body(verdict("r0", 1, rationale="fine"), verdict("r1", -1, comment="wrong"), verdict("r2", 1))
    accepted = api["ad"].post("/ingest", content=good, headers={"Content-Type": "application/x-ndjson"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["counts"] == {"thread": 0, "run": 0, "event": 0, "feedback": 0, "judge": 3}
    (listed,) = api["vi"].get("/judges").json()
    assert (listed["judge"], listed["judged_runs"], listed["raw_rate"]) == (JUDGE, 3, pytest.approx(2 / 3))
    # people's votes hold none of them
    assert api["vi"].get("/threads/t1/runs/r1/feedback").json() == []
    # a viewer may not import
    assert api["vi"].post("/ingest", content=good).status_code == 403
