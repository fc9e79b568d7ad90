"""A judge against the reviewers criterion by criterion, on both engines, against tables worked out by
hand: a binary criterion's 2x2 table, hit rates with Wilson intervals and kappa; an ordinal and a
categorical one's exact-match rate; the runs that count (a reviewers' tie, a score the judge alone gave,
a run outside the random sample) and the ones that do not."""

from __future__ import annotations

import math

import pytest

from data_layer.auth import SYSTEM
from data_layer.judges import criteria
from data_layer.queues import QueueSpec
from tests.test_queues import runs, vote

JUDGE = "helpfulness-v3@gpt-4.1"
RUBRIC = [
    {"name": "factual", "kind": "binary"},
    {"name": "clarity", "kind": "ordinal"},
    {"name": "tone", "kind": "categorical", "options": ["friendly", "neutral", "curt"]},
]
# The reviewers' scores per run and reviewer; their majority per criterion is in the comment.
PEOPLE = {
    "s-0": {"ana": {"factual": "yes", "clarity": 4, "tone": "friendly"},  # yes, 4, friendly
            "bo": {"factual": "yes", "clarity": 4, "tone": "curt"},
            "cy": {"factual": "no", "clarity": 2, "tone": "friendly"}},
    "s-1": {"ana": {"factual": True, "clarity": 3, "tone": "neutral"}},  # yes, 3, neutral
    "s-2": {"ana": {"factual": "yes", "clarity": 5}, "bo": {"factual": "yes", "clarity": 1}},  # yes, a tie
    "s-3": {"ana": {"factual": "yes", "clarity": 2}, "bo": {"factual": "yes", "clarity": 2}},  # yes, 2
    "s-4": {"ana": {"factual": "yes"}},
    "s-5": {"ana": {"factual": "yes"}},
    "s-6": {"ana": {"factual": "no"}},
    "s-7": {"ana": {"factual": "no"}},
    "s-8": {"ana": {"factual": "no"}},
    "s-9": {"ana": {"factual": "no"}},
    "s-10": {"ana": {"factual": "yes"}, "bo": {"factual": "no"}},  # a tie: no majority
    "s-11": {"ana": {"clarity": 3}},  # no factual score
    "c-0": {"ana": {"factual": "yes"}},  # picked, not sampled
}  # fmt: skip
JUDGED = {
    "s-0": {"factual": True, "clarity": 4, "tone": "friendly", "style": "terse"},  # tp; match; match
    "s-1": {"factual": "yes", "clarity": "3", "tone": "Neutral"},  # tp; match; no match
    "s-2": {"factual": True, "clarity": 5},  # tp; (tie)
    "s-3": {"factual": True, "clarity": 5},  # tp; no match
    "s-4": {"factual": False},  # fn
    "s-5": {"factual": "no"},  # fn
    "s-6": {"factual": True},  # fp
    "s-7": {"factual": False},  # tn
    "s-8": {"factual": False},  # tn
    "s-9": {"factual": False},  # tn
    "s-10": {"factual": True},  # (tie)
    "s-11": {"factual": True},  # (people gave none)
    "c-0": {"factual": False},  # fn, only when every run counts
}


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4)
    return centre - half, centre + half


@pytest.fixture
def scored(store):
    assert store.ingest(runs(12, prefix="s"), actor=SYSTEM).ok
    store.queues.create(QueueSpec("graded", sample_rate=1.0, rubric=RUBRIC), actor=SYSTEM)
    store.queues.close("graded", actor=SYSTEM)
    assert store.ingest(runs(1, prefix="c", assistant="a2"), actor=SYSTEM).ok
    store.queues.create(QueueSpec("picked", selection={"assistant_id": "a2"}, rubric=RUBRIC), actor=SYSTEM)
    votes = [
        {**vote(run, owner, 1), "scores": scores} for run, given in PEOPLE.items() for owner, scores in given.items()
    ]
    # an end user's scores are no reviewer's: counted, they would tie s-6
    votes.append({**vote("s-6", "eu", 1, "end_user"), "scores": {"factual": "yes"}})
    report = store.ingest(votes, actor=SYSTEM)
    assert report.ok, report.summary()
    for run, scores in JUDGED.items():
        prefix, number = run.rsplit("-", 1)
        thread = f"{prefix}-t{int(number) // 10}"
        store.judges.put(judge=JUDGE, thread_id=thread, run_id=run, rating=1, scores=scores, actor=SYSTEM)
    return store


def test_a_binary_criterion_gets_the_judges_table_hit_rates_and_kappa(scored):
    found = {row["criterion"]: row for row in scored.judges.calibration(JUDGE, actor=SYSTEM)["criteria"]}
    assert sorted(found) == ["clarity", "factual", "tone"]  # `style`: the reviewers scored none
    factual = found["factual"]
    assert (factual["kind"], factual["runs"]) == ("binary", 10)
    assert factual["table"] == {"tp": 4, "fn": 2, "fp": 1, "tn": 3}
    assert factual["sensitivity"] == pytest.approx(4 / 6) and factual["specificity"] == pytest.approx(3 / 4)
    assert (factual["sensitivity_low"], factual["sensitivity_high"]) == pytest.approx(wilson(4, 6))
    assert (factual["specificity_low"], factual["specificity_high"]) == pytest.approx(wilson(3, 4))
    # observed agreement 7/10; by chance 5/10 * 6/10 + 5/10 * 4/10 = 1/2; kappa (0.7 - 0.5) / 0.5
    assert factual["kappa"] == pytest.approx(0.4)
    assert factual["kappa_low"] < 0.4 < factual["kappa_high"]


def test_ordinal_and_categorical_criteria_get_the_exact_match_rate(scored):
    found = {row["criterion"]: row for row in scored.judges.calibration(JUDGE, actor=SYSTEM)["criteria"]}
    clarity, tone = found["clarity"], found["tone"]
    assert (clarity["kind"], clarity["runs"], clarity["matches"]) == ("ordinal", 3, 2)
    assert clarity["match_rate"] == pytest.approx(2 / 3)
    assert (clarity["match_low"], clarity["match_high"]) == pytest.approx(wilson(2, 3))
    assert (tone["kind"], tone["runs"], tone["matches"], tone["match_rate"]) == ("categorical", 2, 1, 0.5)
    assert "table" not in clarity and "matches" not in found["factual"]


def test_every_run_people_scored_counts_when_asked(scored):
    every = scored.judges.calibration(JUDGE, sampled_only=False, actor=SYSTEM)
    factual = next(row for row in every["criteria"] if row["criterion"] == "factual")
    assert factual["table"] == {"tp": 4, "fn": 3, "fp": 1, "tn": 3}


def test_a_judge_without_scores_has_no_criteria(store):
    assert store.ingest(runs(2), actor=SYSTEM).ok
    store.judges.put(judge=JUDGE, thread_id="r-t0", run_id="r-0", rating=1, actor=SYSTEM)
    assert store.judges.calibration(JUDGE, sampled_only=False, actor=SYSTEM)["criteria"] == []


def test_by_criterion_on_rows_alone():
    people = [
        {"run_id": "a", "criterion": "factual", "kind": "binary", "value": "yes"},
        {"run_id": "b", "criterion": "factual", "kind": "binary", "value": "no"},
    ]
    judged = [{"run_id": "a", "scores": '{"factual": "maybe"}'}, {"run_id": "b", "scores": {"factual": False}}]
    (only,) = criteria.by_criterion(judged, people)
    # "maybe" is no binary score: run a does not count
    assert (only["runs"], only["table"]) == (1, {"tp": 0, "fn": 0, "fp": 0, "tn": 1})
    assert only["sensitivity"] is None and only["specificity"] == 1.0
    assert criteria.by_criterion([], people) == []
