"""An admin changes an open queue on both engines: the runs its new definition takes enter (backfill),
a higher sample rate makes every sampled item's inclusion probability the new rate, and what would
break the sample or the scores given (a lower rate, a new seed, a criterion changed or dropped) is
refused naming why, changing nothing."""

from __future__ import annotations

import pytest

from data_layer import cli, open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Conflict, Forbidden, InvalidInput
from data_layer.queues import QueueSpec, sample_point
from tests.test_queues import runs, vote

RUBRIC = [{"name": "factual", "kind": "binary", "required": True}]


def items(store, name: str) -> dict[str, tuple]:
    found = store.queues.items(name, actor=SYSTEM, limit=100_000)
    return {item["run_id"]: (item["reason"], item["inclusion_probability"]) for item in found}


def test_a_higher_rate_lets_the_runs_between_in_and_every_sampled_item_takes_it(store):
    records = runs(300) + runs(40, prefix="s", assistant="a2") + [vote("s-3", "eu", -1, "end_user")]
    assert store.ingest(records, actor=SYSTEM).ok
    spec = QueueSpec("grow", sample_rate=0.1, seed=5, selection={"negative_user_feedback": True})
    store.queues.create(spec, actor=SYSTEM)
    before = items(store, "grow")
    ids = [f"r-{n}" for n in range(300)] + [f"s-{n}" for n in range(40)]
    assert {run for run, (reason, _) in before.items() if reason != "selected"} == {
        run for run in ids if sample_point(run, 5) < 0.1
    }
    changed = store.queues.change("grow", sample_rate=0.3, instructions="Judge it all.", actor=SYSTEM)
    assert (changed["sample_rate"], changed["instructions"], changed["seed"]) == (0.3, "Judge it all.", 5)
    after = items(store, "grow")
    sampled = {run for run in ids if sample_point(run, 5) < 0.3}
    assert {run for run, (reason, _) in after.items() if reason != "selected"} == sampled
    assert all(probability == 0.3 for run, (_, probability) in after.items() if run in sampled)
    complaint = ("both", 0.3) if "s-3" in sampled else ("selected", None)
    assert after["s-3"] == complaint
    # runs that arrive later enter by the new definition
    assert store.ingest(runs(320)[-20:], actor=SYSTEM).ok
    later = {f"r-{n}" for n in range(300, 320) if sample_point(f"r-{n}", 5) < 0.3}
    assert {run for run in items(store, "grow") if run.startswith("r-") and int(run[2:]) >= 300} == later


def test_a_new_selection_backfills_and_the_old_items_stay(store):
    assert store.ingest(runs(10) + runs(6, prefix="s", assistant="a2"), actor=SYSTEM).ok
    store.queues.create(QueueSpec("pick", selection={"assistant_id": "a2"}), actor=SYSTEM)
    assert set(items(store, "pick")) == {f"s-{n}" for n in range(6)}
    store.queues.change("pick", selection={"assistant_id": "a1"}, reviewers_per_item=2, blind=True, actor=SYSTEM)
    assert set(items(store, "pick")) == {f"s-{n}" for n in range(6)} | {f"r-{n}" for n in range(10)}
    shown = store.queues.get("pick", actor=SYSTEM)
    assert (shown["selection"], shown["reviewers_per_item"], shown["blind"]) == ({"assistant_id": "a1"}, 2, True)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"sample_rate": 0.05}, InvalidInput, "sample rate can only rise (it is 0.1)"),
        ({"seed": 3}, InvalidInput, "a queue's seed cannot change"),
        ({"created_by": "x"}, InvalidInput, "a queue.s created_by cannot change"),
        ({"rubric": []}, InvalidInput, "criterion factual has scores to keep"),
        ({"rubric": [{"name": "factual", "kind": "ordinal"}]}, InvalidInput, "criterion factual: its kind"),
        ({"reviewers_per_item": 9}, InvalidInput, "reviewers per item 9 is out of range"),
        ({"sample_rate": 0, "selection": {}}, InvalidInput, "needs a selection or a sample rate"),
    ],
)
def test_what_would_break_the_sample_or_the_scores_is_refused_changing_nothing(store, fields, error, message):
    assert store.ingest(runs(30), actor=SYSTEM).ok
    store.queues.create(QueueSpec("fixed", sample_rate=0.1, rubric=RUBRIC), actor=SYSTEM)
    before = (store.queues.get("fixed", actor=SYSTEM), items(store, "fixed"))
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.queues.change("fixed", actor=SYSTEM, **fields)
    assert (store.queues.get("fixed", actor=SYSTEM), items(store, "fixed")) == before


def test_a_rubric_gains_a_criterion_and_the_scores_given_stay(store):
    assert store.ingest(runs(3), actor=SYSTEM).ok
    store.queues.create(QueueSpec("scored", sample_rate=1.0, rubric=RUBRIC), actor=SYSTEM)
    store.queues.submit("scored", "r-0", rating=1, scores={"factual": True}, actor=Actor("ana", "reviewer"))
    tone = {"name": "tone", "kind": "categorical", "options": ["warm", "curt"]}
    store.queues.change("scored", rubric=[{**RUBRIC[0], "required": False}, tone], actor=SYSTEM)
    assert [c["name"] for c in store.queues.get("scored", actor=SYSTEM)["rubric"]] == ["factual", "tone"]
    vote_ = store.queues.submit("scored", "r-1", rating=1, scores={"tone": "warm"}, actor=Actor("ana", "reviewer"))
    assert vote_["scores"] == {"tone": "warm"}
    assert store.feedback.find(run_id="r-0", owner_id="ana", actor=SYSTEM)["scores"] == {"factual": True}


def test_only_admins_change_open_queues(store):
    assert store.ingest(runs(3), actor=SYSTEM).ok
    store.queues.create(QueueSpec("q", sample_rate=0.5), actor=SYSTEM)
    with pytest.raises(Forbidden):
        store.queues.change("q", sample_rate=0.9, actor=Actor("lee", "lead"))
    store.queues.close("q", actor=SYSTEM)
    with pytest.raises(Conflict, match="queue q is closed"):
        store.queues.change("q", sample_rate=0.9, actor=SYSTEM)


def test_the_change_command(tmp_path, capsys):
    db = str(tmp_path / "q.duckdb")
    with open_store(db) as store:
        assert store.ingest(runs(20), actor=SYSTEM).ok
        store.queues.create(QueueSpec("q", sample_rate=0.1, seed=2), actor=SYSTEM)
    assert cli.main(["queue", "change", "q", "--sample-rate", "1", "--reviewers", "2", "--db", db]) == 0
    assert capsys.readouterr().out.strip() == "queue q: 20 items"
    assert cli.main(["queue", "change", "q", "--sample-rate", "0.5", "--db", db]) == 1
    assert "sample rate can only rise" in capsys.readouterr().err
    with open_store(db) as store:
        shown = store.queues.get("q", actor=SYSTEM)
    assert (shown["sample_rate"], shown["reviewers_per_item"], shown["items"]) == (1.0, 2, 20)
