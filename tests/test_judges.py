"""LLM judges: their verdicts kept apart from people's, and each judge's hit rates and corrected pass
rate against the reviewers' consensus, on both engines."""

from __future__ import annotations

import json

import pytest

from data_layer import open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Forbidden, InvalidInput, NotFound
from data_layer.queues import QueueSpec
from tests.test_queues import cli, runs, vote

JUDGE = "helpfulness-v3@gpt-4.1"


def verdict(store, run_id: str, rating: int, judge: str = JUDGE, actor=SYSTEM, **fields) -> dict:
    thread = run_id.rsplit("-", 1)[0] + f"-t{int(run_id.rsplit('-', 1)[1]) // 10}"
    return store.judges.put(judge=judge, thread_id=thread, run_id=run_id, rating=rating, actor=actor, **fields)


@pytest.fixture
def calibrated(store):
    """40 runs: 30 in a random sample (closed before the others arrived), 10 picked by a selection;
    people judged 24 of the sampled runs and 4 of the others; the judge judged all 40."""
    assert store.ingest(runs(30, prefix="s"), actor=SYSTEM).ok
    store.queues.create(QueueSpec("sample", sample_rate=1.0), actor=SYSTEM)
    store.queues.close("sample", actor=SYSTEM)
    assert store.ingest(runs(10, prefix="c", assistant="a2"), actor=SYSTEM).ok
    store.queues.create(QueueSpec("picked", selection={"assistant_id": "a2"}), actor=SYSTEM)
    # sampled: 16 good (judge says good on 14), 8 bad (judge says good on 2), 6 unrated (judge good on 3)
    people = [1] * 16 + [-1] * 8
    judge = [1] * 14 + [-1] * 2 + [1] * 2 + [-1] * 6 + [1] * 3 + [-1] * 3
    assert store.ingest([vote(f"s-{n}", "ana", rating) for n, rating in enumerate(people)], actor=SYSTEM).ok
    # picked (not sampled): 4 bad that the judge calls good: they count only when every run counts
    assert store.ingest([vote(f"c-{n}", "ana", -1) for n in range(4)], actor=SYSTEM).ok
    for n, rating in enumerate(judge):
        verdict(store, f"s-{n}", rating, rationale=f"reason {n}")
    for n in range(10):
        verdict(store, f"c-{n}", 1)
    return store


def test_a_judge_is_calibrated_on_the_sampled_runs_people_rated(calibrated):
    (found,) = calibrated.judges.summary(actor=SYSTEM)
    assert found["judge"] == JUDGE
    assert found["table"] == {"tp": 14, "fn": 2, "fp": 2, "tn": 6}
    assert (found["judged_runs"], found["calibration_runs"]) == (40, 24)
    assert found["raw_rate"] == pytest.approx(29 / 40)
    assert found["sensitivity"] == pytest.approx(14 / 16) and found["specificity"] == pytest.approx(6 / 8)
    se, sp = 14 / 16, 6 / 8
    assert found["corrected_rate"] == pytest.approx((29 / 40 + sp - 1) / (se + sp - 1))
    assert found["corrected_low"] < found["corrected_rate"] < found["corrected_high"]
    (every,) = calibrated.judges.summary(actor=SYSTEM, sampled_only=False)
    assert every["table"] == {"tp": 14, "fn": 2, "fp": 6, "tn": 6}


def test_the_numbers_split_by_assistant_and_the_disagreements(calibrated):
    found = calibrated.judges.calibration(JUDGE, by="assistant_id", sampled_only=False, actor=SYSTEM)
    groups = {group["assistant_id"]: group for group in found["groups"]}
    assert groups["a1"]["table"] == {"tp": 14, "fn": 2, "fp": 2, "tn": 6}
    assert groups["a2"]["table"] == {"tp": 0, "fn": 0, "fp": 4, "tn": 0}
    assert groups["a2"]["corrected_rate"] is None and "rated good" in groups["a2"]["reason"]
    listed = calibrated.judges.disagreements(JUDGE, actor=SYSTEM, limit=100)
    assert sorted(row["run_id"] for row in listed) == sorted(
        ["s-14", "s-15", "s-16", "s-17", "c-0", "c-1", "c-2", "c-3"]
    )
    by_run = {row["run_id"]: row for row in listed}
    assert (by_run["s-14"]["judge_rating"], by_run["s-14"]["people"], by_run["s-14"]["rationale"]) == (
        -1,
        "good",
        "reason 14",
    )
    sampled = calibrated.judges.disagreements(JUDGE, sampled_only=True, actor=SYSTEM)
    assert {row["run_id"] for row in sampled} == {"s-14", "s-15", "s-16", "s-17"}


def test_judge_verdicts_never_count_as_peoples_votes(calibrated):
    items = {item["run_id"]: item for item in calibrated.queues.items("sample", actor=SYSTEM, limit=100)}
    assert items["s-26"]["votes"] == 0 and items["s-26"]["consensus"] is None
    assert calibrated.queues.estimate("sample", actor=SYSTEM)["rated_items"] == 24
    assert [v["source"] for v in calibrated.feedback.list_by_run("s-t0", "s-0", actor=SYSTEM)] == ["reviewer"]
    assert calibrated.feedback.aggregate_by_run("s-t2", "s-26", actor=SYSTEM)["total"] == 0
    thread = calibrated.threads.get("s-t2")
    assert (thread["positive"], thread["negative"]) == (0, 4)  # the people's 4; the judge's 10 are not counted


def test_one_verdict_per_judge_and_target_a_new_version_is_a_new_judge(calibrated):
    again = verdict(calibrated, "s-0", -1, rationale="changed my mind")
    assert (again["rating"], again["rationale"], again["source"], again["owner_id"]) == (
        -1,
        "changed my mind",
        "judge",
        JUDGE,
    )
    verdict(calibrated, "s-0", 1, judge="helpfulness-v4@gpt-4.1")
    on_thread = calibrated.judges.for_thread("s-t0", actor=SYSTEM)
    assert sorted((v["judge"], v["run_id"], v["rating"]) for v in on_thread if v["run_id"] == "s-0") == [
        (JUDGE, "s-0", -1),
        ("helpfulness-v4@gpt-4.1", "s-0", 1),
    ]
    assert [j["judge"] for j in calibrated.judges.summary(actor=SYSTEM)] == [JUDGE, "helpfulness-v4@gpt-4.1"]


def test_a_judge_writes_under_its_own_name_alone(calibrated):
    me = Actor(JUDGE, "judge")
    assert verdict(calibrated, "s-1", -1, actor=me)["rating"] == -1
    with pytest.raises(Forbidden, match="as judge other@x"):
        verdict(calibrated, "s-1", -1, judge="other@x", actor=me)
    with pytest.raises(Forbidden):
        verdict(calibrated, "s-1", -1, actor=Actor("ana", "reviewer"))
    with pytest.raises(Forbidden):
        calibrated.judges.summary(actor=me)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"rating": 0}, InvalidInput, "rating"),
        ({"judge": "has space"}, InvalidInput, "judge"),
        ({"run_id": "c-1"}, NotFound, "run c-1 not found in thread s-t0"),
        ({"message_id": "nope"}, NotFound, "message nope"),
        ({"scores": [1]}, InvalidInput, "scores must be an object"),
    ],
)
def test_a_bad_verdict_is_refused_naming_what_and_changes_nothing(calibrated, fields, error, message):
    before = calibrated.judges.for_thread("s-t0", actor=SYSTEM)
    request = {"judge": JUDGE, "thread_id": "s-t0", "run_id": "s-1", "rating": 1, **fields}
    with pytest.raises(error, match=message):
        calibrated.judges.put(**request, actor=SYSTEM)
    assert calibrated.judges.for_thread("s-t0", actor=SYSTEM) == before


def test_an_unknown_judge_is_not_found(calibrated):
    with pytest.raises(NotFound, match="judge nobody@x"):
        calibrated.judges.calibration("nobody@x", actor=SYSTEM)
    with pytest.raises(InvalidInput, match="split by one of"):
        calibrated.judges.calibration(JUDGE, by="owner_id", actor=SYSTEM)


@pytest.mark.slow
def test_the_judges_command(tmp_path):
    db = str(tmp_path / "j.duckdb")
    with open_store(db) as store:
        assert store.ingest(runs(20), actor=SYSTEM).ok
        store.queues.create(QueueSpec("all", sample_rate=1.0), actor=SYSTEM)
        assert store.ingest([vote(f"r-{n}", "ana", 1 if n < 12 else -1) for n in range(20)], actor=SYSTEM).ok
        for n in range(20):
            verdict(store, f"r-{n}", 1 if n < 11 or n == 19 else -1)
        verdict(store, "r-0", 1, judge="coin@x")
    found = cli("judges", "--json", "--db", db)
    assert found.returncode == 0, found.stderr
    by_judge = {judge["judge"]: judge for judge in json.loads(found.stdout)}
    assert set(by_judge[JUDGE]) == {
        "judge",
        "judged_runs",
        "raw_rate",
        "calibration_runs",
        "sensitivity",
        "specificity",
        "kappa",
        "corrected_rate",
        "corrected_low",
        "corrected_high",
        "reason",
    }
    mine = by_judge[JUDGE]
    assert (mine["judged_runs"], mine["calibration_runs"]) == (20, 20)
    assert (mine["sensitivity"], mine["specificity"]) == pytest.approx((11 / 12, 7 / 8))
    assert mine["corrected_rate"] == pytest.approx((12 / 20 + 7 / 8 - 1) / (11 / 12 + 7 / 8 - 1))
    assert (
        by_judge["coin@x"]["corrected_rate"] is None
        and "no calibration run that people rated bad" in (by_judge["coin@x"]["reason"])
    )
    text = cli("judges", "--db", db).stdout
    assert f"{JUDGE}: 20 runs, raw 60.0% good, corrected" in text and "coin@x: 1 runs" in text


def test_b_against_a_by_a_judge_raw_and_corrected(calibrated):
    found = calibrated.judges.compare(JUDGE, {"assistant_id": "a1"}, {"assistant_id": "a2"}, actor=SYSTEM)
    raw, corrected = found["raw"], found["corrected"]
    assert (raw["a"]["votes"], raw["a"]["positive"], raw["b"]["votes"], raw["b"]["positive"]) == (30, 19, 10, 10)
    se, sp = 14 / 16, 6 / 8
    assert corrected["a"]["corrected_rate"] == pytest.approx((19 / 30 + sp - 1) / (se + sp - 1))
    assert corrected["b"]["corrected_rate"] == 1.0  # clipped: the judge called every a2 run good
    assert corrected["difference"] == pytest.approx((10 / 10 - 19 / 30) / (se + sp - 1))
    assert corrected["difference_low"] == pytest.approx(raw["difference_low"] / (se + sp - 1))
