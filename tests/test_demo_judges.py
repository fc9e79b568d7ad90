"""The demo's two LLM judges, and `JudgeRepo.put_many` that writes them: many verdicts in one
transaction, checked like one, all or none, on both engines."""

from __future__ import annotations

import json

import pytest

from data_layer import demo, demo_judges, open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Forbidden, InvalidInput, NotFound
from tests.test_queues import cli, runs

JUDGE = "helpfulness-v3@gpt-4.1"


def verdict(run: int, rating: int = 1, judge: str = JUDGE, **fields) -> dict:
    return {"judge": judge, "thread_id": f"r-t{run // 10}", "run_id": f"r-{run}", "rating": rating, **fields}


def stored(store) -> dict[tuple[str, str], tuple[int, str | None]]:
    votes = store.judges.for_thread("r-t0", actor=SYSTEM) + store.judges.for_thread("r-t1", actor=SYSTEM)
    return {(vote["judge"], vote["run_id"]): (vote["rating"], vote["rationale"]) for vote in votes}


def test_many_verdicts_are_written_in_one_go_and_replace_earlier_ones(store):
    assert store.ingest(runs(20), actor=SYSTEM).ok
    written = store.judges.put_many(
        [verdict(n, 1 if n % 3 else -1, rationale=f"why {n}") for n in range(20)]
        + [verdict(4, -1, judge="other-v1@m", scores={"factual": False})],
        actor=SYSTEM,
    )
    assert written == 21
    votes = stored(store)
    assert len(votes) == 21
    assert votes[JUDGE, "r-0"] == (-1, "why 0") and votes[JUDGE, "r-7"] == (1, "why 7")
    (other,) = [vote for vote in store.judges.for_thread("r-t0", actor=SYSTEM) if vote["judge"] == "other-v1@m"]
    assert other["scores"] == {"factual": False} and other["source"] == "judge"
    # the last verdict on a target wins, within a call and over an earlier one
    assert store.judges.put_many([verdict(0, 1, rationale="first"), verdict(0, 1, rationale="second")], actor=SYSTEM)
    assert stored(store)[JUDGE, "r-0"] == (1, "second") and len(stored(store)) == 21
    (summary,) = [row for row in store.judges.summary(actor=SYSTEM) if row["judge"] == JUDGE]
    assert summary["judged_runs"] == 20 and summary["raw_rate"] == pytest.approx(14 / 20)
    assert store.judges.put_many([], actor=SYSTEM) == 0


@pytest.mark.parametrize(
    ("bad", "error", "words"),
    [
        (verdict(25), NotFound, "thread r-t2 not found"),
        ({**verdict(3), "thread_id": "r-t1"}, NotFound, "run r-3 not found in thread r-t1"),
        (verdict(3, message_id="msg-nowhere"), NotFound, "message msg-nowhere not found in run r-3"),
        (verdict(3, rating=2), InvalidInput, "verdict 2: rating must be 1 or -1"),
        (verdict(3, verdict="good"), InvalidInput, "verdict 2: an object of"),
        ({"judge": JUDGE, "run_id": "r-3", "rating": 1}, InvalidInput, "verdict 2: an object of"),
        (verdict(3, scores=["factual"]), InvalidInput, "verdict 2: scores must be an object"),
        ("r-3", InvalidInput, "verdict 2"),
    ],
)
def test_one_bad_verdict_stores_none_of_them(store, bad, error, words):
    assert store.ingest(runs(20), actor=SYSTEM).ok
    with pytest.raises(error, match=words):
        store.judges.put_many([verdict(1), bad, verdict(2)], actor=SYSTEM)
    assert stored(store) == {}


def test_a_judge_writes_many_verdicts_under_its_own_name_only(store):
    assert store.ingest(runs(20), actor=SYSTEM).ok
    judge = Actor(JUDGE, "judge")
    assert store.judges.put_many([verdict(n) for n in range(3)], actor=judge) == 3
    with pytest.raises(Forbidden, match="verdict 2: .* may not give verdicts as judge other-v1@m"):
        store.judges.put_many([verdict(5), verdict(6, judge="other-v1@m")], actor=judge)
    with pytest.raises(Forbidden):
        store.judges.put_many([verdict(5)], actor=Actor("ana", "reviewer"))
    assert set(stored(store)) == {(JUDGE, f"r-{n}") for n in range(3)}


def test_the_demo_judges_are_the_same_for_the_same_seed():
    records = demo.generate(threads=30, seed=3)
    first = demo_judges.verdicts(records, {}, 3)
    assert first == demo_judges.verdicts(records, {}, 3)
    assert first != demo_judges.verdicts(records, {}, 4)
    run_count = sum(record["kind"] == "run" for record in records)
    for judge in demo_judges.JUDGES:
        mine = [verdict for verdict in first if verdict["judge"] == judge]
        assert 0.8 * run_count < len(mine) < run_count  # most runs, not all
        assert all(verdict["rationale"] for verdict in mine)


@pytest.mark.slow
def test_the_demo_calibrates_one_judge_close_to_people_and_one_lenient(tmp_path):
    db = str(tmp_path / "demo.duckdb")
    made = cli("demo", "--db", db)
    assert made.returncode == 0, made.stderr
    listed = cli("judges", "--json", "--db", db)
    judges = {row["judge"]: row for row in json.loads(listed.stdout)}
    assert set(judges) == set(demo_judges.JUDGES)
    close, lenient = judges["helpfulness-v1@gpt-4.1"], judges["lenient-v1@small-model"]
    for numbers in (close, lenient):
        assert numbers["reason"] is None and numbers["calibration_runs"] >= 50
        assert numbers["corrected_low"] <= numbers["corrected_rate"] <= numbers["corrected_high"]
    assert close["sensitivity"] > 0.85 and close["specificity"] > 0.85 and close["kappa"] > 0.7
    assert abs(close["corrected_rate"] - close["raw_rate"]) < 0.05
    assert lenient["sensitivity"] > 0.9 and lenient["specificity"] < 0.6
    assert lenient["corrected_rate"] < lenient["raw_rate"] - 0.1
    # both judges' corrected rates agree with the sample's own estimate of the share of good runs
    with open_store(db) as store:
        estimate = store.queues.estimate(demo_judges.CALIBRATION.name, actor=SYSTEM)["estimate"]
    for numbers in (close, lenient):
        assert numbers["corrected_low"] < estimate < numbers["corrected_high"]
