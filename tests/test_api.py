"""The feedback REST API over real HTTP on a running `streamlit run app.py`, plus its token and role rules."""

from __future__ import annotations

import codecs
import json
import uuid

import httpx
import pytest

from data_layer import auth, cli, open_store
from data_layer.auth import SYSTEM
from data_layer.errors import Forbidden, InvalidInput
from tests.conftest import AppServer, ai_message

MAX_BODY = 100_000
USERS = {"ana": "admin", "bo": "reviewer", "cy": "reviewer", "vi": "viewer", "eu": "end_user"}
TOKENS = {user: auth.new_token() for user in USERS}


def token_setting() -> str:
    return ",".join(auth.token_entry(user, role, TOKENS[user]) for user, role in USERS.items())


def seed(db: str) -> None:
    with open_store(db) as store:
        report = store.ingest(
            [
                {"kind": "thread", "thread_id": "t1", "owner_id": "eu"},
                {"kind": "run", "run_id": "r1", "thread_id": "t1", "status": "success"},
                {"kind": "thread", "thread_id": "t2"},
                {"kind": "run", "run_id": "r2", "thread_id": "t2", "status": "success"},
            ],
            actor=SYSTEM,
        )
        assert report.ok, report.summary()


@pytest.fixture(scope="module")
def server(module_store_url):
    """The dashboard's API once on a DuckDB file and once on PostgreSQL."""
    db = module_store_url
    seed(db)
    running = AppServer(
        db, env={"FEEDBACK_API_TOKENS": token_setting(), "FEEDBACK_DEMO": "0", "FEEDBACK_API_MAX_BODY": str(MAX_BODY)}
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def as_user(server):
    clients: dict[str, httpx.Client] = {}

    def client(user: str | None) -> httpx.Client:
        if user not in clients:
            headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
            clients[user] = httpx.Client(base_url=f"{server.url}/api", headers=headers, timeout=20)
        return clients[user]

    yield client
    for opened in clients.values():
        opened.close()


def fresh_run(admin: httpx.Client, messages=("m1",), votes=(), owner=None) -> tuple[str, str]:
    """A new thread (of the end user `owner`) with one run, its messages and imported votes, through /api/ingest."""
    thread, run = f"t-{uuid.uuid4().hex[:10]}", f"r-{uuid.uuid4().hex[:10]}"
    records = [
        {"kind": "thread", "thread_id": thread, "owner_id": owner},
        {"kind": "run", "run_id": run, "thread_id": thread, "status": "success"},
    ]
    for seq, message in enumerate(messages, start=1):
        records.append(ai_message(thread, run, seq, f"answer {seq}", message))
    records += [{"kind": "feedback", "thread_id": thread, "run_id": run, **vote} for vote in votes]
    response = admin.post("/ingest", json=records)
    assert response.status_code == 200, response.text
    return thread, run


def feedback_path(thread: str, run: str) -> str:
    return f"/threads/{thread}/runs/{run}/feedback"


def total(admin: httpx.Client, thread: str, run: str) -> int:
    response = admin.get(feedback_path(thread, run))
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"])


def test_health_and_openapi_answer_without_a_token(as_user):
    anonymous = as_user(None)
    assert anonymous.get("/health").json() == {"status": "ok"}
    document = anonymous.get("/openapi.json").json()
    assert document["servers"] == [{"url": "/api"}]
    assert set(document["paths"]) == {
        "/health",
        "/ingest",
        "/admin/backup",
        "/threads/{thread_id}/runs/{run_id}/feedback",
        "/threads/{thread_id}/runs/{run_id}/feedback/stats",
        "/threads/{thread_id}/runs/{run_id}/feedback/{feedback_id}",
        "/runs/{run_id}/feedback",
        "/threads/{thread_id}/feedback",
        "/queues",
        "/queues/{name}",
        "/queues/{name}/next",
        "/queues/{name}/items/{run_id}/vote",
        "/queues/{name}/progress",
        "/queues/{name}/estimate",
        "/queues/{name}/agreement",
        "/judges",
        "/judges/{judge}",
        "/judges/{judge}/disagreements",
        "/datasets",
        "/datasets/{name}/{version}.{extension}",
    }
    assert set(document["paths"]["/threads/{thread_id}/runs/{run_id}/feedback"]) == {"get", "put", "post", "delete"}


CALLS = [
    ("PUT", "/threads/t1/runs/r1/feedback", {"rating": 1}),
    ("POST", "/threads/t1/runs/r1/feedback", {"rating": 1}),
    ("DELETE", "/threads/t1/runs/r1/feedback", None),
    ("GET", "/threads/t1/runs/r1/feedback", None),
    ("GET", "/threads/t1/runs/r1/feedback/stats", None),
    ("DELETE", "/threads/t1/runs/r1/feedback/some-id", None),
    ("GET", "/runs/r1/feedback", None),
    ("GET", "/threads/t1/feedback", None),
    ("POST", "/ingest", [{"kind": "thread", "thread_id": "t-anonymous"}]),
]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", f"Basic {TOKENS['ana']}", "Bearer"],
    # Named, not shown: a token drawn at import differs in each pytest -n worker, whose test ids must agree.
    ids=["no header", "an unknown token", "a valid token as Basic", "Bearer without a token"],
)
def test_every_call_without_a_valid_token_gets_401_and_changes_nothing(server, as_user, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(base_url=f"{server.url}/api", headers=headers, timeout=20) as client:
        for method, path, body in CALLS:
            response = client.request(method, path, json=body)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "token" in response.json()["detail"]
    admin = as_user("ana")
    assert total(admin, "t1", "r1") == 0
    assert admin.get("/threads/t-anonymous/feedback").status_code == 404


def test_put_creates_then_replaces_the_callers_vote_keeping_its_id(as_user):
    thread, run = fresh_run(as_user("ana"))
    bo = as_user("bo")
    # The identity comes from the token: a user_id in the body is ignored.
    first = bo.put(feedback_path(thread, run), json={"rating": 1, "comment": "clear", "user_id": "mallory"})
    assert first.status_code == 200, first.text
    vote = first.json()
    assert vote["user_id"] == "bo"
    assert (vote["thread_id"], vote["run_id"], vote["rating"], vote["comment"]) == (thread, run, 1, "clear")
    assert vote["message_id"] is None and vote["tags"] == [] and vote["source"] == "reviewer"
    assert vote["created_at"] == vote["updated_at"] and "T" in vote["created_at"]

    second = bo.put(feedback_path(thread, run), json={"rating": -1, "comment": None, "tags": ["slow", "other"]})
    assert second.status_code == 200, second.text
    replaced = second.json()
    assert replaced["feedback_id"] == vote["feedback_id"]
    assert (replaced["rating"], replaced["comment"], replaced["tags"]) == (-1, None, ["slow", "other"])
    assert replaced["created_at"] == vote["created_at"] and replaced["updated_at"] > vote["updated_at"]
    listed = as_user("vi").get(feedback_path(thread, run)).json()
    assert [(item["feedback_id"], item["rating"]) for item in listed] == [(vote["feedback_id"], -1)]


def test_post_creates_once_per_target_and_409_on_a_second_vote(as_user):
    thread, run = fresh_run(as_user("ana"), messages=("m1", "m2"))
    cy = as_user("cy")
    created = cy.post(feedback_path(thread, run), json={"rating": -1, "tags": ["incorrect"]})
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == ["incorrect"]

    again = cy.post(feedback_path(thread, run), json={"rating": 1})
    assert again.status_code == 409
    assert "already rated" in again.json()["detail"]

    on_message = cy.post(feedback_path(thread, run), json={"rating": 1, "message_id": "m2"})
    assert on_message.status_code == 201, on_message.text
    assert on_message.json()["message_id"] == "m2"
    assert cy.post(feedback_path(thread, run), json={"rating": 1, "message_id": "m2"}).status_code == 409
    other_user = as_user("bo").post(feedback_path(thread, run), json={"rating": 1})
    assert other_user.status_code == 201
    ratings = {
        (item["user_id"], item["message_id"], item["rating"]) for item in cy.get(feedback_path(thread, run)).json()
    }
    assert ratings == {("cy", None, -1), ("cy", "m2", 1), ("bo", None, 1)}


BAD_BODIES = [
    (b'{"rating": true}', "rating"),
    (b'{"rating": 1.0}', "rating"),
    (b'{"rating": "1"}', "rating"),
    (b'{"rating": 2}', "rating"),
    (b'{"rating": 0}', "rating"),
    (b'{"rating": null}', "rating"),
    (b'{"comment": "no rating"}', "rating"),
    (b'{"rating": 1, "tags": ["rude"]}', "tag"),
    (b'{"rating": 1, "tags": "slow"}', "tags"),
    (b'{"rating": 1, "comment": 5}', "comment"),
    (b'{"rating": 1, "message_id": "has space"}', "message_id"),
    (b'{"rating": 1, "rating": -1}', "duplicate"),
    (b"[1]", "object"),
    (b"", "JSON"),
    (b"{not json", "JSON"),
    (b"\xff\xfe", "UTF-8"),
]


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_bad_votes_get_400_naming_the_problem_and_store_nothing(as_user, method):
    admin = as_user("ana")
    thread, run = fresh_run(admin)
    for body, named in BAD_BODIES:
        response = as_user("bo").request(method, feedback_path(thread, run), content=body)
        assert response.status_code == 400, (body, response.status_code, response.text)
        assert named in response.json()["detail"], (body, response.json())
    assert total(admin, thread, run) == 0


def test_bad_query_and_path_values_get_400(as_user):
    bo = as_user("bo")
    for query in ("limit=0", "limit=1001", "limit=abc", "offset=-1", "limit=1.5"):
        response = bo.get(f"/threads/t1/runs/r1/feedback?{query}")
        assert response.status_code == 400, (query, response.text)
        assert query.split("=")[0] in response.json()["detail"]
    for path in ("/threads/bad%20id/runs/r1/feedback", "/runs/-r/feedback", "/threads/t1/feedback?limit=-5"):
        response = bo.get(path)
        assert response.status_code == 400, (path, response.text)
    assert bo.put("/threads/t1/runs/bad%20id/feedback", json={"rating": 1}).status_code == 400


def test_unknown_or_misplaced_targets_get_404(as_user):
    admin, bo = as_user("ana"), as_user("bo")
    thread, run = fresh_run(admin)
    vote = bo.put(feedback_path(thread, run), json={"rating": 1}).json()
    missing = [
        bo.put(feedback_path(thread, "no-such-run"), json={"rating": 1}),
        bo.post(feedback_path(thread, "no-such-run"), json={"rating": 1}),
        bo.put(feedback_path("t1", run), json={"rating": 1}),  # the run exists, in another thread
        bo.post(feedback_path(thread, run), json={"rating": 1, "message_id": "not-in-run"}),
        bo.get(feedback_path("t1", run)),
        bo.get(feedback_path(thread, "no-such-run") + "/stats"),
        bo.get(feedback_path("t2", "r1") + "/stats"),
        bo.get("/runs/no-such-run/feedback"),
        bo.get("/threads/no-such-thread/feedback"),
        bo.delete(feedback_path(thread, run) + f"/{uuid.uuid4()}"),
        bo.delete(feedback_path("t1", "r1") + f"/{vote['feedback_id']}"),  # the id exists, in another run
        as_user("cy").delete(feedback_path(thread, run)),  # cy has no vote to retract
        bo.delete(feedback_path(thread, "no-such-run")),
    ]
    for response in missing:
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert "not found" in response.json()["detail"] or "no vote" in response.json()["detail"]
    assert admin.get(feedback_path(thread, run)).json()[0]["feedback_id"] == vote["feedback_id"]


def test_lists_are_oldest_first_paginated_with_the_total_in_a_header(as_user):
    admin = as_user("ana")
    votes = [
        {"owner_id": f"user{n}", "rating": 1 if n % 3 else -1, "created_at": f"2026-10-0{n}T12:00:00Z"}
        for n in (5, 2, 7, 1, 3, 6, 4)
    ]
    thread, run = fresh_run(admin, votes=votes)
    oldest_first = [f"user{n}" for n in range(1, 8)]

    pages = []
    for offset in (0, 3, 6):
        response = admin.get(feedback_path(thread, run), params={"limit": 3, "offset": offset})
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "7"
        pages.append([item["user_id"] for item in response.json()])
    assert pages == [oldest_first[:3], oldest_first[3:6], oldest_first[6:]]
    assert admin.get(feedback_path(thread, run), params={"offset": 7}).json() == []

    by_run = admin.get(f"/runs/{run}/feedback", params={"limit": 2, "offset": 1})
    assert [item["user_id"] for item in by_run.json()] == oldest_first[1:3]
    assert by_run.headers["X-Total-Count"] == "7"
    by_thread = as_user("vi").get(f"/threads/{thread}/feedback")
    assert [item["user_id"] for item in by_thread.json()] == oldest_first
    assert by_thread.headers["X-Total-Count"] == "7"
    assert {item["source"] for item in by_thread.json()} == {"end_user"}


def test_stats_count_every_users_votes_and_are_zero_without_any(as_user):
    admin = as_user("ana")
    thread, run = fresh_run(admin, owner="eu")
    assert admin.get(feedback_path(thread, run) + "/stats").json() == {
        "run_id": run,
        "total": 0,
        "positive": 0,
        "negative": 0,
    }
    as_user("bo").put(feedback_path(thread, run), json={"rating": 1})
    as_user("cy").put(feedback_path(thread, run), json={"rating": -1})
    as_user("eu").put(feedback_path(thread, run), json={"rating": -1})
    stats = as_user("vi").get(feedback_path(thread, run) + "/stats")
    assert stats.json() == {"run_id": run, "total": 3, "positive": 1, "negative": 2}


def test_retract_removes_only_the_callers_own_vote(as_user):
    admin, bo, cy = as_user("ana"), as_user("bo"), as_user("cy")
    thread, run = fresh_run(admin, messages=("m1",))
    bo.put(feedback_path(thread, run), json={"rating": 1})
    bo.put(feedback_path(thread, run), json={"rating": -1, "message_id": "m1"})
    cy.put(feedback_path(thread, run), json={"rating": 1})

    assert bo.delete(feedback_path(thread, run)).json() == {"success": True}
    assert bo.delete(feedback_path(thread, run)).status_code == 404
    remaining = {(item["user_id"], item["message_id"]) for item in admin.get(feedback_path(thread, run)).json()}
    assert remaining == {("bo", "m1"), ("cy", None)}
    retracted = bo.delete(feedback_path(thread, run), params={"message_id": "m1"})
    assert retracted.json() == {"success": True}
    assert [item["user_id"] for item in admin.get(feedback_path(thread, run)).json()] == ["cy"]


def test_delete_by_id_is_for_the_owner_or_an_admin(as_user):
    admin, bo, cy = as_user("ana"), as_user("bo"), as_user("cy")
    thread, run = fresh_run(admin)
    bo_vote = bo.put(feedback_path(thread, run), json={"rating": 1}).json()["feedback_id"]
    cy_vote = cy.put(feedback_path(thread, run), json={"rating": -1}).json()["feedback_id"]

    for client in (cy, as_user("vi")):
        refused = client.delete(feedback_path(thread, run) + f"/{bo_vote}")
        assert refused.status_code == 403, refused.text
        assert "may not delete" in refused.json()["detail"]
    # An end user acts only on its own threads: this one answers as a missing thread would.
    hidden = as_user("eu").delete(feedback_path(thread, run) + f"/{bo_vote}")
    assert (hidden.status_code, hidden.json()) == (404, {"detail": f"thread {thread} not found"})
    assert total(admin, thread, run) == 2

    assert bo.delete(feedback_path(thread, run) + f"/{bo_vote}").json() == {"success": True}
    assert admin.delete(feedback_path(thread, run) + f"/{cy_vote}").json() == {"success": True}
    assert admin.delete(feedback_path(thread, run) + f"/{cy_vote}").status_code == 404
    assert total(admin, thread, run) == 0


def test_a_viewer_reads_but_every_write_is_403(as_user):
    admin, viewer = as_user("ana"), as_user("vi")
    thread, run = fresh_run(admin)
    as_user("bo").put(feedback_path(thread, run), json={"rating": 1})
    writes = [
        viewer.put(feedback_path(thread, run), json={"rating": 1}),
        viewer.post(feedback_path(thread, run), json={"rating": 1}),
        viewer.delete(feedback_path(thread, run)),
        viewer.post("/ingest", json=[{"kind": "thread", "thread_id": "t-viewer"}]),
    ]
    for response in writes:
        assert response.status_code == 403, (response.request.method, response.request.url, response.text)
        assert "vi (viewer) may not" in response.json()["detail"]
    assert viewer.get(feedback_path(thread, run)).status_code == 200
    assert viewer.get(f"/threads/{thread}/feedback").headers["X-Total-Count"] == "1"
    assert admin.get("/threads/t-viewer/feedback").status_code == 404


def test_end_user_tokens_vote_as_end_users_and_cannot_read_others_feedback(as_user):
    admin, end_user = as_user("ana"), as_user("eu")
    thread, run = fresh_run(admin, owner="eu")
    vote = end_user.put(feedback_path(thread, run), json={"rating": -1, "comment": "wrong city"})
    assert vote.status_code == 200
    assert (vote.json()["user_id"], vote.json()["source"]) == ("eu", "end_user")
    for path in (feedback_path(thread, run), feedback_path(thread, run) + "/stats", f"/threads/{thread}/feedback"):
        assert end_user.get(path).status_code == 403
    assert end_user.post("/ingest", json=[]).status_code == 403
    assert end_user.delete(feedback_path(thread, run)).json() == {"success": True}


def test_ingest_is_atomic_per_request_and_admin_only(as_user):
    admin = as_user("ana")
    thread = f"t-{uuid.uuid4().hex[:10]}"
    jsonl = "\n".join(
        [
            f'{{"kind": "thread", "thread_id": "{thread}"}}',
            f'{{"kind": "run", "run_id": "{thread}-r", "thread_id": "{thread}"}}',
            f'{{"kind": "feedback", "thread_id": "{thread}", "run_id": "{thread}-r", "rating": 5}}',
            "{broken",
        ]
    )
    rejected = admin.post("/ingest", content=jsonl, headers={"Content-Type": "application/x-ndjson"})
    assert rejected.status_code == 400
    report = rejected.json()
    assert report["detail"] == "nothing imported: 2 bad records"
    assert [error["line"] for error in report["errors"]] == [3, 4]
    assert "rating" in report["errors"][0]["error"] and "JSON" in report["errors"][1]["error"]
    assert admin.get(f"/threads/{thread}/feedback").status_code == 404

    accepted = admin.post("/ingest", content="\n".join(jsonl.splitlines()[:2]))
    assert accepted.status_code == 200
    assert accepted.json()["counts"] == {"thread": 1, "run": 1, "event": 0, "feedback": 0}
    assert admin.get(f"/threads/{thread}/feedback").headers["X-Total-Count"] == "0"
    for body in (b"[1, 2", b'[{"kind": {}}]', b"  \n"):
        refused_body = admin.post("/ingest", content=body)
        assert refused_body.status_code == 400, (body, refused_body.text)
    refused = as_user("bo").post("/ingest", json=[{"kind": "thread", "thread_id": f"{thread}-2"}])
    assert refused.status_code == 403
    assert admin.get(f"/threads/{thread}-2/feedback").status_code == 404


def test_ingest_accepts_a_body_starting_with_a_byte_order_mark(as_user):
    admin = as_user("ana")
    base = f"t-{uuid.uuid4().hex[:10]}"
    bodies = {
        f"{base}-l": lambda thread: f'{{"kind": "thread", "thread_id": "{thread}"}}\n'.encode(),
        f"{base}-a": lambda thread: json.dumps([{"kind": "thread", "thread_id": thread}]).encode(),
    }
    for thread, make in bodies.items():
        answer = admin.post("/ingest", content=codecs.BOM_UTF8 + make(thread))
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["thread"] == 1
        assert admin.get(f"/threads/{thread}/feedback").status_code == 200


def test_bodies_over_the_configured_size_get_413_and_store_nothing(as_user):
    admin = as_user("ana")
    thread, run = fresh_run(admin)
    huge_comment = {"rating": 1, "comment": "x" * MAX_BODY}
    assert as_user("bo").put(feedback_path(thread, run), json=huge_comment).status_code == 413
    records = [{"kind": "thread", "thread_id": f"{thread}-{n}", "display_name": "y" * 100} for n in range(1000)]
    too_large = admin.post("/ingest", json=records)
    assert too_large.status_code == 413
    assert "larger than 100,000 bytes" in too_large.json()["detail"]

    def chunked():  # no Content-Length: the limit holds while streaming too
        for _ in range(30):
            yield b" " * 5_000

    streamed = admin.post("/ingest", content=chunked())
    assert streamed.status_code == 413
    assert total(admin, thread, run) == 0
    assert admin.get(f"/threads/{thread}-0/feedback").status_code == 404


@pytest.mark.slow
def test_a_vote_through_the_api_is_in_the_dashboards_data(tmp_path):
    db = str(tmp_path / "votes.duckdb")
    seed(db)
    server = AppServer(db, env={"FEEDBACK_API_TOKENS": token_setting(), "FEEDBACK_DEMO": "0"})
    try:
        for user, rating in (("eu", -1), ("bo", 1), ("cy", -1)):
            headers = {"Authorization": f"Bearer {TOKENS[user]}"}
            response = httpx.put(
                f"{server.url}/api/threads/t1/runs/r1/feedback", json={"rating": rating}, headers=headers
            )
            assert response.status_code == 200, response.text
    finally:
        server.stop()
    with open_store(db) as store:
        thread = store.threads.get("t1")
        assert (thread["positive"], thread["negative"]) == (1, 2)
        end_user_vote = store.feedback.find(run_id="r1", owner_id="eu", actor=SYSTEM)
        assert (end_user_vote["rating"], end_user_vote["source"]) == (-1, "end_user")
        assert store.feedback.aggregate_by_run("t1", "r1", actor=SYSTEM) == {
            "run_id": "r1",
            "total": 3,
            "positive": 1,
            "negative": 2,
        }


# The rules behind the API, without a server.


def test_store_delete_with_an_actor_enforces_ownership(seeded):
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, owner_id="bo", actor=SYSTEM)
    with pytest.raises(Forbidden):
        seeded.feedback.delete(vote["feedback_id"], actor=auth.Actor("cy"))
    with pytest.raises(Forbidden):
        seeded.feedback.delete(vote["feedback_id"], actor=auth.Actor("bo", "viewer"))
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM) is not None
    assert seeded.feedback.delete(vote["feedback_id"], actor=auth.Actor("ana", "admin")) is True
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM) is None


def test_token_entries_parse_with_and_without_a_role():
    digest = auth.hash_token("secret")
    table = auth.parse_tokens(f"ana:admin:{digest.upper()}, bo:{auth.hash_token('b')}, oidc:sub|7:viewer:{'c' * 64}")
    assert table[digest] == auth.Actor("ana", "admin")
    assert table[auth.hash_token("b")] == auth.Actor("bo", "reviewer")
    assert table["c" * 64] == auth.Actor("oidc:sub|7", "viewer")
    assert auth.parse_tokens(f"lee:lead:{digest}")[digest] == auth.Actor("lee", "lead")
    assert auth.token_entry("lee", "lead", "secret") == f"lee:lead:{digest}"
    assert auth.authenticate("secret", table) == auth.Actor("ana", "admin")
    assert auth.authenticate("Secret", table) is None and auth.authenticate(None, table) is None
    assert auth.parse_tokens(" , ") == {}
    for bad, named in (
        ("ana", "user:role:sha256hex"),
        ("ana:admin:secret", "SHA-256"),
        (f"ana:boss:{digest}", "role"),
        (f"ana user:{digest}", "not a valid id"),
        (f"ana:{digest},bo:{digest}", "repeats"),
    ):
        with pytest.raises(InvalidInput, match=named):
            auth.parse_tokens(bad)


def test_tokens_come_from_the_environment_first_then_secrets_toml(tmp_path, monkeypatch):
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(f'FEEDBACK_API_TOKENS = ["vi:viewer:{auth.hash_token("v")}"]\n')
    monkeypatch.delenv("FEEDBACK_API_TOKENS", raising=False)
    assert auth.configured_tokens([tmp_path / "missing.toml", secrets_file]) == {
        auth.hash_token("v"): auth.Actor("vi", "viewer")
    }
    monkeypatch.setenv("FEEDBACK_API_TOKENS", f"ana:admin:{auth.hash_token('a')}")
    assert auth.configured_tokens([secrets_file]) == {auth.hash_token("a"): auth.Actor("ana", "admin")}
    monkeypatch.delenv("FEEDBACK_API_TOKENS")
    secrets_file.write_text("FEEDBACK_API_TOKENS = [")
    with pytest.raises(InvalidInput, match="cannot be read"):
        auth.configured_tokens([secrets_file])
    assert auth.configured_tokens([tmp_path / "missing.toml"]) == {}


def test_cli_token_new_prints_a_token_and_its_entry(capsys):
    assert cli.main(["token", "new", "ana", "--role", "viewer"]) == 0
    token, entry = capsys.readouterr().out.splitlines()
    assert token not in entry
    assert auth.authenticate(token, auth.parse_tokens(entry)) == auth.Actor("ana", "viewer")
    assert cli.main(["token", "new", "bo"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("bo:reviewer:")
    assert cli.main(["token", "new", "not valid"]) == 1
    assert "not a valid id" in capsys.readouterr().err
