"""The feedback rules of the source system, and what this project adds, on a real database."""

from __future__ import annotations

import pytest

from data_layer.auth import SYSTEM
from data_layer.errors import Conflict, InvalidInput, NotFound


def vote(store, **overrides):
    fields = {"thread_id": "t1", "run_id": "r1", "rating": 1, "owner_id": "ana"}
    fields.update(overrides)
    return store.feedback.create(**fields, actor=SYSTEM)


def test_create_returns_json_friendly_record(seeded):
    created = vote(seeded, rating=-1, comment="too long", tags=["style_tone", "slow"])
    assert created["rating"] == -1
    assert created["comment"] == "too long"
    assert created["tags"] == ["style_tone", "slow"]
    assert created["owner_id"] == "ana"
    assert created["message_id"] is None
    assert created["source"] == "reviewer"
    assert created["created_at"].endswith("+00:00")
    assert created["created_at"] == created["updated_at"]
    assert seeded.feedback.get(created["feedback_id"], actor=SYSTEM) == created


@pytest.mark.parametrize("rating", [0, 2, -2, True, False, "1", 1.0, -1.0, None, [1]])
def test_rating_other_than_plus_or_minus_one_is_rejected(seeded, rating):
    with pytest.raises(InvalidInput, match="rating must be 1 or -1"):
        vote(seeded, rating=rating)
    assert seeded.feedback.count_by_run("t1", "r1", actor=SYSTEM) == 0


def test_invalid_input_is_a_value_error_and_not_found_a_lookup_error():
    assert issubclass(InvalidInput, ValueError)
    assert issubclass(NotFound, LookupError)


def test_unknown_run_is_not_found(seeded):
    with pytest.raises(NotFound, match="run nope not found"):
        vote(seeded, run_id="nope")


def test_run_of_another_thread_is_not_found(seeded):
    with pytest.raises(NotFound, match="not found in thread t2"):
        vote(seeded, thread_id="t2", run_id="r1")
    assert seeded.feedback.count_by_thread("t2", actor=SYSTEM) == 0


def test_message_must_belong_to_the_run(seeded):
    on_message = vote(seeded, message_id="a1")
    assert on_message["message_id"] == "a1"
    with pytest.raises(NotFound, match="message a2 not found in run r1"):
        vote(seeded, message_id="a2", owner_id="bo")
    # a1 is a message, but of run r1: not of r2
    with pytest.raises(NotFound, match="message a1 not found in run r2"):
        vote(seeded, run_id="r2", message_id="a1", owner_id="bo")


@pytest.mark.parametrize("tags", [["great"], ["slow", "nope"], "slow", [1]])
def test_unknown_tag_is_rejected(seeded, tags):
    with pytest.raises(InvalidInput):
        vote(seeded, tags=tags)


def test_comment_limit_is_ten_thousand_characters(seeded):
    assert vote(seeded, comment="x" * 10_000)["comment"] == "x" * 10_000
    with pytest.raises(InvalidInput, match="comment is too long"):
        vote(seeded, owner_id="bo", comment="x" * 10_001)


def test_duplicate_tags_collapse(seeded):
    assert vote(seeded, rating=-1, tags=["slow", "slow", "other"])["tags"] == ["slow", "other"]


def test_second_create_by_same_owner_on_same_target_is_a_conflict(seeded):
    vote(seeded)
    with pytest.raises(Conflict, match="ana already rated run r1"):
        vote(seeded, rating=-1)
    assert seeded.feedback.aggregate_by_run("t1", "r1", actor=SYSTEM) == {
        "run_id": "r1",
        "total": 1,
        "positive": 1,
        "negative": 0,
    }


def test_run_vote_and_message_vote_are_different_targets(seeded):
    vote(seeded)
    vote(seeded, message_id="a1", rating=-1)
    assert seeded.feedback.count_by_run("t1", "r1", actor=SYSTEM) == 2


def test_anonymous_feedback_may_repeat(seeded):
    vote(seeded, owner_id=None)
    vote(seeded, owner_id=None, rating=-1)
    assert seeded.feedback.aggregate_by_run("t1", "r1", actor=SYSTEM) == {
        "run_id": "r1",
        "total": 2,
        "positive": 1,
        "negative": 1,
    }


def test_upsert_updates_in_place_keeping_id_and_created_at(seeded):
    first = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, owner_id="ana", comment="ok", actor=SYSTEM)
    second = seeded.feedback.upsert(
        thread_id="t1", run_id="r1", rating=-1, owner_id="ana", comment=None, tags=["incorrect"], actor=SYSTEM
    )
    assert second["feedback_id"] == first["feedback_id"]
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] > first["updated_at"]
    assert (second["rating"], second["comment"], second["tags"]) == (-1, None, ["incorrect"])
    assert seeded.feedback.count_by_run("t1", "r1", actor=SYSTEM) == 1


def test_upsert_needs_an_owner(seeded):
    with pytest.raises(InvalidInput, match="owner_id is required"):
        seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, owner_id=None, actor=SYSTEM)


def test_upsert_checks_the_same_rules_as_create(seeded):
    with pytest.raises(InvalidInput):
        seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=True, owner_id="ana", actor=SYSTEM)
    with pytest.raises(NotFound):
        seeded.feedback.upsert(thread_id="t2", run_id="r1", rating=1, owner_id="ana", actor=SYSTEM)


def test_list_by_run_is_in_creation_order_and_paginates(seeded):
    ids = [vote(seeded, owner_id=f"u{n}", rating=1 if n % 2 else -1)["feedback_id"] for n in range(5)]
    assert [row["feedback_id"] for row in seeded.feedback.list_by_run("t1", "r1", actor=SYSTEM)] == ids
    assert [
        row["feedback_id"] for row in seeded.feedback.list_by_run("t1", "r1", limit=2, offset=1, actor=SYSTEM)
    ] == ids[1:3]
    with pytest.raises(NotFound, match="run r1 not found in thread t2"):
        seeded.feedback.list_by_run("t2", "r1", actor=SYSTEM)


READS_BY_TARGET = {
    "list_by_run": lambda store, thread, run: store.feedback.list_by_run(thread, run, actor=SYSTEM),
    "count_by_run": lambda store, thread, run: store.feedback.count_by_run(thread, run, actor=SYSTEM),
    "aggregate_by_run": lambda store, thread, run: store.feedback.aggregate_by_run(thread, run, actor=SYSTEM),
    "list_by_thread": lambda store, thread, run: store.feedback.list_by_thread(thread, actor=SYSTEM),
    "count_by_thread": lambda store, thread, run: store.feedback.count_by_thread(thread, actor=SYSTEM),
}


@pytest.mark.parametrize("read", READS_BY_TARGET)
def test_reads_by_target_answer_a_wrong_target_as_missing_while_votes_exist(seeded, read):
    vote(seeded)
    vote(seeded, thread_id="t2", run_id="r3", owner_id="bo")
    with pytest.raises(NotFound, match="thread nope not found"):
        READS_BY_TARGET[read](seeded, "nope", "r1")
    if read.endswith("_by_run"):
        with pytest.raises(NotFound, match="run r1 not found in thread t2"):
            READS_BY_TARGET[read](seeded, "t2", "r1")
    found = READS_BY_TARGET[read](seeded, "t1", "r1")
    assert found in (1, {"run_id": "r1", "total": 1, "positive": 1, "negative": 0}) or len(found) == 1


@pytest.mark.slow
def test_no_silent_cap_on_lists(seeded):
    for n in range(120):
        vote(seeded, owner_id=f"user{n}")
    assert len(seeded.feedback.list_by_run("t1", "r1", actor=SYSTEM)) == 120
    assert len(seeded.feedback.list_by_thread("t1", actor=SYSTEM)) == 120


def test_list_by_thread_covers_all_runs(seeded):
    vote(seeded)
    vote(seeded, run_id="r2")
    vote(seeded, thread_id="t2", run_id="r3")
    rows = seeded.feedback.list_by_thread("t1", actor=SYSTEM)
    assert [row["run_id"] for row in rows] == ["r1", "r2"]


def test_stats_are_zero_without_feedback_and_count_every_reviewer(seeded):
    assert seeded.feedback.aggregate_by_run("t1", "r1", actor=SYSTEM) == {
        "run_id": "r1",
        "total": 0,
        "positive": 0,
        "negative": 0,
    }
    vote(seeded, owner_id="ana", rating=1)
    vote(seeded, owner_id="bo", rating=-1)
    vote(seeded, owner_id="chen", rating=-1)
    vote(seeded, run_id="r2", owner_id="ana", rating=-1)
    assert seeded.feedback.aggregate_by_run("t1", "r1", actor=SYSTEM) == {
        "run_id": "r1",
        "total": 3,
        "positive": 1,
        "negative": 2,
    }


def test_delete_by_id_and_scope_checks(seeded):
    created = vote(seeded)
    assert seeded.feedback.delete("no-such-id", actor=SYSTEM) is False
    assert seeded.feedback.delete(created["feedback_id"], thread_id="t2", actor=SYSTEM) is False
    assert seeded.feedback.delete(created["feedback_id"], run_id="r2", actor=SYSTEM) is False
    assert seeded.feedback.get(created["feedback_id"], actor=SYSTEM) is not None
    assert seeded.feedback.delete(created["feedback_id"], thread_id="t1", run_id="r1", actor=SYSTEM) is True
    assert seeded.feedback.get(created["feedback_id"], actor=SYSTEM) is None
    assert seeded.feedback.delete(created["feedback_id"], actor=SYSTEM) is False


def test_retract_removes_only_the_owners_vote(seeded):
    vote(seeded, owner_id="ana")
    vote(seeded, owner_id="bo", rating=-1)
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", owner_id="ana", actor=SYSTEM) is True
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", owner_id="ana", actor=SYSTEM) is False
    assert [row["owner_id"] for row in seeded.feedback.list_by_run("t1", "r1", actor=SYSTEM)] == ["bo"]


def test_thread_tally_follows_every_write(seeded):
    def tally():
        thread = seeded.threads.get("t1")
        return thread["positive"], thread["negative"]

    ana = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, owner_id="ana", actor=SYSTEM)
    assert tally() == (1, 0)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, owner_id="ana", actor=SYSTEM)
    assert tally() == (0, 1)
    vote(seeded, owner_id="bo", run_id="r2")
    assert tally() == (1, 1)
    seeded.feedback.delete(ana["feedback_id"], actor=SYSTEM)
    assert tally() == (1, 0)
    seeded.feedback.retract(thread_id="t1", run_id="r2", owner_id="bo", actor=SYSTEM)
    assert tally() == (0, 0)


@pytest.mark.parametrize(
    "field, value",
    [
        ("owner_id", "ana'; DROP TABLE feedback; --"),
        ("owner_id", "../../etc/passwd"),
        ("thread_id", "t1\x00"),
        ("run_id", ""),
        ("message_id", "a" * 201),
    ],
)
def test_hostile_ids_are_rejected_and_nothing_changes(seeded, field, value):
    with pytest.raises(InvalidInput, match=field):
        vote(seeded, **{field: value})
    assert seeded.feedback.count_by_thread("t1", actor=SYSTEM) == 0


def test_comment_with_sql_and_markup_is_stored_verbatim(seeded):
    text = "'); DROP TABLE feedback; -- <script>alert(1)</script> 評價"
    created = vote(seeded, comment=text)
    assert seeded.feedback.get(created["feedback_id"], actor=SYSTEM)["comment"] == text


def test_find_returns_the_owners_current_vote(seeded):
    assert seeded.feedback.find(run_id="r1", owner_id="ana", actor=SYSTEM) is None
    created = vote(seeded, message_id="a1")
    assert seeded.feedback.find(run_id="r1", owner_id="ana", actor=SYSTEM) is None
    assert (
        seeded.feedback.find(run_id="r1", owner_id="ana", message_id="a1", actor=SYSTEM)["feedback_id"]
        == created["feedback_id"]
    )
