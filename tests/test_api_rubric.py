"""Rubric scores over real HTTP on a running `streamlit run app.py`, on both engines: a queue's submit
needs its required criteria (400 naming the missing one, nothing stored), the source system's vote
endpoints take optional scores, and answers carry `scores` only on votes that have some."""

from __future__ import annotations

import httpx
import krippendorff
import pytest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.conftest import AppServer

pytestmark = pytest.mark.slow

USERS = {"bo": "reviewer", "cy": "reviewer"}
TOKENS = {user: auth.new_token() for user in USERS}
RUBRIC = [
    {"name": "factual", "kind": "binary", "required": True},
    {"name": "helpfulness", "kind": "ordinal", "required": True},
    {"name": "tone", "kind": "categorical", "options": ["friendly", "curt"]},
]
FEEDBACK = "/threads/t1/runs/{run}/feedback"


@pytest.fixture(scope="module")
def api(module_store_url):
    with open_store(module_store_url) as store:
        records = [{"kind": "thread", "thread_id": "t1"}]
        records += [{"kind": "run", "run_id": f"r{n}", "thread_id": "t1", "assistant_id": "a1"} for n in range(4)]
        records.append({"kind": "run", "run_id": "r9", "thread_id": "t1", "assistant_id": "a9"})
        assert store.ingest(records, actor=SYSTEM).ok
        store.queues.create(QueueSpec("scored", selection={"assistant_id": "a1"}, rubric=RUBRIC), actor=SYSTEM)
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


def votes(api, run: str) -> list[dict]:
    answer = api["cy"].get(FEEDBACK.format(run=run))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_queue_shows_its_rubric(api):
    shown = api["bo"].get("/queues/scored").json()["rubric"]
    assert [(c["name"], c["kind"], c["required"]) for c in shown] == [
        ("factual", "binary", True),
        ("helpfulness", "ordinal", True),
        ("tone", "categorical", False),
    ]


@pytest.mark.parametrize(
    ("scores", "detail"),
    [
        (None, "score factual is required by the rubric; give factual, helpfulness"),
        ({"factual": "yes"}, "score helpfulness is required by the rubric"),
        ({"factual": "yes", "helpfulness": 9}, "score helpfulness: '9' is not valid; expected an integer from 1 to 5"),
        ({"factual": "yes", "helpfulness": 3, "tone": "rude"}, "score tone: 'rude' is not valid"),
        ({"factual": "yes", "helpfulness": 3, "speed": 1}, "score speed: no such criterion in the rubric"),
        ("yes", "scores must be an object of criterion name to value, got str"),
    ],
)
def test_a_queue_vote_without_its_required_or_with_bad_scores_is_a_400_storing_nothing(api, scores, detail):
    body = {"rating": 1} if scores is None else {"rating": 1, "scores": scores}
    answer = api["bo"].put("/queues/scored/items/r0/vote", json=body)
    assert answer.status_code == 400, answer.text
    assert detail in answer.json()["detail"]
    assert votes(api, "r0") == []


def test_a_queue_vote_with_its_scores_and_the_answers_that_carry_them(api):
    body = {"rating": -1, "comment": "wrong year", "scores": {"factual": "no", "helpfulness": 2, "tone": "curt"}}
    answer = api["bo"].put("/queues/scored/items/r1/vote", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["scores"] == {"factual": False, "helpfulness": 2, "tone": "curt"}
    # a vote without scores answers exactly the source system's fields (no `scores` key at all)
    plain = api["cy"].put(FEEDBACK.format(run="r1"), json={"rating": 1})
    assert plain.status_code == 200 and "scores" not in plain.json()
    listed = {vote["user_id"]: vote for vote in votes(api, "r1")}
    assert listed["bo"]["scores"] == {"factual": False, "helpfulness": 2, "tone": "curt"}
    assert "scores" not in listed["cy"]
    assert set(listed["cy"]) == {
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
    # the source system's PUT without scores keeps them; with scores, replaces them
    again = api["bo"].put(FEEDBACK.format(run="r1"), json={"rating": 1})
    assert again.json()["scores"] == {"factual": False, "helpfulness": 2, "tone": "curt"}
    replaced = api["bo"].put(FEEDBACK.format(run="r1"), json={"rating": 1, "scores": {"tone": "friendly"}})
    assert replaced.json()["scores"] == {"tone": "friendly"}


def test_scores_for_a_run_in_no_rubric_queue_are_refused(api):
    answer = api["bo"].put(FEEDBACK.format(run="r9"), json={"rating": 1, "scores": {"factual": True}})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "score factual: run r9 is in no queue whose rubric has this criterion"
    created = api["bo"].post(FEEDBACK.format(run="r9"), json={"rating": 1, "scores": {"factual": True}})
    assert created.status_code == 400 and votes(api, "r9") == []


def test_the_agreement_per_criterion(api):
    given = {
        ("bo", "r2"): {"factual": "yes", "helpfulness": 4},
        ("cy", "r2"): {"factual": "yes", "helpfulness": 5},
        ("bo", "r3"): {"factual": "yes", "helpfulness": 2, "tone": "curt"},
        ("cy", "r3"): {"factual": "no", "helpfulness": 1, "tone": "curt"},
    }
    for (user, run), scores in given.items():
        answer = api[user].put(f"/queues/scored/items/{run}/vote", json={"rating": 1, "scores": scores})
        assert answer.status_code == 200, answer.text
    found = api["bo"].get("/queues/scored/agreement")
    assert found.status_code == 200, found.text
    criteria = {row["criterion"]: row for row in found.json()["criteria"]}
    assert list(criteria) == ["factual", "helpfulness", "tone"]
    factual = criteria["factual"]
    assert (factual["kind"], factual["level"], factual["items_compared"]) == ("binary", "nominal", 2)
    # one reviewer per item asked: Fleiss' kappa has no fixed k to work on; Krippendorff's alpha takes any
    assert factual["fleiss_kappa"]["reason"] == "the queue asks one reviewer per item: there is no agreement to measure"
    assert factual["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(value_counts=[[0, 2], [1, 1]], level_of_measurement="nominal")
    )
    helpfulness = criteria["helpfulness"]
    assert helpfulness["level"] == "ordinal"
    assert helpfulness["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(value_counts=[[0, 0, 0, 1, 1], [1, 1, 0, 0, 0]], level_of_measurement="ordinal")
    )
    assert criteria["tone"]["krippendorff_alpha"] == {
        "value": None,
        "low": None,
        "high": None,
        "reason": "every score is in one category: agreement beyond chance cannot be told",
    }


def test_the_openapi_document_names_scores(api):
    document = api["bo"].get("/openapi.json").json()
    vote = document["paths"]["/queues/{name}/items/{run_id}/vote"]["put"]["requestBody"]["content"]
    assert "scores" in vote["application/json"]["schema"]["properties"]
    assert "scores" in document["components"]["schemas"]["Feedback"]["properties"]
