"""Judges' verdicts through `/api/ingest` over real HTTP on a running `streamlit run app.py`, on both
engines: stored as the judge's, counted apart, a bad verdict refused by line and field with nothing
stored; the judge's numbers per rubric criterion in `/judges/{judge}`."""

from __future__ import annotations

import json

import httpx
import pytest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.conftest import AppServer

JUDGE = "helpfulness-v3@gpt-4.1"
USERS = {"ad": "admin", "vi": "viewer"}
TOKENS = {user: auth.new_token() for user in USERS}
RUBRIC = [{"name": "factual", "kind": "binary"}]


@pytest.fixture(scope="module")
def api(module_store_url):
    with open_store(module_store_url) as store:
        records = [{"kind": "thread", "thread_id": "t1"}]
        records += [{"kind": "run", "run_id": f"r{n}", "thread_id": "t1"} for n in range(3)]
        assert store.ingest(records, actor=SYSTEM).ok
        store.queues.create(QueueSpec("graded", sample_rate=1.0, rubric=RUBRIC), actor=SYSTEM)
        # a reviewer's votes and scores: r0 and r2 good and factual, r1 bad and not factual
        people = [
            {"kind": "feedback", "thread_id": "t1", "run_id": run, "owner_id": "bo", "rating": rating,
             "source": "reviewer", "scores": {"factual": rating == 1}}
            for run, rating in (("r0", 1), ("r1", -1), ("r2", 1))
        ]  # fmt: skip
        assert store.ingest(people, actor=SYSTEM).ok
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

    good = body(
        verdict("r0", 1, rationale="fine", scores={"factual": True}),
        verdict("r1", -1, comment="wrong", scores={"factual": "yes"}),
        verdict("r2", 1),
    )
    accepted = api["ad"].post("/ingest", content=good, headers={"Content-Type": "application/x-ndjson"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["counts"] == {"thread": 0, "run": 0, "event": 0, "feedback": 0, "judge": 3}
    (listed,) = api["vi"].get("/judges").json()
    assert (listed["judge"], listed["judged_runs"], listed["raw_rate"]) == (JUDGE, 3, pytest.approx(2 / 3))
    assert listed["table"] == {"tp": 2, "fn": 0, "fp": 0, "tn": 1}
    # its rubric scores against the reviewer's: right on r0, wrong on r1, none given on r2
    (factual,) = api["vi"].get(f"/judges/{JUDGE}").json()["criteria"]
    assert (factual["criterion"], factual["kind"], factual["runs"]) == ("factual", "binary", 2)
    assert factual["table"] == {"tp": 1, "fn": 0, "fp": 1, "tn": 0}
    assert (factual["sensitivity"], factual["specificity"]) == (1.0, 0.0)
    # people's votes hold none of them
    assert [vote["user_id"] for vote in api["vi"].get("/threads/t1/runs/r1/feedback").json()] == ["bo"]
    # a viewer may not import
    assert api["vi"].post("/ingest", content=good).status_code == 403
