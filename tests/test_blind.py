"""The blind rule through every read of votes, on both engines and over the REST API: a reviewer on a
blind queue sees no other vote on an item (a reviewer's, an end user's), nor counts that include
one, until they have voted on it; then everything shows."""

from __future__ import annotations

import httpx
import pytest

from data_layer import auth, export, insights, open_store, stats
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import InvalidInput
from data_layer.queues import QueueSpec
from tests.conftest import AppServer, ai_message
from tests.test_queues import runs, vote

ANA, BO = Actor("ana", "reviewer"), Actor("bo", "reviewer")


def blind_thread(store) -> None:
    """Thread r-t0: end users complained about r-0 and r-2 and liked r-1. The blind triage queue takes
    the complaints (r-0, r-2) and asks two reviewers each; bo has judged r-0."""
    complaint = {**vote("r-0", "eu", -1, "end_user"), "comment": "Wrong price"}
    assert store.ingest(
        runs(3) + [complaint, vote("r-1", "eu", 1, "end_user"), vote("r-2", "eu2", -1, "end_user")], actor=SYSTEM
    ).ok
    spec = QueueSpec("triage", selection={"negative_user_feedback": True}, reviewers_per_item=2, blind=True)
    store.queues.create(spec, actor=SYSTEM)
    store.queues.submit("triage", "r-0", rating=1, comment="Looks fine", actor=BO)


def seen(rows) -> set[tuple[str, str]]:
    return {(row["run_id"], row.get("owner_id") or row.get("reviewer")) for row in rows}


def test_every_read_of_votes_hides_the_others_on_a_blind_item_until_the_reviewer_votes(store):
    blind_thread(store)
    feedback, queues = store.feedback, store.queues
    assert seen(feedback.list_by_thread("r-t0", actor=ANA)) == {("r-1", "eu")}
    assert feedback.count_by_thread("r-t0", actor=ANA) == 1
    assert feedback.list_by_run("r-t0", "r-0", actor=ANA) == feedback.list_by_run_id("r-0", actor=ANA) == []
    assert feedback.count_by_run("r-t0", "r-0", actor=ANA) == feedback.count_by_run_id("r-0", actor=ANA) == 0
    assert feedback.aggregate_by_run("r-t0", "r-0", actor=ANA) == {
        "run_id": "r-0",
        "total": 0,
        "positive": 0,
        "negative": 0,
    }
    bo_vote = feedback.find(run_id="r-0", owner_id="bo", actor=SYSTEM)
    assert feedback.get(bo_vote["feedback_id"], actor=ANA) is None
    assert feedback.find(run_id="r-0", owner_id="bo", actor=ANA) is None
    assert feedback.find(run_id="r-0", owner_id="bo", actor=BO)["comment"] == "Looks fine"
    assert queues.thread_tallies("r-t0", actor=ANA) == {
        "positive": 1,
        "negative": 0,
        "blind": {"r-0": ["triage"], "r-2": ["triage"]},
    }
    assert queues.blind_threads(["r-t0", "r-t0", "nope"], actor=ANA) == {"r-t0": ["triage"]}
    # the export leaves them out too, and counts without them
    assert seen(export.preview(store, actor=ANA, columns=["run_id", "reviewer"])) == {("r-1", "eu")}
    assert export.count(store, actor=ANA) == 1
    # and so do the Themes page's quotes
    ids = [row["feedback_id"] for row in feedback.list_by_thread("r-t0", actor=SYSTEM)]
    assert seen(insights.feedback_by_ids(store, ids, actor=ANA)) == {("r-1", "eu")}
    assert len(insights.feedback_by_ids(store, ids, actor=SYSTEM)) == 4
    # and the Stats page's worst runs, each drawn with its counts and latest complaint
    assert [row["run_id"] for row in stats.dashboard(store, actor=SYSTEM)["worst_runs"]] == ["r-0", "r-2"]
    assert stats.dashboard(store, actor=ANA)["worst_runs"] == []
    # and the Agreement page's list of runs where the end user and the reviewers disagree
    assert insights.disagreements(store, actor=ANA) == {"rows": [], "total": 0, "user_up": 0, "user_down": 0}
    assert [row["comment"] for row in insights.disagreements(store, actor=SYSTEM)["rows"]] == ["Wrong price"]
    # bo judged r-0, so it is open to him no more; r-2 still is
    assert queues.thread_tallies("r-t0", actor=BO)["blind"] == {"r-2": ["triage"]}

    store.queues.submit("triage", "r-0", rating=-1, actor=ANA)
    # r-0 is judged by ana (and done): every vote on it shows; r-2's complaint is still hidden
    assert seen(feedback.list_by_thread("r-t0", actor=ANA)) == {
        ("r-0", "eu"),
        ("r-0", "bo"),
        ("r-0", "ana"),
        ("r-1", "eu"),
    }
    assert feedback.aggregate_by_run("r-t0", "r-0", actor=ANA)["total"] == 3
    assert feedback.get(bo_vote["feedback_id"], actor=ANA)["comment"] == "Looks fine"
    assert export.count(store, actor=ANA) == 4
    assert queues.thread_tallies("r-t0", actor=ANA) == {
        "positive": 2,
        "negative": 2,
        "blind": {"r-2": ["triage"]},
    }
    # a viewer and the system judge nothing and see everything; once the queue closes, so does everyone
    everything = {"positive": 2, "negative": 3, "blind": {}}
    assert queues.thread_tallies("r-t0", actor=Actor("vi", "viewer")) == everything
    assert queues.thread_tallies("r-t0", actor=SYSTEM) == everything
    store.queues.close("triage", actor=SYSTEM)
    assert queues.thread_tallies("r-t0", actor=Actor("cy", "reviewer")) == everything


def test_pages_of_votes_and_their_total_leave_the_hidden_ones_out_before_cutting(store):
    blind_thread(store)
    # ana's own vote on an answer of a blind run, and votes on the open run r-1 from several people
    assert store.ingest([ai_message("r-t0", "r-2", 1, "An answer.", "m-1")], actor=SYSTEM).ok
    store.feedback.upsert(thread_id="r-t0", run_id="r-2", message_id="m-1", rating=1, actor=ANA)
    assert store.ingest([vote("r-1", f"eu{n}", 1, "end_user") for n in range(3, 7)], actor=SYSTEM).ok
    whole = store.feedback.list_by_thread("r-t0", actor=ANA)
    assert {row["run_id"] for row in whole} == {"r-1", "r-2"}
    assert {row["owner_id"] for row in whole if row["run_id"] == "r-2"} == {"ana"}
    total = store.feedback.count_by_thread("r-t0", actor=ANA)
    assert total == len(whole) == 6
    paged = [
        row
        for offset in range(0, total + 2, 2)
        for row in store.feedback.list_by_thread("r-t0", actor=ANA, limit=2, offset=offset)
    ]
    assert paged == whole
    assert store.feedback.count_by_thread("r-t0", actor=SYSTEM) == 9


def test_a_blind_queue_of_named_assignees_hides_votes_from_them_alone(store):
    assert store.ingest(runs(2) + [vote("r-0", "eu", -1, "end_user")], actor=SYSTEM).ok
    spec = QueueSpec("bo-only", sample_rate=1.0, blind=True, assignees=("bo", "bo.b"))
    store.queues.create(spec, actor=SYSTEM)
    for actor, expected in ((ANA, 1), (Actor("bo.b", "reviewer"), 0), (BO, 0), (Actor("b", "reviewer"), 1)):
        assert export.count(store, actor=actor) == expected, actor
        assert store.feedback.count_by_thread("r-t0", actor=actor) == expected, actor


def test_a_queues_items_and_splits_keep_the_verdict_of_a_blind_item_from_who_has_yet_to_judge_it(store):
    assert store.ingest(runs(2), actor=SYSTEM).ok
    store.queues.create(QueueSpec("three", sample_rate=1.0, reviewers_per_item=3, blind=True), actor=SYSTEM)
    store.queues.submit("three", "r-0", rating=1, actor=BO)
    store.queues.submit("three", "r-0", rating=-1, actor=Actor("cy", "reviewer"))

    def verdicts(actor):
        items = store.queues.items("three", actor=actor)
        splits = store.queues.adjudications("three", actor=actor)
        return {item["run_id"]: item["consensus"] for item in items}, [row["run_id"] for row in splits]

    assert verdicts(SYSTEM) == verdicts(BO) == ({"r-0": "disputed", "r-1": None}, ["r-0"])
    assert verdicts(ANA) == ({"r-0": None, "r-1": None}, [])
    store.queues.submit("three", "r-0", rating=-1, actor=ANA)
    assert verdicts(ANA) == ({"r-0": "bad", "r-1": None}, ["r-0"])


def test_a_bad_list_of_threads_is_refused():
    with open_store(":memory:") as store:
        for bad, message in (("r-t0", "must be a list"), (["x"] * 1001, "at most 1,000"), (["a b"], "thread_id")):
            with pytest.raises(InvalidInput, match=message):
                store.queues.blind_threads(bad, actor=ANA)


def test_the_rest_api_answers_a_reviewer_as_the_rule_says(tmp_path):
    db = str(tmp_path / "blind.duckdb")
    with open_store(db) as store:
        blind_thread(store)
    tokens = {"ana": auth.new_token(), "vi": auth.new_token()}
    entries = [auth.token_entry("ana", "reviewer", tokens["ana"]), auth.token_entry("vi", "viewer", tokens["vi"])]
    server = AppServer(db, env={"FEEDBACK_API_TOKENS": ",".join(entries), "FEEDBACK_DEMO": "0"})
    try:
        ana, vi = (
            httpx.Client(base_url=f"{server.url}/api", headers={"Authorization": f"Bearer {tokens[who]}"})
            for who in ("ana", "vi")
        )
        for path in ("/threads/r-t0/runs/r-0/feedback", "/runs/r-0/feedback"):
            answer = ana.get(path)
            assert (answer.status_code, answer.json(), answer.headers["X-Total-Count"]) == (200, [], "0")
            assert vi.get(path).headers["X-Total-Count"] == "2"
        thread = ana.get("/threads/r-t0/feedback")
        assert [row["run_id"] for row in thread.json()] == ["r-1"] and thread.headers["X-Total-Count"] == "1"
        assert ana.get("/threads/r-t0/runs/r-0/feedback/stats").json()["total"] == 0
        assert vi.get("/threads/r-t0/runs/r-0/feedback/stats").json()["total"] == 2
        assert ana.put("/queues/triage/items/r-0/vote", json={"rating": -1}).status_code == 200
        after = ana.get("/threads/r-t0/runs/r-0/feedback")
        assert {row["user_id"] for row in after.json()} == {"eu", "bo", "ana"}
        assert after.headers["X-Total-Count"] == "3"
        assert ana.get("/threads/r-t0/runs/r-0/feedback/stats").json() == {
            "run_id": "r-0",
            "total": 3,
            "positive": 1,
            "negative": 2,
        }
    finally:
        server.stop()
