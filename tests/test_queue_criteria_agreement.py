"""Agreement per rubric criterion against independent implementations (statsmodels' Fleiss' kappa, the
`krippendorff` package at the nominal and the ordinal level), on random tables and on the edge cases,
and through a real store (its SQL grouping scores into profiles), the API and the CLI."""

from __future__ import annotations

import json
import math

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from data_layer.auth import SYSTEM, Actor
from data_layer.errors import InvalidInput
from data_layer.queues import QueueSpec, agreement, criteria_agreement
from data_layer.queues.rubric import Rubric

RUBRIC = [
    {"name": "factual", "kind": "binary", "required": True},
    {"name": "helpfulness", "kind": "ordinal"},
    {"name": "tone", "kind": "categorical", "options": ["warm", "neutral", "curt"]},
]


def profiles(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items' counts per category as distinct profiles with how many items have each, as SQL groups them."""
    found, weight = np.unique(table, axis=0, return_counts=True)
    return found.astype(float), weight.astype(float)


def oracle_alpha(table: np.ndarray, level: str) -> float:
    return krippendorff.alpha(value_counts=table[table.sum(axis=1) >= 2], level_of_measurement=level)


def value(values: np.ndarray) -> float | None:
    return None if math.isnan(values[0]) else float(values[0])


@pytest.mark.parametrize("seed", range(20))
def test_fleiss_kappa_on_several_categories_equals_statsmodels(seed):
    rng = np.random.default_rng(300 + seed)
    k, categories = int(rng.integers(2, 6)), int(rng.integers(2, 7))
    truth = rng.integers(0, categories, size=int(rng.integers(5, 150)))
    table = np.zeros((len(truth), categories), dtype=int)
    for row, true in enumerate(truth):
        for _ in range(k):
            table[row, true if rng.random() < 0.7 else rng.integers(0, categories)] += 1
    found = value(agreement.fleiss(*profiles(table)))
    assert found == pytest.approx(statsmodels_fleiss(table), abs=1e-12)


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
@pytest.mark.parametrize("seed", range(20))
def test_krippendorff_alpha_equals_the_package_with_varying_scores_per_item(seed, level):
    rng = np.random.default_rng(500 + seed)
    categories = 5 if level == "ordinal" else int(rng.integers(2, 7))
    items = int(rng.integers(5, 120))
    table = np.zeros((items, categories), dtype=int)
    for row in range(items):
        centre = rng.integers(0, categories)
        for _ in range(int(rng.integers(0, 6))):  # 0 or 1 score on some items: they compare nothing
            table[row, int(np.clip(centre + rng.integers(-1, 2), 0, categories - 1))] += 1
    pairable = table[table.sum(axis=1) >= 2]
    found = value(agreement.alpha(*profiles(table), level))
    if len(pairable) == 0 or (pairable.sum(axis=0) > 0).sum() < 2:
        assert found is None
    else:
        assert found == pytest.approx(oracle_alpha(table, level), abs=1e-12)


def test_ordinal_alpha_counts_near_misses_as_less_disagreement_than_nominal():
    near = np.array([[0, 1, 1, 0, 0], [0, 0, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 2, 0]])
    ordinal, nominal = value(agreement.alpha(*profiles(near), "ordinal")), value(agreement.alpha(*profiles(near)))
    assert ordinal == pytest.approx(oracle_alpha(near, "ordinal"))
    assert nominal == pytest.approx(oracle_alpha(near, "nominal"))
    assert ordinal > 0.5 > nominal


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_the_edge_cases(level):
    all_agree = np.array([[3, 0, 0, 0, 0], [0, 0, 3, 0, 0], [0, 0, 0, 0, 3], [3, 0, 0, 0, 0]])
    found = agreement.statistics(*profiles(all_agree), 3, level=level, unit="scores")
    assert found["fleiss_kappa"]["value"] == pytest.approx(statsmodels_fleiss(all_agree)) == pytest.approx(1.0)
    assert found["krippendorff_alpha"]["value"] == pytest.approx(oracle_alpha(all_agree, level)) == 1.0
    one_category = np.array([[0, 2, 0, 0, 0]] * 4)
    found = agreement.statistics(*profiles(one_category), 2, level=level, unit="scores")
    with np.errstate(invalid="ignore"):
        assert math.isnan(statsmodels_fleiss(one_category))
    for name in ("fleiss_kappa", "krippendorff_alpha"):
        assert found[name] == {
            "value": None,
            "low": None,
            "high": None,
            "reason": "every score is in one category: agreement beyond chance cannot be told",
        }
    # missing scores: an optional criterion left out by some reviewers
    missing = np.array([[2, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 2, 0], [0, 0, 0, 0, 0]])
    found = agreement.statistics(*profiles(missing), 2, level=level, unit="scores")
    complete = missing[missing.sum(axis=1) == 2]
    assert found["items_with_k_votes"] == 3 and found["items_compared"] == 3
    assert found["fleiss_kappa"]["value"] == pytest.approx(statsmodels_fleiss(complete))
    assert found["krippendorff_alpha"]["value"] == pytest.approx(oracle_alpha(missing, level))
    nothing = agreement.statistics(np.zeros((0, 5)), np.zeros(0), 2, level=level, unit="scores")
    assert nothing["fleiss_kappa"]["reason"] == "no item has 2 scores yet"
    assert nothing["krippendorff_alpha"]["reason"] == "no item has two scores yet"


def test_the_bootstrap_interval_holds_the_value_and_is_reproducible():
    rng = np.random.default_rng(7)
    table = np.array([np.bincount(rng.integers(0, 3, size=3), minlength=3) for _ in range(60)])
    first = agreement.statistics(*profiles(table), 3, unit="scores")
    assert first == agreement.statistics(*profiles(table), 3, unit="scores")
    for name in ("fleiss_kappa", "krippendorff_alpha"):
        assert first[name]["low"] < first[name]["value"] < first[name]["high"]


def test_a_stored_value_the_criterion_does_not_know_is_left_out():
    tone = Rubric.of(RUBRIC).get("tone")
    counts, weight = criteria_agreement.table(
        tone, [{"scored": ["curt", "rude", "warm"], "counts": [1, 4, 2], "items": 3}]
    )
    assert counts.tolist() == [[2.0, 0.0, 1.0]] and weight.tolist() == [3.0]


SCORES = {  # run -> each reviewer's (rating, scores); None: no vote
    "r0": [(1, {"factual": True, "helpfulness": 5, "tone": "warm"}), (1, {"factual": True, "helpfulness": 4})],
    "r1": [(-1, {"factual": False, "helpfulness": 1, "tone": "curt"}), (-1, {"factual": False, "helpfulness": 2})],
    "r2": [(1, {"factual": True, "helpfulness": 4, "tone": "neutral"}), (-1, {"factual": False, "tone": "curt"})],
    "r3": [(1, {"factual": True, "helpfulness": 3, "tone": "warm"}), (1, {"factual": True, "helpfulness": 3})],
    "r4": [(-1, {"factual": False, "helpfulness": 2, "tone": "neutral"}), None],
    "r5": [(1, {"factual": True, "helpfulness": 5, "tone": "warm"}), (1, {"factual": True, "tone": "warm"})],
}


def expected_table(name: str, values: list) -> np.ndarray:
    rows = []
    for votes in SCORES.values():
        given = [scores[name] for vote in votes if vote for scores in [vote[1]] if name in scores]
        rows.append([sum(1 for v in given if v == value) for value in values])
    return np.array(rows)


def seed(store):
    records = [{"kind": "thread", "thread_id": "t"}]
    records += [{"kind": "run", "run_id": run, "thread_id": "t"} for run in SCORES]
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("q", sample_rate=1.0, reviewers_per_item=2, rubric=RUBRIC), actor=SYSTEM)
    for run, votes in SCORES.items():
        for reviewer, vote in zip(("ana", "bo"), votes, strict=True):
            if vote:
                store.queues.submit("q", run, rating=vote[0], scores=vote[1], actor=Actor(reviewer, "reviewer"))
    # an end user's vote is no reviewer's: its scores count for nothing here
    store.feedback.upsert(
        thread_id="t",
        run_id="r4",
        rating=1,
        owner_id="user-1",
        source="end_user",
        scores=SCORES["r4"][0][1],
        actor=SYSTEM,
    )
    return store


@pytest.fixture
def scored(store):
    return seed(store)


def test_through_a_store_per_criterion(scored):
    found = scored.queues.agreement("q", actor=Actor("vi", "viewer"))
    by_name = {row["criterion"]: row for row in found["criteria"]}
    assert [row["criterion"] for row in found["criteria"]] == ["factual", "helpfulness", "tone"]
    assert [(row["kind"], row["level"]) for row in found["criteria"]] == [
        ("binary", "nominal"),
        ("ordinal", "ordinal"),
        ("categorical", "nominal"),
    ]
    for name, values, level in (
        ("factual", [False, True], "nominal"),
        ("helpfulness", [1, 2, 3, 4, 5], "ordinal"),
        ("tone", ["warm", "neutral", "curt"], "nominal"),
    ):
        table = expected_table(name, values)
        row = by_name[name]
        assert row["items_compared"] == int((table.sum(axis=1) >= 2).sum()), name
        assert row["items_with_k_votes"] == int((table.sum(axis=1) == 2).sum()), name
        complete = table[table.sum(axis=1) == 2]
        assert row["fleiss_kappa"]["value"] == pytest.approx(statsmodels_fleiss(complete)), name
        assert row["krippendorff_alpha"]["value"] == pytest.approx(oracle_alpha(table, level)), name
    assert by_name["factual"]["items_compared"] == 5
    assert by_name["tone"]["items_compared"] == 2
    # the thumbs' agreement is still there beside the criteria
    assert found["items_compared"] == 5 and found["fleiss_kappa"]["value"] is not None


def test_a_queue_without_a_rubric_has_no_criteria(store):
    records = [{"kind": "thread", "thread_id": "t"}, {"kind": "run", "run_id": "r0", "thread_id": "t"}]
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("plain", sample_rate=1.0, reviewers_per_item=2), actor=SYSTEM)
    assert store.queues.agreement("plain", actor=SYSTEM)["criteria"] == []


def test_a_criterion_nobody_scored_says_why(store):
    records = [{"kind": "thread", "thread_id": "t"}, {"kind": "run", "run_id": "r0", "thread_id": "t"}]
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("q", sample_rate=1.0, reviewers_per_item=2, rubric=RUBRIC[2:]), actor=SYSTEM)
    (tone,) = store.queues.agreement("q", actor=SYSTEM)["criteria"]
    assert tone["items_compared"] == 0
    assert tone["fleiss_kappa"]["reason"] == "no item has 2 scores yet"
    assert tone["krippendorff_alpha"]["reason"] == "no item has two scores yet"
    with pytest.raises(InvalidInput):
        QueueSpec("bad", sample_rate=1.0, rubric=[{"name": "tone", "kind": "ordinal", "options": ["a", "b"]}])


def test_the_cli_and_the_api_show_the_criteria(store_url, capsys):
    from data_layer import cli, open_store

    with open_store(store_url) as store:
        seed(store)
    assert cli.main(["queue", "show", "q", "--db", store_url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [row["criterion"] for row in shown["agreement"]["criteria"]] == ["factual", "helpfulness", "tone"]
    assert shown["agreement"]["criteria"][1]["level"] == "ordinal"
