"""End users act only on the threads they own, and no answer tells a caller that something it may not
see exists: a thread, run, message or vote out of its reach is answered exactly as a missing one.

Over real HTTP on a running `streamlit run app.py` and in the data layer, each on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from data_layer import auth
from data_layer.auth import SYSTEM
from data_layer.errors import Forbidden, NotFound
from tests.conftest import AppServer, ai_message

USERS = {"ana": "admin", "bo": "reviewer", "vi": "viewer", "eu1": "end_user", "eu2": "end_user"}
TOKENS = {user: auth.new_token() for user in USERS}


@pytest.fixture(scope="module")
def server(module_store_url):
    tokens = ",".join(auth.token_entry(user, role, TOKENS[user]) for user, role in USERS.items())
    running = AppServer(module_store_url, env={"FEEDBACK_API_TOKENS": tokens, "FEEDBACK_DEMO": "0"})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def as_user(server):
    clients: dict[str, httpx.Client] = {}

    def client(user: str) -> httpx.Client:
        if user not in clients:
            headers = {"Authorization": f"Bearer {TOKENS[user]}"}
            clients[user] = httpx.Client(base_url=f"{server.url}/api", headers=headers, timeout=20)
        return clients[user]

    yield client
    for opened in clients.values():
        opened.close()


def conversation_records(owner: str | None, owner_field: str = "owner_id") -> tuple[str, str, str, list[dict]]:
    """A thread of `owner` (the gateway names it `owner_id` or `user_id`) with one run and one AI message."""
    tag = uuid.uuid4().hex[:10]
    thread, run, message = f"t-{tag}", f"r-{tag}", f"m-{tag}"
    thread_record = {"kind": "thread", "thread_id": thread}
    if owner is not None:
        thread_record[owner_field] = owner
    records = [
        thread_record,
        {"kind": "run", "run_id": run, "thread_id": thread, "status": "success"},
        ai_message(thread, run, 1, "Kyoto, three days.", message),
    ]
    return thread, run, message, records


def conversation(admin: httpx.Client, owner: str | None, owner_field: str = "owner_id") -> tuple[str, str, str]:
    thread, run, message, records = conversation_records(owner, owner_field)
    response = admin.post("/ingest", json=records)
    assert response.status_code == 200, response.text
    return thread, run, message


def feedback_path(thread: str, run: str) -> str:
    return f"/threads/{thread}/runs/{run}/feedback"


def vote_calls(thread: str, run: str, message: str, feedback_id: str) -> dict[str, tuple[str, str, dict]]:
    """Every vote endpoint an end user may call, on one target: name -> (method, path, request options)."""
    path = feedback_path(thread, run)
    return {
        "PUT": ("PUT", path, {"json": {"rating": 1, "comment": "mine now"}}),
        "PUT on a message": ("PUT", path, {"json": {"rating": -1, "message_id": message}}),
        "POST": ("POST", path, {"json": {"rating": -1}}),
        "POST on a message": ("POST", path, {"json": {"rating": 1, "message_id": message}}),
        "DELETE (retract)": ("DELETE", path, {}),
        "DELETE (retract) on a message": ("DELETE", path, {"params": {"message_id": message}}),
        "DELETE by id": ("DELETE", f"{path}/{feedback_id}", {}),
    }


def answer(response: httpx.Response, *ids: str) -> tuple:
    """What a caller learns from an answer, with the ids it sent itself replaced by placeholders."""
    text = response.text
    for n, value in enumerate(ids):
        text = text.replace(value, f"<id{n}>")
    return response.status_code, response.headers["content-type"], text


def snapshot(admin: httpx.Client, thread: str) -> list[tuple]:
    response = admin.get(f"/threads/{thread}/feedback")
    assert response.status_code == 200, response.text
    return [(v["feedback_id"], v["user_id"], v["message_id"], v["rating"], v["updated_at"]) for v in response.json()]


@pytest.mark.parametrize("owner", ["eu2", None], ids=["another end user's thread", "a thread without owner"])
def test_on_a_thread_it_does_not_own_an_end_user_gets_the_answer_of_a_missing_thread(as_user, owner):
    admin, eu1 = as_user("ana"), as_user("eu1")
    thread, run, message = conversation(admin, owner)
    theirs = []
    if owner:
        theirs.append(as_user(owner).put(feedback_path(thread, run), json={"rating": -1, "comment": "private"}))
    theirs.append(as_user("bo").put(feedback_path(thread, run), json={"rating": 1, "message_id": message}))
    assert all(response.status_code == 200 for response in theirs), [response.text for response in theirs]
    before = snapshot(admin, thread)

    missing = ("t-no-such-thread", "r-no-such-run", "m-no-such-message", str(uuid.uuid4()))
    for vote in theirs:
        real = vote_calls(thread, run, message, vote.json()["feedback_id"])
        invented = vote_calls(*missing)
        for name, (method, path, options) in real.items():
            refused = eu1.request(method, path, **options)
            assert refused.status_code == 404, (name, refused.text)
            assert refused.json() == {"detail": f"thread {thread} not found"}, name
            other_method, other_path, other_options = invented[name]
            unknown = eu1.request(other_method, other_path, **other_options)
            assert answer(refused, thread, run, message, vote.json()["feedback_id"]) == answer(unknown, *missing), name
    assert snapshot(admin, thread) == before


@pytest.mark.parametrize("owner_field", ["owner_id", "user_id"])
def test_an_end_user_votes_retracts_and_deletes_on_its_own_thread(as_user, owner_field):
    admin, eu1 = as_user("ana"), as_user("eu1")
    thread, run, message = conversation(admin, "eu1", owner_field)
    put = eu1.put(feedback_path(thread, run), json={"rating": -1, "comment": "wrong city"})
    assert put.status_code == 200, put.text
    assert (put.json()["user_id"], put.json()["source"], put.json()["rating"]) == ("eu1", "end_user", -1)
    on_message = eu1.post(feedback_path(thread, run), json={"rating": 1, "message_id": message})
    assert on_message.status_code == 201, on_message.text
    assert eu1.post(feedback_path(thread, run), json={"rating": 1}).status_code == 409
    assert eu1.delete(feedback_path(thread, run)).json() == {"success": True}
    by_id = eu1.delete(feedback_path(thread, run) + f"/{on_message.json()['feedback_id']}")
    assert by_id.json() == {"success": True}
    assert snapshot(admin, thread) == []


def test_within_its_own_thread_an_end_user_learns_nothing_of_other_runs_messages_or_votes(as_user):
    admin, eu1 = as_user("ana"), as_user("eu1")
    thread, run, message = conversation(admin, "eu1")
    other_thread, other_run, other_message = conversation(admin, "eu2")
    reviews = [
        as_user("bo").put(feedback_path(thread, run), json={"rating": -1, "comment": "internal note"}),
        as_user("eu2").put(feedback_path(other_thread, other_run), json={"rating": 1}),
    ]
    assert [review.status_code for review in reviews] == [200, 200]
    pairs = [
        # another user's run, named in the end user's own thread, and a run that does not exist
        (eu1.put(feedback_path(thread, other_run), json={"rating": 1}), other_run, "r-no-such-run"),
        (eu1.delete(feedback_path(thread, other_run)), other_run, "r-no-such-run"),
        # a message of another user's run, and a message that does not exist
        (eu1.put(feedback_path(thread, run), json={"rating": 1, "message_id": other_message}), other_message, "m-none"),
        # a reviewer's vote on the end user's own thread, and a vote that does not exist
        (eu1.delete(feedback_path(thread, run) + f"/{reviews[0].json()['feedback_id']}"), None, None),
        # another user's vote on another thread, named in the end user's own thread
        (eu1.delete(feedback_path(thread, run) + f"/{reviews[1].json()['feedback_id']}"), None, None),
    ]
    unknown = {
        "r-no-such-run": [
            eu1.put(feedback_path(thread, "r-no-such-run"), json={"rating": 1}),
            eu1.delete(feedback_path(thread, "r-no-such-run")),
        ],
        "m-none": [eu1.put(feedback_path(thread, run), json={"rating": 1, "message_id": "m-none"})],
    }
    missing_vote = str(uuid.uuid4())
    unknown_vote = eu1.delete(feedback_path(thread, run) + f"/{missing_vote}")
    runs_seen = iter(unknown["r-no-such-run"])
    for refused, real, invented in pairs:
        assert refused.status_code == 404, refused.text
        if real is None:
            hidden = refused.request.url.path.rsplit("/", 1)[1]
            assert answer(refused, hidden) == answer(unknown_vote, missing_vote)
        elif invented == "m-none":
            assert answer(refused, real) == answer(unknown["m-none"][0], invented)
        else:
            assert answer(refused, real) == answer(next(runs_seen), invented)
    assert [vote["user_id"] for vote in admin.get(feedback_path(thread, run)).json()] == ["bo"]
    assert [vote["user_id"] for vote in admin.get(feedback_path(other_thread, other_run)).json()] == ["eu2"]


def test_roles_that_may_not_act_get_403_before_any_lookup(as_user):
    admin = as_user("ana")
    own, owned_run, _ = conversation(admin, "eu1")
    foreign, foreign_run, _ = conversation(admin, "eu2")
    targets = [(own, owned_run), (foreign, foreign_run), ("t-no-such-thread", "r-no-such-run")]
    reads = ["{path}", "{path}/stats", "/threads/{thread}/feedback", "/runs/{run}/feedback"]
    for template in reads:
        answers = set()
        for thread, run in targets:
            url = template.format(path=feedback_path(thread, run), thread=thread, run=run)
            refused = as_user("eu1").get(url)
            answers.add(answer(refused, thread, run))
        assert answers == {(403, "application/json", '{"detail":"eu1 (end_user) may not read"}')}, template
    for method in ("PUT", "POST", "DELETE"):
        answers = {
            answer(as_user("vi").request(method, feedback_path(thread, run), json={"rating": 1}), thread, run)
            for thread, run in targets
        }
        assert len(answers) == 1 and next(iter(answers))[0] == 403, answers


def test_reviewers_and_admins_act_on_every_thread_and_misplaced_runs_read_as_missing(as_user):
    admin, bo = as_user("ana"), as_user("bo")
    thread, run, _ = conversation(admin, "eu2")
    _, other_run, _ = conversation(admin, "eu1")
    assert bo.put(feedback_path(thread, run), json={"rating": 1}).status_code == 200
    assert admin.get(feedback_path(thread, run) + "/stats").json()["total"] == 1
    misplaced = bo.get(feedback_path(thread, other_run))
    unknown = bo.get(feedback_path(thread, "r-no-such-run"))
    assert misplaced.json() == {"detail": f"run {other_run} not found in thread {thread}"}
    assert answer(misplaced, other_run) == answer(unknown, "r-no-such-run")
    no_thread = bo.put(feedback_path("t-no-such-thread", run), json={"rating": 1})
    assert (no_thread.status_code, no_thread.json()) == (404, {"detail": "thread t-no-such-thread not found"})


# The same rule in the data layer, as the pages and scripts call it.


def test_the_data_layer_keeps_end_users_to_their_own_threads(store):
    mine, my_run, my_message, records = conversation_records("eu1")
    theirs, their_run, their_message, more = conversation_records("eu2")
    assert store.ingest(records + more, actor=SYSTEM).ok
    eu1, eu2, bo = auth.Actor("eu1", "end_user"), auth.Actor("eu2", "end_user"), auth.Actor("bo")
    their_vote = store.feedback.upsert(thread_id=theirs, run_id=their_run, rating=-1, actor=eu2)
    review = store.feedback.upsert(thread_id=mine, run_id=my_run, rating=1, actor=bo)

    attempts = {
        "create": lambda thread, run: store.feedback.create(thread_id=thread, run_id=run, rating=1, actor=eu1),
        "upsert": lambda thread, run: store.feedback.upsert(thread_id=thread, run_id=run, rating=1, actor=eu1),
        "retract": lambda thread, run: store.feedback.retract(thread_id=thread, run_id=run, actor=eu1),
        "delete": lambda thread, run: store.feedback.delete(
            their_vote["feedback_id"], thread_id=thread, run_id=run, actor=eu1
        ),
    }
    for name, attempt in attempts.items():
        for thread, run in ((theirs, their_run), ("t-none", their_run), ("t-none", "r-none")):
            with pytest.raises(NotFound) as refused:
                attempt(thread, run)
            assert str(refused.value) == f"thread {thread} not found", name

    # Its own thread: a vote of someone else, there or elsewhere, is answered as a missing vote.
    assert store.feedback.delete(review["feedback_id"], thread_id=mine, run_id=my_run, actor=eu1) is False
    assert store.feedback.delete(their_vote["feedback_id"], actor=eu1) is False
    with pytest.raises(NotFound, match=f"run {their_run} not found in thread {mine}"):
        store.feedback.upsert(thread_id=mine, run_id=their_run, rating=1, actor=eu1)
    with pytest.raises(NotFound, match=f"message {their_message} not found in run {my_run}"):
        store.feedback.upsert(thread_id=mine, run_id=my_run, message_id=their_message, rating=1, actor=eu1)
    own = store.feedback.upsert(thread_id=mine, run_id=my_run, message_id=my_message, rating=-1, actor=eu1)
    assert (own["owner_id"], own["source"]) == ("eu1", "end_user")
    assert store.feedback.delete(own["feedback_id"], thread_id=mine, actor=eu1) is True

    # Reviewers may read, so another user's vote is theirs to be refused, not hidden; the system acts for anyone.
    with pytest.raises(Forbidden):
        store.feedback.delete(their_vote["feedback_id"], thread_id=theirs, actor=bo)
    assert store.feedback.upsert(thread_id=theirs, run_id=their_run, rating=1, actor=bo)["owner_id"] == "bo"
    assert store.feedback.retract(thread_id=theirs, run_id=their_run, owner_id="eu2", actor=SYSTEM) is True
    remaining = {(vote["owner_id"], vote["thread_id"]) for vote in store.feedback.list_by_thread(theirs, actor=SYSTEM)}
    assert remaining == {("bo", theirs)}
    assert store.feedback.get(review["feedback_id"], actor=SYSTEM) is not None


def test_may_act_on_thread_and_hides():
    eu1 = auth.Actor("eu1", "end_user")
    assert auth.may_act_on_thread(eu1, "eu1")
    assert not auth.may_act_on_thread(eu1, "eu2")
    assert not auth.may_act_on_thread(eu1, None)
    for role in ("admin", "reviewer", "viewer"):
        assert auth.may_act_on_thread(auth.Actor("eu1", role), "eu2")
        assert auth.may_act_on_thread(auth.Actor("eu1", role), None)
        assert not auth.hides(auth.Actor("eu1", role), {"owner_id": "eu2"})
    assert auth.may_act_on_thread(auth.SYSTEM, "eu2") and not auth.hides(auth.SYSTEM, {"owner_id": "eu2"})
    assert auth.hides(eu1, {"owner_id": "eu2"}) and auth.hides(eu1, {"owner_id": None})
    assert not auth.hides(eu1, {"owner_id": "eu1"})
