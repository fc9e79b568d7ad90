"""LLM judges through the REST API over real HTTP on a running `streamlit run app.py`, on both engines:
a judge's token gives verdicts under its own name through the upstream's PUT, readers get each judge's
numbers and disagreements."""

from __future__ import annotations

import httpx
import pytest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.conftest import AppServer

JUDGE = "helpfulness-v3@gpt-4.1"
USERS = {JUDGE: "judge", "bo": "reviewer", "vi": "viewer"}
TOKENS = {user: auth.new_token() for user in USERS}
RUNS = [f"r{n}" for n in range(8)]


@pytest.fixture(scope="module")
def api(module_store_url):
    with open_store(module_store_url) as store:
        records = [{"kind": "thread", "thread_id": "t1"}, {"kind": "thread", "thread_id": "t2"}]
        records += [{"kind": "run", "run_id": run, "thread_id": "t1", "assistant_id": "a1"} for run in RUNS]
        records += [{"kind": "run", "run_id": "other", "thread_id": "t2"}]
        assert store.ingest(records, actor=SYSTEM).ok
        store.queues.create(QueueSpec("all", sample_rate=1.0), actor=SYSTEM)
        people = [1, 1, 1, 1, -1, -1, -1, -1]
        votes = [
            {
                "kind": "feedback",
                "thread_id": "t1",
                "run_id": run,
                "owner_id": "bo",
                "rating": rating,
                "source": "reviewer",
            }
            for run, rating in zip(RUNS, people, strict=True)
        ]
        assert store.ingest(votes, actor=SYSTEM).ok
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


def test_a_judge_gives_verdicts_through_the_upstream_put_and_readers_see_its_numbers(api):
    said = [1, 1, 1, -1, 1, -1, -1, -1]
    for run, rating in zip(RUNS, said, strict=True):
        answer = api[JUDGE].put(
            f"/threads/t1/runs/{run}/feedback", json={"rating": rating, "rationale": f"because {run}"}
        )
        assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["user_id"], body["source"], body["judge"], body["rating"], body["comment"]) == (
        JUDGE,
        "judge",
        JUDGE,
        -1,
        "because r7",
    )
    assert body["feedback_id"] and body["tags"] == []
    again = api[JUDGE].put("/threads/t1/runs/r7/feedback", json={"rating": 1, "comment": "second thought"})
    assert again.json()["feedback_id"] == body["feedback_id"] and again.json()["rationale"] == "second thought"
    api[JUDGE].put("/threads/t1/runs/r7/feedback", json={"rating": -1})

    (listed,) = api["vi"].get("/judges").json()
    assert listed["judge"] == JUDGE and listed["table"] == {"tp": 3, "fn": 1, "fp": 1, "tn": 3}
    assert (listed["sensitivity"], listed["specificity"], listed["raw_rate"]) == (0.75, 0.75, 0.5)
    detail = api["vi"].get(f"/judges/{JUDGE}", params={"by": "assistant_id"}).json()
    assert [group["assistant_id"] for group in detail["groups"]] == ["a1"]
    disagreeing = api["vi"].get(f"/judges/{JUDGE}/disagreements").json()
    assert sorted((row["run_id"], row["people"], row["rationale"]) for row in disagreeing) == [
        ("r3", "good", "because r3"),
        ("r4", "bad", "because r4"),
    ]
    # the people's votes are unchanged and the judge's are not among them
    votes = api["bo"].get("/threads/t1/runs/r3/feedback").json()
    assert [(vote["user_id"], vote["source"]) for vote in votes] == [("bo", "reviewer")]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"rating": 2}, 400, "rating"),
        ({"rating": 1, "tags": ["slow"]}, 400, "'tags' is not taken from a judge"),
        ({"rating": 1, "comment": "a", "rationale": "b"}, 400, "not both"),
        ({"comment": "no rating"}, 400, "rating is required"),
        ({"rating": 1, "scores": "x"}, 400, "scores must be an object"),
    ],
)
def test_a_bad_verdict_is_a_400_naming_what_and_changes_nothing(api, body, status, detail):
    before = api["vi"].get("/judges").json()
    answer = api[JUDGE].put("/threads/t1/runs/r1/feedback", json=body)
    assert answer.status_code == status and detail in answer.json()["detail"], answer.text
    assert api["vi"].get("/judges").json() == before


def test_a_judge_token_gives_verdicts_and_reads_nothing(api):
    assert api[JUDGE].get("/judges").status_code == 403
    assert api[JUDGE].get("/threads/t1/runs/r1/feedback").status_code == 403
    assert api[JUDGE].put("/threads/t1/runs/r1/feedback/x", json={"rating": 1}).status_code in (404, 405)
    assert api[JUDGE].put("/threads/t2/runs/r1/feedback", json={"rating": 1}).status_code == 404
    missing = api["vi"].get("/judges/nobody@x")
    assert missing.status_code == 404 and "judge nobody@x" in missing.json()["detail"]
