"""The review queues' REST endpoints over real HTTP on a running `streamlit run app.py`, on both engines."""

from __future__ import annotations

import httpx
import pytest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.conftest import AppServer

USERS = {"ana": "admin", "lee": "lead", "bo": "reviewer", "cy": "reviewer", "vi": "viewer", "eu": "end_user"}
TOKENS = {user: auth.new_token() for user in USERS}
RUNS = [f"r{n}" for n in range(6)]


@pytest.fixture(scope="module")
def api(module_store_url):
    with open_store(module_store_url) as store:
        records = [{"kind": "thread", "thread_id": "t1"}]
        records += [{"kind": "run", "run_id": run, "thread_id": "t1", "assistant_id": "a1"} for run in RUNS]
        assert store.ingest(records, actor=SYSTEM).ok
        store.queues.create(QueueSpec("all", sample_rate=1.0, reviewers_per_item=2), actor=SYSTEM)
        store.queues.create(QueueSpec("cy-only", sample_rate=1.0, assignees=("cy",)), actor=SYSTEM)
    tokens = ",".join(auth.token_entry(user, role, TOKENS[user]) for user, role in USERS.items())
    server = AppServer(module_store_url, env={"FEEDBACK_API_TOKENS": tokens, "FEEDBACK_DEMO": "0"})
    clients = {
        user: httpx.Client(base_url=f"{server.url}/api", headers={"Authorization": f"Bearer {TOKENS[user]}"})
        for user in USERS
    }
    clients[None] = httpx.Client(base_url=f"{server.url}/api")
    yield clients
    for client in clients.values():
        client.close()
    server.stop()


def test_readers_list_queues_and_others_are_refused(api):
    listed = api["vi"].get("/queues")
    assert listed.status_code == 200
    assert [(q["name"], q["items"], q["reviewers_per_item"]) for q in listed.json()] == [
        ("all", 6, 2),
        ("cy-only", 6, 1),
    ]
    assert api["eu"].get("/queues").status_code == 403
    assert api[None].get("/queues").status_code == 401
    assert api["vi"].get("/queues/all").json()["sample_rate"] == 1.0
    missing = api["vi"].get("/queues/nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "queue nope not found"


def test_a_reviewer_takes_an_item_votes_on_it_and_sees_progress(api):
    before = api["bo"].get("/queues/all/progress").json()
    item = api["bo"].post("/queues/all/next")
    assert item.status_code == 200, item.text
    run = item.json()["run"]["run_id"]
    assert item.json()["reason"] == "sampled" and run in RUNS
    # cy is handed another item while bo holds this one
    assert api["cy"].post("/queues/all/next").json()["run"]["run_id"] != run
    voted = api["bo"].put(f"/queues/all/items/{run}/vote", json={"rating": -1, "comment": "wrong", "tags": ["slow"]})
    assert voted.status_code == 200, voted.text
    assert (voted.json()["user_id"], voted.json()["rating"], voted.json()["tags"]) == ("bo", -1, ["slow"])
    progress = api["bo"].get("/queues/all/progress").json()
    assert {row["reviewer"]: row["done"] for row in progress["reviewers"]}["bo"] == 1
    assert progress["left_for_me"] == before["left_for_me"] - 1 == 5
    assert progress["votes_needed"] == before["votes_needed"] - 1
    assert api["bo"].post("/queues/all/next").json()["run"]["run_id"] != run


@pytest.mark.parametrize(
    ("user", "path", "body", "status", "detail"),
    [
        ("bo", "/queues/all/items/r1/vote", {"rating": 2}, 400, "rating must be 1 or -1"),
        ("bo", "/queues/all/items/r1/vote", {"rating": 1, "message_id": "m1"}, 400, "'message_id' is not taken here"),
        ("bo", "/queues/all/items/r99/vote", {"rating": 1}, 404, "run r99 is no item of queue all"),
        ("vi", "/queues/all/items/r1/vote", {"rating": 1}, 403, "may not queue"),
        ("bo", "/queues/cy-only/items/r1/vote", {"rating": 1}, 403, "bo is not an assignee of queue cy-only"),
    ],
)
def test_a_bad_submission_is_refused_and_stores_nothing(api, user, path, body, status, detail):
    before = api["ana"].get("/queues/all/progress").json()["votes_needed"]
    answer = api[user].put(path, json=body)
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]
    assert api["ana"].get("/queues/all/progress").json()["votes_needed"] == before


def test_the_estimate_over_http(api):
    for user, rating in (("ana", 1), ("cy", 1)):
        assert api[user].put("/queues/all/items/r5/vote", json={"rating": rating}).status_code == 200
    found = api["vi"].get("/queues/all/estimate", params={"by": "assistant_id"}).json()
    assert found["sampled_items"] == 6 and found["rated_items"] >= 1
    assert found["groups"][0]["assistant_id"] == "a1"
    assert api["vi"].get("/queues/all/estimate", params={"by": "owner"}).status_code == 400


def test_agreement_over_http(api):
    found = api["vi"].get("/queues/all/agreement")
    assert found.status_code == 200, found.text
    assert set(found.json()["fleiss_kappa"]) >= {"value", "low", "high"}
    assert api["eu"].get("/queues/all/agreement").status_code == 403


def test_progress_shows_every_reviewer_to_a_lead_and_an_admin_and_a_reviewer_their_own_row(api):
    for user in ("bo", "cy"):
        assert api[user].put("/threads/t1/runs/r4/feedback", json={"rating": 1}).status_code == 200
    seen = {user: api[user].get("/queues/all/progress").json() for user in ("lee", "ana", "bo", "vi")}
    every = [row["reviewer"] for row in seen["lee"]["reviewers"]]
    assert {"bo", "cy"} <= set(every) and seen["ana"]["reviewers"] == seen["lee"]["reviewers"]
    assert [row["reviewer"] for row in seen["bo"]["reviewers"]] == ["bo"]
    assert seen["vi"]["reviewers"] == [] and seen["vi"]["behind"] == []
    own = seen["bo"]["reviewers"][0]
    assert own == next(row for row in seen["lee"]["reviewers"] if row["reviewer"] == "bo")
    assert set(own) >= {"done", "remaining", "pace_per_hour", "agreement", "behind", "even_share"}
    assert all(seen[user]["done"] == seen["lee"]["done"] for user in seen)
