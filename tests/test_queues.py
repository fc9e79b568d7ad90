"""Review queues as objects: definition, deterministic sampling, entry on arrival, consensus and the
estimate of all traffic's quality, on both engines."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from data_layer import open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Conflict, Forbidden, InvalidInput, NotFound
from data_layer.queues import QueueSpec, sample_point
from tests.conftest import ROOT


def runs(count: int, prefix: str = "r", assistant: str = "a1") -> list[dict]:
    records = [{"kind": "thread", "thread_id": f"{prefix}-t{n // 10}"} for n in range(0, count, 10)]
    records += [
        {"kind": "run", "run_id": f"{prefix}-{n}", "thread_id": f"{prefix}-t{n // 10}", "assistant_id": assistant}
        for n in range(count)
    ]
    return records


def vote(run_id: str, owner: str, rating: int, source: str = "reviewer") -> dict:
    thread = run_id.rsplit("-", 1)[0] + f"-t{int(run_id.rsplit('-', 1)[1]) // 10}"
    return {
        "kind": "feedback",
        "thread_id": thread,
        "run_id": run_id,
        "owner_id": owner,
        "rating": rating,
        "source": source,
    }


def item_ids(store, name: str) -> dict[str, str]:
    return {item["run_id"]: item["reason"] for item in store.queues.items(name, actor=SYSTEM, limit=100_000)}


def test_the_sample_is_the_runs_whose_point_is_under_the_rate(store):
    assert store.ingest(runs(400), actor=SYSTEM).ok
    store.queues.create(QueueSpec("s", sample_rate=0.3, seed=7), actor=SYSTEM)
    expected = {f"r-{n}" for n in range(400) if sample_point(f"r-{n}", 7) < 0.3}
    assert set(item_ids(store, "s")) == expected
    assert 80 < len(expected) < 160
    items = store.queues.items("s", actor=SYSTEM, limit=1000)
    assert {(item["reason"], item["inclusion_probability"]) for item in items} == {("sampled", 0.3)}


def test_another_seed_draws_another_sample(store):
    assert store.ingest(runs(300), actor=SYSTEM).ok
    store.queues.create(QueueSpec("one", sample_rate=0.2, seed=1), actor=SYSTEM)
    store.queues.create(QueueSpec("two", sample_rate=0.2, seed=2), actor=SYSTEM)
    one, two = set(item_ids(store, "one")), set(item_ids(store, "two"))
    assert one != two and one and two


def test_runs_enter_open_queues_as_they_arrive_in_any_order(store_url, tmp_path):
    records = runs(300)
    shuffled = records[:30] + random.Random(5).sample(records[30:], len(records) - 30)
    found = []
    for n, order in enumerate((records, shuffled)):
        url = store_url if "://" in store_url else str(tmp_path / f"order{n}.duckdb")
        with open_store(url) as store:
            store.queues.create(QueueSpec(f"q{n}", sample_rate=0.25, seed=3), actor=SYSTEM)
            for start in range(0, len(order), 70):
                assert store.ingest(order[start : start + 70], actor=SYSTEM).ok
            found.append(item_ids(store, f"q{n}"))
    assert found[0] == found[1] == {f"r-{n}": "sampled" for n in range(300) if sample_point(f"r-{n}", 3) < 0.25}


def test_a_selection_takes_complaints_when_they_arrive_and_says_why(store):
    assert store.ingest(runs(40), actor=SYSTEM).ok
    store.queues.create(QueueSpec("triage", selection={"negative_user_feedback": True}, sample_rate=0.5), actor=SYSTEM)
    before = item_ids(store, "triage")
    assert set(before.values()) == {"sampled"}
    unsampled = next(f"r-{n}" for n in range(40) if sample_point(f"r-{n}", 0) >= 0.5)
    sampled = next(f"r-{n}" for n in range(40) if sample_point(f"r-{n}", 0) < 0.5)
    assert store.ingest([vote(unsampled, "eu1", -1, "end_user")], actor=SYSTEM).ok
    assert store.ingest(runs(45)[-5:] + [vote("r-44", "eu2", -1, "end_user")], actor=SYSTEM).ok
    after = item_ids(store, "triage")
    assert after[unsampled] == "selected"
    assert after[sampled] == "sampled"  # an item keeps the reason it entered with
    assert after.get("r-44") == ("both" if sample_point("r-44", 0) < 0.5 else "selected")
    selected_only = [i for i in store.queues.items("triage", actor=SYSTEM) if i["reason"] == "selected"]
    assert all(item["inclusion_probability"] is None for item in selected_only)
    # A complaint through the vote API (an end user's PUT) puts its run in the queue in the same transaction.
    complained = next(f"r-{n}" for n in range(40) if sample_point(f"r-{n}", 0) >= 0.5 and f"r-{n}" not in after)
    store.feedback.upsert(
        thread_id=f"r-t{int(complained[2:]) // 10}",
        run_id=complained,
        rating=-1,
        owner_id="eu3",
        source="end_user",
        actor=SYSTEM,
    )
    assert item_ids(store, "triage")[complained] == "selected"


def test_a_closed_queue_takes_no_new_run(store):
    assert store.ingest(runs(20), actor=SYSTEM).ok
    store.queues.create(QueueSpec("all", sample_rate=1.0), actor=SYSTEM)
    closed = store.queues.close("all", actor=SYSTEM)
    assert closed["closed_at"] and closed["items"] == 20
    assert store.ingest(runs(30)[-10:], actor=SYSTEM).ok
    assert len(item_ids(store, "all")) == 20


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "bad name!"}, "queue name"),
        ({"sample_rate": 1.5}, "sample rate must be from 0 to 1"),
        ({"sample_rate": float("nan")}, "sample rate"),
        ({"sample_rate": "0.1"}, "sample rate must be a number"),
        ({"reviewers_per_item": 6}, "reviewers per item 6 is out of range"),
        ({"reviewers_per_item": 0}, "reviewers per item 0 is out of range"),
        ({"blind": "yes"}, "blind must be true or false"),
        ({"selection": {"source": "end_user"}}, "a queue's selection cannot be filtered by source"),
        ({"selection": {"nope": 1}}, "unknown filter 'nope'"),
        ({"assignees": "ana"}, "assignees must be a list"),
        ({"sample_rate": 0}, "needs a selection or a sample rate"),
        ({"instructions": "x" * 20_001}, "instructions"),
    ],
)
def test_a_bad_definition_is_refused_naming_what_is_wrong(fields, message):
    with pytest.raises(InvalidInput, match=message):
        QueueSpec(**{"name": "q", "sample_rate": 0.1, **fields})


def test_a_taken_name_is_a_conflict_and_changes_nothing(store):
    assert store.ingest(runs(30), actor=SYSTEM).ok
    first = store.queues.create(QueueSpec("q", sample_rate=0.5), actor=SYSTEM)
    with pytest.raises(Conflict, match="a queue named q exists"):
        store.queues.create(QueueSpec("q", sample_rate=1.0, blind=True), actor=SYSTEM)
    assert store.queues.get("q", actor=SYSTEM) == first
    with pytest.raises(NotFound, match="queue nope not found"):
        store.queues.items("nope", actor=SYSTEM)


def test_only_admins_define_queues_and_readers_read_them(store):
    store.queues.create(QueueSpec("q", sample_rate=0.5), actor=Actor("ada", "admin"))
    with pytest.raises(Forbidden):
        store.queues.create(QueueSpec("r", sample_rate=0.5), actor=Actor("rae", "reviewer"))
    with pytest.raises(Forbidden):
        store.queues.close("q", actor=Actor("rae", "reviewer"))
    assert [q["name"] for q in store.queues.list(actor=Actor("vic", "viewer"))] == ["q"]
    assert store.queues.get("q", actor=Actor("vic", "viewer"))["created_by"] == "ada"
    with pytest.raises(Forbidden):
        store.queues.list(actor=Actor("eu", "end_user"))


def test_consensus_and_the_design_weighted_estimate(store):
    assert store.ingest(runs(200), actor=SYSTEM).ok
    store.queues.create(QueueSpec("s", sample_rate=0.5, reviewers_per_item=2), actor=SYSTEM)
    sampled = sorted(item_ids(store, "s"))
    good, bad, tie = sampled[:12], sampled[12:20], sampled[20:23]
    votes = [vote(r, "ana", 1) for r in good] + [vote(r, "bo", 1) for r in good[:6]]
    votes += [vote(r, "ana", -1) for r in bad] + [vote(r, "ana", 1) for r in tie] + [vote(r, "bo", -1) for r in tie]
    votes += [
        vote(good[0], "eu", -1, "end_user"),
        vote(bad[0], "eu", -1, "end_user"),
        vote(bad[1], "eu2", 1, "end_user"),
    ]
    assert store.ingest(votes, actor=SYSTEM).ok
    consensus = {i["run_id"]: (i["consensus"], i["votes"]) for i in store.queues.items("s", actor=SYSTEM, limit=500)}
    assert consensus[good[0]] == ("good", 2) and consensus[good[7]] == ("good", 1)
    assert consensus[bad[0]] == ("bad", 1) and consensus[tie[0]] == ("disputed", 2)
    assert consensus[sampled[30]] == (None, 0)
    found = store.queues.estimate("s", actor=SYSTEM)
    assert found["estimate"] == pytest.approx(12 / 20)
    assert (found["rated_items"], found["disputed_items"], found["sampled_items"]) == (20, 3, len(sampled))
    assert (found["low"], found["high"]) == pytest.approx(wilson(12, 20))
    assert found["end_user_rate"] == pytest.approx(1 / 3) and found["end_user_votes"] == 3
    assert store.queues.get("s", actor=SYSTEM)["done"] == 6 + 3
    by = store.queues.estimate("s", by="assistant_id", actor=SYSTEM)
    assert [(g["assistant_id"], g["rated_items"]) for g in by["groups"]] == [("a1", 20)]
    with pytest.raises(InvalidInput, match="split by one of"):
        store.queues.estimate("s", by="owner_id", actor=SYSTEM)


def wilson(positive: int, total: int) -> tuple[float, float]:
    """The Wilson interval, written out here as the oracle."""
    z, p = 1.959963984540054, positive / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * (p * (1 - p) / total + z * z / (4 * total * total)) ** 0.5 / (1 + z * z / total)
    return centre - half, centre + half


@pytest.mark.slow
def test_over_100000_runs_the_sample_rate_is_within_three_standard_errors(store):
    assert store.ingest(runs(100_000, prefix="big"), actor=SYSTEM).ok
    for name, rate, seed in (("five", 0.05, 1), ("twenty", 0.2, 2)):
        store.queues.create(QueueSpec(name, sample_rate=rate, seed=seed), actor=SYSTEM)
        count = store.queues.get(name, actor=SYSTEM)["items"]
        standard_error = (100_000 * rate * (1 - rate)) ** 0.5
        assert abs(count - 100_000 * rate) < 3 * standard_error, (name, count)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "data_layer", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.slow
def test_the_queue_commands(tmp_path):
    db = str(tmp_path / "q.duckdb")
    with open_store(db) as store:
        assert store.ingest(runs(100) + [vote("r-3", "eu", -1, "end_user")], actor=SYSTEM).ok
    made = cli("queue", "create", "triage", "--source", "end_user", "--rating", "negative", "--json", "--db", db)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["selection"] == {"negative_user_feedback": True}
    assert (
        cli("queue", "create", "s", "--sample-rate", "0.3", "--reviewers", "2", "--blind", "--db", db).returncode == 0
    )
    listed = json.loads(cli("queue", "list", "--json", "--db", db).stdout)
    assert [(q["name"], q["items"], q["blind"]) for q in listed] == [
        ("s", sum(sample_point(f"r-{n}", 0) < 0.3 for n in range(100)), True),
        ("triage", 1, False),
    ]
    items = [json.loads(line) for line in cli("queue", "items", "triage", "--json", "--db", db).stdout.splitlines()]
    assert items == [
        {
            "run_id": "r-3",
            "thread_id": "r-t0",
            "reason": "selected",
            "inclusion_probability": None,
            "votes": 0,
            "consensus": None,
        }
    ]
    estimated = json.loads(cli("queue", "estimate", "s", "--json", "--by", "model_name", "--db", db).stdout)
    assert estimated["estimate"] is None and estimated["reason"] == "no sampled item has a verdict yet"
    refused = cli("queue", "create", "x", "--reviewer", "ana", "--db", db)
    assert refused.returncode == 1 and "a queue selects runs: --reviewer" in refused.stderr
    assert "queue triage closed" in cli("queue", "close", "triage", "--db", db).stdout


def test_a_backup_keeps_the_queues_and_their_items(store, tmp_path):
    from data_layer import backup

    assert store.ingest(runs(50), actor=SYSTEM).ok
    store.queues.create(
        QueueSpec("s", sample_rate=0.4, blind=True, instructions="Judge **only** the answer."), actor=SYSTEM
    )
    backup.backup(store, tmp_path / "bk")
    with open_store(str(tmp_path / "restored.duckdb")) as restored:
        backup.restore(restored, tmp_path / "bk")
        assert restored.queues.list(actor=SYSTEM) == store.queues.list(actor=SYSTEM)
        assert item_ids(restored, "s") == item_ids(store, "s")


REVIEWERS = [Actor(name, "reviewer") for name in ("ana", "bo", "cy")]


def test_three_reviewers_give_every_item_exactly_k_votes_and_never_judge_one_twice(store):
    assert store.ingest(runs(60), actor=SYSTEM).ok
    store.queues.create(QueueSpec("k2", sample_rate=0.5, reviewers_per_item=2, seed=4), actor=SYSTEM)
    items = set(item_ids(store, "k2"))
    offered: dict[str, list[str]] = {actor.user_id: [] for actor in REVIEWERS}
    rng = random.Random(9)
    while True:
        handed = [(actor, store.queues.next_item("k2", actor=actor)) for actor in REVIEWERS]
        live = [(actor, item) for actor, item in handed if item]
        if not live:
            break
        # Items held at the same moment are different items.
        held = [item["run"]["run_id"] for _, item in live]
        assert len(held) == len(set(held))
        for actor, item in live:
            run_id = item["run"]["run_id"]
            assert run_id not in offered[actor.user_id], (actor.user_id, run_id)
            offered[actor.user_id].append(run_id)
            assert item["reason"] == "sampled"
            store.queues.submit("k2", run_id, rating=rng.choice((1, -1)), comment="ok", actor=actor)
    final = store.queues.items("k2", actor=SYSTEM, limit=1000)
    assert {item["run_id"] for item in final} == items
    assert {item["votes"] for item in final} == {2}
    for run_id in items:
        voters = [row["owner_id"] for row in store.feedback.list_by_run_id(run_id, actor=SYSTEM)]
        assert len(voters) == len(set(voters)) == 2
    progress = store.queues.progress("k2", actor=Actor(REVIEWERS[0].user_id, "lead"))
    assert (progress["items"], progress["done"], progress["remaining"], progress["votes_needed"]) == (
        len(items),
        len(items),
        0,
        0,
    )
    assert sum(row["done"] for row in progress["reviewers"]) == 2 * len(items)
    assert progress["left_for_me"] == 0


def test_progress_counts_agreement_with_the_other_reviewers(store):
    assert store.ingest(runs(10), actor=SYSTEM).ok
    store.queues.create(QueueSpec("all", sample_rate=1.0, reviewers_per_item=3), actor=SYSTEM)
    ratings = {"ana": [1, 1, -1], "bo": [1, -1, -1], "cy": [1, 1, 1]}
    for name, given in ratings.items():
        for n, rating in enumerate(given):
            store.queues.submit("all", f"r-{n}", rating=rating, actor=Actor(name, "reviewer"))
    found = store.queues.progress("all", actor=Actor("ana", "lead"))
    by = {row["reviewer"]: row for row in found["reviewers"]}
    # r-0: all agree, each against two others who agree. r-1 (ana and cy up, bo down): bo meets two
    # others who agree against him, ana and cy meet a tie. r-2 (ana and bo down, cy up): likewise cy.
    assert {name: (row["done"], row["compared"], row["agreed"]) for name, row in by.items()} == {
        "ana": (3, 1, 1),
        "bo": (3, 2, 1),
        "cy": (3, 2, 1),
    }
    assert by["bo"]["agreement"] == pytest.approx(1 / 2)
    assert (found["done"], found["remaining"], found["left_for_me"]) == (3, 7, 7)


def test_a_queue_with_assignees_is_worked_by_them_alone_and_a_closed_one_hands_out_nothing(store):
    assert store.ingest(runs(10), actor=SYSTEM).ok
    store.queues.create(QueueSpec("mine", sample_rate=1.0, assignees=("ana",)), actor=SYSTEM)
    assert store.queues.next_item("mine", actor=Actor("ana", "reviewer"))["queue"] == "mine"
    with pytest.raises(Forbidden, match="bo is not an assignee of queue mine"):
        store.queues.next_item("mine", actor=Actor("bo", "reviewer"))
    with pytest.raises(Forbidden):
        store.queues.submit("mine", "r-1", rating=1, actor=Actor("bo", "reviewer"))
    with pytest.raises(Forbidden):
        store.queues.next_item("mine", actor=Actor("vic", "viewer"))
    with pytest.raises(NotFound, match="run r-99 is no item of queue mine"):
        store.queues.submit("mine", "r-99", rating=1, actor=Actor("ana", "reviewer"))
    store.queues.close("mine", actor=SYSTEM)
    assert store.queues.next_item("mine", actor=Actor("ana", "reviewer")) is None


def test_an_adjudication_overrides_the_consensus_everywhere_and_is_logged(store):
    assert store.ingest(runs(10), actor=SYSTEM).ok
    store.queues.create(QueueSpec("all", sample_rate=1.0, reviewers_per_item=2), actor=SYSTEM)
    for name, given in {"ana": [1, 1, -1], "bo": [-1, 1, -1]}.items():
        for n, rating in enumerate(given):
            store.queues.submit("all", f"r-{n}", rating=rating, actor=Actor(name, "reviewer"))
    before = store.queues.estimate("all", actor=SYSTEM)
    assert (before["rated_items"], before["disputed_items"], before["estimate"]) == (2, 1, 0.5)
    listed = store.queues.adjudications("all", actor=Actor("vi", "viewer"))
    assert [(row["run_id"], row["consensus"], row["verdict"]) for row in listed] == [("r-0", "disputed", None)]
    lead = Actor("lee", "admin")
    decided = store.queues.adjudicate(
        "all", "r-0", verdict="good", note="The answer is right; bo misread it.", actor=lead
    )
    assert (decided["verdict"], decided["owner_id"]) == ("good", "lee")
    items = {item["run_id"]: item for item in store.queues.items("all", actor=SYSTEM)}
    assert (items["r-0"]["consensus"], items["r-0"]["adjudicated"]) == ("good", True)
    after = store.queues.estimate("all", actor=SYSTEM)
    assert (after["rated_items"], after["disputed_items"], after["adjudicated_items"]) == (3, 0, 1)
    assert after["estimate"] == pytest.approx(2 / 3)
    store.queues.adjudicate("all", "r-0", verdict="bad", note="On a second look: wrong date.", actor=lead)
    assert store.queues.estimate("all", actor=SYSTEM)["estimate"] == pytest.approx(1 / 3)
    with store.engine.read() as conn:
        log = conn.all("SELECT verdict, old_verdict, owner_id FROM adjudication_log ORDER BY id")
    assert [tuple(row.values()) for row in log] == [("good", None, "lee"), ("bad", "good", "lee")]


@pytest.mark.parametrize(
    ("run_id", "verdict", "note", "error", "message"),
    [
        ("r-0", "fine", "why", InvalidInput, "verdict must be good or bad"),
        ("r-0", "good", "  ", InvalidInput, "a verdict needs a note"),
        ("r-0", "good", "x" * 2001, InvalidInput, "note is too long"),
        ("r-99", "good", "why", NotFound, "run r-99 is no item of queue all"),
    ],
)
def test_a_bad_adjudication_is_refused_and_changes_nothing(store, run_id, verdict, note, error, message):
    assert store.ingest(runs(3), actor=SYSTEM).ok
    store.queues.create(QueueSpec("all", sample_rate=1.0), actor=SYSTEM)
    with pytest.raises(error, match=message):
        store.queues.adjudicate("all", run_id, verdict=verdict, note=note, actor=SYSTEM)
    with pytest.raises(Forbidden):
        store.queues.adjudicate("all", "r-0", verdict="good", note="why", actor=Actor("rae", "reviewer"))
    assert store.queues.adjudications("all", actor=SYSTEM) == []


def owners(store, actor, thread="r-t0") -> set[tuple[str, str]]:
    return {(vote["run_id"], vote["owner_id"]) for vote in store.feedback.list_by_thread(thread, actor=actor)}


def test_a_blind_queue_hides_other_votes_until_the_reviewer_has_voted(store):
    assert store.ingest(
        runs(3) + [vote("r-0", "eu", -1, "end_user"), vote("r-1", "eu", 1, "end_user")], actor=SYSTEM
    ).ok
    store.queues.create(QueueSpec("blind", sample_rate=1.0, reviewers_per_item=2, blind=True), actor=SYSTEM)
    ana, bo, cy = (Actor(name, "reviewer") for name in ("ana", "bo", "cy"))
    store.queues.submit("blind", "r-0", rating=1, actor=bo)
    assert owners(store, ana) == set()
    assert store.queues.blind_runs("r-t0", actor=ana) == ["r-0", "r-1", "r-2"]
    assert store.feedback.list_by_run("r-t0", "r-0", actor=ana) == []
    assert store.feedback.list_by_run_id("r-0", actor=ana) == []
    store.queues.submit("blind", "r-0", rating=-1, actor=ana)
    # ana judged r-0: she sees the others' votes on it, and still none on r-1
    assert owners(store, ana) == {
        ("r-0", "bo"),
        ("r-0", "eu"),
        ("r-0", "ana"),
    }
    # r-0 now has its two votes: cy can no longer judge it, so nothing is hidden from him there
    assert owners(store, cy) == {("r-0", "bo"), ("r-0", "eu"), ("r-0", "ana")}
    # people who do not work queues, and the system, see everything
    everything = {("r-0", "bo"), ("r-0", "eu"), ("r-0", "ana"), ("r-1", "eu")}
    assert owners(store, Actor("vi", "viewer")) == owners(store, SYSTEM) == everything
    store.queues.close("blind", actor=SYSTEM)
    assert owners(store, cy) == everything


def test_a_queue_open_to_others_or_not_blind_hides_nothing(store):
    assert store.ingest(runs(2) + [vote("r-0", "eu", -1, "end_user")], actor=SYSTEM).ok
    store.queues.create(QueueSpec("theirs", sample_rate=1.0, blind=True, assignees=("bo",)), actor=SYSTEM)
    store.queues.create(QueueSpec("open", sample_rate=1.0), actor=SYSTEM)
    assert owners(store, Actor("ana", "reviewer")) == {("r-0", "eu")}
    assert owners(store, Actor("bo", "reviewer")) == set()
