"""The queues' agreement statistics against independent implementations (statsmodels' Fleiss' kappa, the
`krippendorff` package), on random tables and on the edge cases, and through a real store."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from data_layer.auth import SYSTEM, Actor
from data_layer.queues import QueueSpec, agreement


def pairs_of(table: np.ndarray) -> list[dict]:
    """Items' (good, bad) counts as the rows SQL returns: distinct pairs with how many items have each."""
    counted: dict[tuple[int, int], int] = {}
    for good, bad in table:
        counted[(int(good), int(bad))] = counted.get((int(good), int(bad)), 0) + 1
    return [{"good": g, "bad": b, "items": n} for (g, b), n in sorted(counted.items())]


def arrays(table: np.ndarray):
    rows = pairs_of(table)
    return tuple(np.array([row[key] for row in rows], dtype=float) for key in ("good", "bad", "items"))


def oracle_alpha(table: np.ndarray) -> float:
    return krippendorff.alpha(value_counts=table[table.sum(axis=1) >= 2], level_of_measurement="nominal")


@pytest.mark.parametrize("seed", range(25))
def test_fleiss_kappa_equals_statsmodels_on_random_tables(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    truth = rng.random(int(rng.integers(5, 200))) < rng.random()
    good = np.array([rng.binomial(k, 0.85 if t else 0.2) for t in truth])
    table = np.column_stack([good, k - good])
    expected = statsmodels_fleiss(table)
    found = agreement.fleiss_kappa(*arrays(table))
    if math.isnan(expected):
        assert found is None
    else:
        assert found == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(25))
def test_krippendorff_alpha_equals_the_package_with_varying_votes_per_item(seed):
    rng = np.random.default_rng(100 + seed)
    items = int(rng.integers(5, 150))
    votes = rng.integers(0, 6, size=items)  # some items with 0 or 1 vote: they compare nothing
    good = np.array([rng.binomial(v, rng.choice((0.1, 0.5, 0.9))) for v in votes])
    table = np.column_stack([good, votes - good])
    found = agreement.krippendorff_alpha(*arrays(table))
    if (table[table.sum(axis=1) >= 2].sum(axis=0) == 0).any() or table[table.sum(axis=1) >= 2].size == 0:
        assert found is None
    else:
        assert found == pytest.approx(oracle_alpha(table), abs=1e-12)


@pytest.mark.parametrize(
    ("table", "kappa", "alpha"),
    [
        # every item unanimous, both categories: perfect agreement
        (np.array([[3, 0], [0, 3], [3, 0], [0, 3]]), 1.0, 1.0),
        # every vote in one category: undefined, said so
        (np.array([[2, 0], [2, 0], [2, 0]]), None, None),
        # complete disagreement on every item
        (np.array([[1, 1], [1, 1], [1, 1]]), -1.0, None),
    ],
)
def test_the_edge_cases(table, kappa, alpha):
    assert agreement.fleiss_kappa(*arrays(table)) == (pytest.approx(kappa) if kappa is not None else None)
    found_alpha = agreement.krippendorff_alpha(*arrays(table))
    if alpha is None and kappa is None:
        assert found_alpha is None
    elif alpha is not None:
        assert found_alpha == pytest.approx(alpha)
    if kappa == -1.0:
        assert found_alpha == pytest.approx(oracle_alpha(table))


def test_missing_votes_leave_fleiss_to_the_complete_items_and_alpha_to_all():
    table = np.array([[2, 0], [0, 2], [2, 0], [1, 1], [1, 0], [3, 0], [0, 0]])
    found = agreement.measure(pairs_of(table), k=2)
    complete = table[table.sum(axis=1) == 2]
    assert found["items_with_k_votes"] == 4 and found["items_compared"] == 5
    assert found["fleiss_kappa"]["value"] == pytest.approx(statsmodels_fleiss(complete))
    assert found["krippendorff_alpha"]["value"] == pytest.approx(oracle_alpha(table))
    for name in ("fleiss_kappa", "krippendorff_alpha"):
        interval = found[name]
        assert interval["low"] <= interval["value"] <= interval["high"]


def test_through_a_store_with_the_reason_when_undefined(store):
    records = [{"kind": "thread", "thread_id": "t"}]
    records += [{"kind": "run", "run_id": f"r{n}", "thread_id": "t"} for n in range(8)]
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("q", sample_rate=1.0, reviewers_per_item=2), actor=SYSTEM)
    empty = store.queues.agreement("q", actor=SYSTEM)
    assert empty["fleiss_kappa"] == {"value": None, "low": None, "high": None, "reason": "no item has 2 votes yet"}
    ratings = {"ana": [1, 1, -1, -1, 1, 1, -1, 1], "bo": [1, 1, -1, 1, 1, -1, -1, 1]}
    for name, given in ratings.items():
        for n, rating in enumerate(given):
            store.queues.submit("q", f"r{n}", rating=rating, actor=Actor(name, "reviewer"))
    found = store.queues.agreement("q", actor=Actor("vi", "viewer"))
    table = np.array([[(a == 1) + (b == 1), (a == -1) + (b == -1)] for a, b in zip(*ratings.values(), strict=True)])
    assert found["fleiss_kappa"]["value"] == pytest.approx(statsmodels_fleiss(table))
    assert found["krippendorff_alpha"]["value"] == pytest.approx(oracle_alpha(table))
    assert found["items_compared"] == 8
