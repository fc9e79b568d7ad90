"""A queue's progress per reviewer, on both engines: what is left to each, who is behind, and who may
see whose row (a lead or an admin every row; a reviewer their own and the totals)."""

from __future__ import annotations

import pytest

from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Forbidden
from data_layer.queues import QueueSpec
from tests.test_queues import runs, vote

LEAD, ANA, BO, CY = Actor("lee", "lead"), Actor("ana", "reviewer"), Actor("bo", "reviewer"), Actor("cy", "reviewer")


def work(store, queue: str, actor: Actor, count: int) -> None:
    for _ in range(count):
        item = store.queues.next_item(queue, actor=actor)
        store.queues.submit(queue, item["run"]["run_id"], rating=1, actor=actor)


def test_an_assignee_under_half_the_average_with_items_left_is_behind(store):
    assert store.ingest(runs(20), actor=SYSTEM).ok
    store.queues.create(QueueSpec("team", sample_rate=1.0, assignees=("ana", "bo", "cy")), actor=SYSTEM)
    work(store, "team", ANA, 8)
    work(store, "team", BO, 3)
    # dan is no assignee: his vote (an import's) counts for the item, not for the team's average
    undone = next(i["run_id"] for i in store.queues.items("team", actor=SYSTEM) if i["votes"] == 0)
    assert store.ingest([vote(undone, "dan", -1)], actor=SYSTEM).ok

    found = store.queues.progress("team", actor=LEAD)
    rows = {row["reviewer"]: row for row in found["reviewers"]}
    # 20 items, 12 judged, 8 open; the assignees gave 11 votes: an average of 11/3, half of it 1.83
    assert (found["items"], found["done"], found["remaining"], found["votes_needed"]) == (20, 12, 8, 8)
    assert found["average_done"] == pytest.approx(11 / 3)
    assert {name: (row["done"], row["remaining"], row["behind"]) for name, row in rows.items()} == {
        "ana": (8, 8, False),
        "bo": (3, 8, False),
        "cy": (0, 8, True),
        "dan": (1, 0, False),
    }
    assert found["behind"] == ["cy"]
    # each assignee's even share of the 19 votes of the assignees' work: 11 given and 8 needed
    assert rows["cy"]["even_share"] == pytest.approx(19 / 3) and rows["dan"]["even_share"] is None
    assert (rows["cy"]["pace_per_hour"], rows["cy"]["agreement"]) == (None, None)

    work(store, "team", CY, 2)  # 13 given: half the average is 2.17, cy's 2 is still under it
    assert store.queues.progress("team", actor=LEAD)["behind"] == ["cy"]
    work(store, "team", CY, 1)  # 14 given: 3 is no longer under 2.33
    assert store.queues.progress("team", actor=LEAD)["behind"] == []


def test_nobody_with_nothing_left_is_behind_and_without_assignees_the_voters_count(store):
    assert store.ingest(runs(6), actor=SYSTEM).ok
    store.queues.create(QueueSpec("open", sample_rate=1.0, reviewers_per_item=2), actor=SYSTEM)
    work(store, "open", ANA, 6)
    work(store, "open", BO, 1)
    found = store.queues.progress("open", actor=SYSTEM)
    assert {row["reviewer"]: (row["done"], row["remaining"], row["behind"]) for row in found["reviewers"]} == {
        "ana": (6, 0, False),
        "bo": (1, 5, True),
    }
    work(store, "open", CY, 5)  # every item has its two votes: nothing is left to bo, so he is not behind
    found = store.queues.progress("open", actor=SYSTEM)
    assert found["remaining"] == 0 and found["behind"] == []
    assert {row["reviewer"]: row["remaining"] for row in found["reviewers"]} == {"ana": 0, "bo": 0, "cy": 0}


def test_a_reviewer_sees_their_own_row_and_the_totals_a_lead_sees_every_row(store):
    assert store.ingest(runs(10), actor=SYSTEM).ok
    store.queues.create(QueueSpec("team", sample_rate=1.0, assignees=("ana", "bo")), actor=SYSTEM)
    work(store, "team", ANA, 5)
    everyone = store.queues.progress("team", actor=LEAD)
    assert [row["reviewer"] for row in everyone["reviewers"]] == ["ana", "bo"] and everyone["behind"] == ["bo"]
    assert store.queues.progress("team", actor=Actor("ad", "admin"))["reviewers"] == everyone["reviewers"]
    assert store.queues.reviewers("team", actor=LEAD) == everyone["reviewers"]

    own = store.queues.progress("team", actor=BO)
    assert [row["reviewer"] for row in own["reviewers"]] == ["bo"] and own["behind"] == ["bo"]
    assert (own["items"], own["done"], own["left_for_me"]) == (10, 5, 5)
    assert store.queues.progress("team", actor=ANA)["behind"] == []
    viewer = store.queues.progress("team", actor=Actor("vi", "viewer"))
    assert viewer["reviewers"] == [] and viewer["behind"] == [] and viewer["done"] == 5
    for refused in (BO, Actor("vi", "viewer")):
        with pytest.raises(Forbidden, match="may not view_progress"):
            store.queues.reviewers("team", actor=refused)
