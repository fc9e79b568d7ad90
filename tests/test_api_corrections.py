"""Corrected answers over real HTTP on a running `streamlit run app.py`, on both engines: the source
system's vote endpoints take an optional `correction` and answer it, a vote without one answers exactly
the source system's fields, a too long one is a 400 naming the field with nothing stored, and an end
user's token may not send one (403)."""

from __future__ import annotations

import httpx
import pytest

from data_layer import auth, corrections, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer

pytestmark = pytest.mark.slow

USERS = {"bo": "reviewer", "ana": "admin", "eu": "end_user"}
TOKENS = {user: auth.new_token() for user in USERS}
FEEDBACK = "/threads/t1/runs/{run}/feedback"
SOURCE_FIELDS = {
    "feedback_id",
    "run_id",
    "thread_id",
    "user_id",
    "message_id",
    "rating",
    "comment",
    "tags",
    "source",
    "created_at",
    "updated_at",
}
FIXED = "Take the **Nozomi** at 07:00, not the Hikari.\n\n- seat reservations: yes"


@pytest.fixture(scope="module")
def api(module_store_url):
    with open_store(module_store_url) as store:
        records = [{"kind": "thread", "thread_id": "t1", "owner_id": "eu"}]
        records += [{"kind": "run", "run_id": f"r{n}", "thread_id": "t1"} for n in range(4)]
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


def votes(api, run: str) -> dict[str, dict]:
    answer = api["ana"].get(FEEDBACK.format(run=run))
    assert answer.status_code == 200, answer.text
    return {vote["user_id"]: vote for vote in answer.json()}


def test_a_put_with_a_correction_answers_it_and_keeps_the_source_fields(api):
    body = {"rating": -1, "comment": "wrong train", "tags": ["incorrect"], "correction": FIXED}
    answer = api["bo"].put(FEEDBACK.format(run="r0"), json=body)
    assert answer.status_code == 200, answer.text
    vote = answer.json()
    assert vote["correction"] == FIXED
    assert set(vote) == SOURCE_FIELDS | {"correction"}
    assert (vote["rating"], vote["comment"], vote["tags"], vote["user_id"], vote["source"]) == (
        -1,
        "wrong train",
        ["incorrect"],
        "bo",
        "reviewer",
    )
    assert votes(api, "r0")["bo"]["correction"] == FIXED
    assert api["ana"].get("/threads/t1/feedback").json()[0]["correction"] == FIXED

    # a PUT without it keeps it; an empty one removes it, and the answer has exactly the source's fields
    kept = api["bo"].put(FEEDBACK.format(run="r0"), json={"rating": 1})
    assert kept.json()["correction"] == FIXED and kept.json()["feedback_id"] == vote["feedback_id"]
    cleared = api["bo"].put(FEEDBACK.format(run="r0"), json={"rating": 1, "correction": ""})
    assert cleared.status_code == 200 and set(cleared.json()) == SOURCE_FIELDS
    assert set(votes(api, "r0")["bo"]) == SOURCE_FIELDS


def test_a_post_with_a_correction_creates_the_vote_with_it(api):
    answer = api["ana"].post(FEEDBACK.format(run="r1"), json={"rating": -1, "correction": "Say no."})
    assert answer.status_code == 201, answer.text
    assert answer.json()["correction"] == "Say no." and answer.json()["user_id"] == "ana"
    assert votes(api, "r1")["ana"]["correction"] == "Say no."


@pytest.mark.parametrize(
    ("correction", "detail"),
    [
        ("x" * (corrections.MAX_LENGTH + 1), "correction is 20001 characters long; at most 20000 are allowed"),
        (42, "correction must be text, got int"),
    ],
)
def test_a_bad_correction_is_a_400_naming_it_storing_nothing(api, correction, detail):
    answer = api["bo"].put(FEEDBACK.format(run="r2"), json={"rating": -1, "correction": correction})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == detail
    assert votes(api, "r2") == {}


def test_an_end_user_may_vote_but_not_send_a_correction(api):
    refused = api["eu"].put(FEEDBACK.format(run="r3"), json={"rating": -1, "correction": "Better"})
    assert refused.status_code == 403, refused.text
    assert "may not write a correction" in refused.json()["detail"]
    assert votes(api, "r3") == {}
    plain = api["eu"].put(FEEDBACK.format(run="r3"), json={"rating": -1})
    assert plain.status_code == 200 and set(plain.json()) == SOURCE_FIELDS


def test_the_openapi_document_names_the_correction(api):
    document = api["bo"].get("/openapi.json").json()
    body = document["paths"]["/threads/{thread_id}/runs/{run_id}/feedback"]["put"]["requestBody"]
    correction = body["content"]["application/json"]["schema"]["properties"]["correction"]
    assert correction["maxLength"] == corrections.MAX_LENGTH
    assert "correction" in document["components"]["schemas"]["Feedback"]["properties"]
