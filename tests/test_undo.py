"""Undo of a removed vote (`Store.feedback.restore`, `data_layer/undo.py`) on both engines: the vote comes
back exactly as it was, with its tallies and an audit row, and only for whoever may remove it that way."""

from __future__ import annotations

import pytest

from data_layer import integrity
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Conflict, Forbidden, NotFound

ANA, BO, ROOT = Actor("ana"), Actor("bo"), Actor("root", "admin")


def stats(store) -> tuple:
    """The thread's tallies, the run's reviewer tallies, and the run values copied onto its votes."""
    thread = store.threads.get("t1")
    with store.engine.read() as conn:
        run = conn.one("SELECT reviewer_positive, reviewer_negative FROM runs WHERE run_id = 'r1'")
        copies = conn.all("SELECT DISTINCT run_model_name, run_status FROM feedback WHERE run_id = 'r1'")
    assert integrity.check(store) == {}
    return thread["positive"], thread["negative"], run["reviewer_negative"], [tuple(row.values()) for row in copies]


def test_a_retracted_vote_comes_back_with_its_id_comment_tags_and_times(seeded):
    before = stats(seeded)
    vote = seeded.feedback.upsert(
        thread_id="t1", run_id="r1", message_id="a1", rating=-1, comment="wrong temple", tags=["incorrect"], actor=ANA
    )
    seeded.feedback.upsert(
        thread_id="t1", run_id="r1", message_id="a1", rating=-1, comment="wrong temple", tags=["slow"], actor=ANA
    )
    vote = seeded.feedback.get(vote["feedback_id"], actor=SYSTEM)
    assert vote["updated_at"] > vote["created_at"]
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", message_id="a1", actor=ANA)
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM) is None

    restored = seeded.feedback.restore(vote["feedback_id"], actor=ANA)
    assert restored == vote
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM) == vote
    assert stats(seeded) == (before[0], before[1] + 1, before[2] + 1, [("m1", "success")])
    trail = seeded.audit.list({"feedback_id": vote["feedback_id"]}, actor=ROOT)
    assert [(row["action"], row["actor_id"]) for row in trail][-2:] == [("retract", "ana"), ("create", "ana")]
    assert trail[-1]["new_value"]["created_at"] == vote["created_at"]
    assert trail[-1]["new_value"]["tags"] == ["slow"]


def test_an_admins_delete_is_undone_by_an_admin_and_moves_the_tallies_back(seeded):
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, comment="no", actor=BO)
    counted = stats(seeded)
    assert seeded.feedback.delete(vote["feedback_id"], actor=ROOT)
    assert stats(seeded)[:3] == (counted[0], counted[1] - 1, counted[2] - 1)
    with pytest.raises(Forbidden):
        seeded.feedback.restore(vote["feedback_id"], actor=ANA)  # a reviewer may not delete bo's vote
    assert seeded.feedback.restore(vote["feedback_id"], actor=ROOT) == vote
    assert stats(seeded) == counted


def test_only_the_owner_undoes_a_retraction_and_only_once(seeded):
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, actor=ANA)
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", actor=ANA)
    with pytest.raises(Forbidden):
        seeded.feedback.restore(vote["feedback_id"], actor=BO)
    with pytest.raises(Forbidden):
        seeded.feedback.restore(vote["feedback_id"], actor=Actor("pat", "viewer"))
    assert seeded.feedback.count_by_run("t1", "r1", actor=SYSTEM) == 0
    seeded.feedback.restore(vote["feedback_id"], actor=ANA)
    with pytest.raises(NotFound, match="no removed vote"):
        seeded.feedback.restore(vote["feedback_id"], actor=ANA)
    assert seeded.feedback.count_by_run("t1", "r1", actor=SYSTEM) == 1


def test_a_new_vote_since_the_retraction_stays_and_the_old_one_is_not_restored(seeded):
    old = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, comment="first", actor=ANA)
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", actor=ANA)
    new = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, comment="second", actor=ANA)
    with pytest.raises(Conflict, match="voted on this target again"):
        seeded.feedback.restore(old["feedback_id"], actor=ANA)
    assert seeded.feedback.list_by_run("t1", "r1", actor=SYSTEM) == [new]


@pytest.mark.parametrize("feedback_id", ["never-stored", "x" * 300, 42, None])
def test_an_unknown_or_hostile_id_restores_nothing(seeded, feedback_id):
    with pytest.raises((NotFound, ValueError)):
        seeded.feedback.restore(feedback_id, actor=ANA)
    assert seeded.feedback.count_by_thread("t1", actor=SYSTEM) == 0
