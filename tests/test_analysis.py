"""The statistics of data_layer.analysis, each checked against an independent computation."""

from __future__ import annotations

import math
import random

import pytest
from scipy import integrate, stats

from data_layer import analysis


def test_wilson_matches_the_hand_computed_bounds():
    # 8 of 10, z = 1.96: centre (0.8 + 0.192) / 1.384, half 1.96 * sqrt(0.016 + 0.009604) / 1.384
    z = analysis.Z95
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.8 * 0.2 / 10 + z * z / 400) / (1 + z * z / 10)
    low, high = analysis.wilson(8, 10)
    assert low == pytest.approx(centre - half) and low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(centre + half) and high == pytest.approx(0.9433, abs=1e-4)
    assert analysis.wilson(0, 0) == (None, None)
    assert analysis.wilson(0, 5)[0] == 0.0 and analysis.wilson(5, 5)[1] == 1.0


def test_difference_interval_reproduces_newcombe_1998():
    # Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339
    difference, low, high = analysis.difference_interval(48, 80, 56, 70)
    assert difference == pytest.approx(0.2)
    assert low == pytest.approx(0.0524, abs=5e-4) and high == pytest.approx(0.3339, abs=5e-4)
    assert analysis.difference_interval(0, 0, 3, 4) == (None, None, None)


@pytest.mark.parametrize("counts", [(3, 9, 8, 10), (0, 5, 5, 5), (1, 12, 0, 7)])
def test_small_counts_use_fishers_exact_test(counts):
    ap, an, bp, bn = counts
    result = analysis.two_sided_test(ap, an, bp, bn)
    assert result["method"] == "fisher"
    assert result["p_value"] == pytest.approx(stats.fisher_exact([[ap, an - ap], [bp, bn - bp]]).pvalue)


@pytest.mark.parametrize("counts", [(60, 100, 75, 100), (400, 800, 410, 790), (30, 60, 30, 60)])
def test_large_counts_use_the_z_test_equal_to_chi_square_without_correction(counts):
    ap, an, bp, bn = counts
    result = analysis.two_sided_test(ap, an, bp, bn)
    expected = stats.chi2_contingency([[ap, an - ap], [bp, bn - bp]], correction=False).pvalue
    assert result["method"] == "z" and result["p_value"] == pytest.approx(expected)


def test_tests_edge_cases():
    assert analysis.two_sided_test(0, 0, 5, 9) == {"method": None, "p_value": None}
    assert analysis.two_sided_test(40, 40, 50, 50)["p_value"] == pytest.approx(1.0)  # every vote the same
    assert analysis.two_sided_test(20, 40, 20, 40)["p_value"] == pytest.approx(1.0)  # a tie


@pytest.mark.parametrize("counts", [(0, 0, 0, 0), (3, 10, 7, 10), (50, 120, 61, 118), (12, 12, 0, 3)])
def test_posterior_probability_matches_numerical_integration_of_the_beta_posteriors(counts):
    ap, an, bp, bn = counts
    a, b = stats.beta(1 + ap, 1 + an - ap), stats.beta(1 + bp, 1 + bn - bp)
    expected, _ = integrate.quad(lambda x: b.pdf(x) * a.cdf(x), 0, 1, limit=200)
    assert analysis.prob_b_beats_a(ap, an, bp, bn) == pytest.approx(expected, abs=1e-6)


def test_votes_needed_matches_the_textbook_formula():
    # p1 = 0.6, p2 = 0.55: (1.96 sqrt(2 * 0.575 * 0.425) + 0.8416 sqrt(0.24 + 0.2475))^2 / 0.05^2
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    expected = (z_a * math.sqrt(2 * 0.575 * 0.425) + z_b * math.sqrt(0.6 * 0.4 + 0.55 * 0.45)) ** 2 / 0.0025
    assert analysis.votes_needed(0.6) == math.ceil(expected) == 1534
    assert analysis.votes_needed(None) == analysis.votes_needed(0.5)


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.03, 0.5 -> 4*0.01, max(0.04, 3*0.02), max(0.06, 2*0.03), max(0.06, 0.5)
    assert analysis.holm([0.03, 0.5, 0.01, None, 0.02]) == pytest.approx([0.06, 0.5, 0.04, None, 0.06])
    assert analysis.holm([]) == [] and analysis.holm([0.9, 0.8]) == [1.0, 1.0]


def test_verdicts():
    better = analysis.compare({"votes": 400, "positive": 240}, {"votes": 400, "positive": 300})
    assert (
        better["verdict"] == "better" and better["prob_b_better"] > 0.99 and "B is better than A" in better["summary"]
    )
    worse = analysis.compare({"votes": 400, "positive": 300}, {"votes": 400, "positive": 240})
    assert worse["verdict"] == "worse" and worse["difference"] == pytest.approx(-0.15)
    few = analysis.compare({"votes": 29, "positive": 29}, {"votes": 200, "positive": 10})
    assert few["verdict"] == "too_few" and "Too few votes" in few["summary"]
    empty = analysis.compare({"votes": 0, "positive": 0}, {"votes": 50, "positive": 20})
    assert empty["verdict"] == "empty" and empty["p_value"] is None and empty["prob_b_better"] is None
    thin = analysis.compare({"votes": 100, "positive": 60}, {"votes": 100, "positive": 62})
    assert thin["verdict"] == "inconclusive"
    assert thin["more_votes_a"] == thin["votes_needed"] - 100 > 0 and "more votes" in thin["summary"]
    enough = analysis.compare({"votes": 5000, "positive": 3000}, {"votes": 5000, "positive": 3010})
    assert enough["verdict"] == "no_difference" and enough["more_votes_b"] == 0


def test_a_truly_better_b_is_called_better():
    rng = random.Random(1)
    a = sum(rng.random() < 0.60 for _ in range(1500))
    b = sum(rng.random() < 0.70 for _ in range(1500))
    result = analysis.compare({"votes": 1500, "positive": a}, {"votes": 1500, "positive": b})
    assert result["verdict"] == "better" and result["difference_low"] > 0


def test_no_real_difference_is_rarely_called_better():
    called = 0
    for seed in range(100):
        rng = random.Random(seed)
        a = sum(rng.random() < 0.65 for _ in range(300))
        b = sum(rng.random() < 0.65 for _ in range(300))
        called += analysis.compare({"votes": 300, "positive": a}, {"votes": 300, "positive": b})["verdict"] == "better"
    assert called <= 5


def test_each_against_rest_applies_holm():
    groups = [
        {"name": "good", "votes": 300, "positive": 240},
        {"name": "bad", "votes": 300, "positive": 150},
        {"name": "mid", "votes": 300, "positive": 200},
        {"name": "tiny", "votes": 10, "positive": 1},
    ]
    results = {row["name"]: row for row in analysis.each_against_rest(groups)}
    raw = [results[name]["p_value"] for name in ("good", "bad", "mid")]
    assert [results[name]["p_holm"] for name in ("good", "bad", "mid")] == pytest.approx(analysis.holm(raw))
    assert results["tiny"]["verdict"] == "too_few" and results["tiny"]["p_holm"] is None
    assert results["good"]["verdict"] == "better" and results["bad"]["verdict"] == "worse"
    assert results["good"]["a"] == {**results["good"]["a"], "votes": 610, "positive": 351}


def _kappa_by_hand(a, b, c, d):
    n = a + b + c + d
    observed = (a + d) / n
    chance = ((a + b) * (a + c) + (c + d) * (b + d)) / n / n
    return observed, chance, (observed - chance) / (1 - chance)


def test_kappa_matches_the_hand_computation_and_its_interval_covers_it():
    result = analysis.kappa([[20, 5], [10, 15]])
    observed, chance, expected = _kappa_by_hand(20, 5, 10, 15)
    assert (result["agreement"], result["chance"]) == pytest.approx((0.7, 0.5))
    assert result["kappa"] == pytest.approx(expected) == pytest.approx(0.4)
    assert result["low"] < 0.4 < result["high"] and result["high"] - result["low"] < 0.6


def test_kappa_interval_agrees_with_a_bootstrap():
    rng = random.Random(3)
    cells = [(0, 0)] * 48 + [(0, 1)] * 18 + [(1, 0)] * 12 + [(1, 1)] * 40
    result = analysis.kappa([[48, 18], [12, 40]])
    draws = []
    for _ in range(1500):
        table = [[0, 0], [0, 0]]
        for i, j in rng.choices(cells, k=len(cells)):
            table[i][j] += 1
        draws.append(analysis.kappa(table)["kappa"])
    draws.sort()
    assert result["low"] == pytest.approx(draws[37], abs=0.04) and result["high"] == pytest.approx(
        draws[1462], abs=0.04
    )


def test_kappa_edge_cases():
    assert analysis.kappa([[0, 0], [0, 0]])["kappa"] is None
    agree = analysis.kappa([[10, 0], [0, 7]])
    assert agree["kappa"] == pytest.approx(1.0) and agree["agreement"] == 1.0
    disagree = analysis.kappa([[0, 6], [4, 0]])
    assert disagree["agreement"] == 0.0 and disagree["kappa"] < 0
    assert disagree["kappa"] == pytest.approx(_kappa_by_hand(0, 6, 4, 0)[2])
    same = analysis.kappa([[9, 0], [0, 0]])  # both always said up: chance agreement 1, kappa undefined
    assert same["agreement"] == 1.0 and same["kappa"] is None


def test_log_odds_on_a_small_corpus():
    negative = {"outdated": 4, "slow": 1, "answer": 2}
    positive = {"clear": 3, "answer": 3}
    scores = analysis.log_odds(negative, positive)
    # pooled prior: a0 = 13 tokens, alpha_outdated = 13 * 4 / 13 = 4; n_neg = 7, n_pos = 6
    delta = math.log((4 + 4) / (7 + 13 - 4 - 4)) - math.log((0 + 4) / (6 + 13 - 0 - 4))
    assert scores["outdated"]["delta"] == pytest.approx(delta)
    assert scores["outdated"]["z"] == pytest.approx(delta / math.sqrt(1 / 8 + 1 / 4))
    assert scores["outdated"]["z"] > scores["slow"]["z"] > 0 > scores["clear"]["z"]
    weak = analysis.log_odds(negative, positive, prior_strength=1.0)["outdated"]
    alpha = 4 / 13
    assert weak["delta"] == pytest.approx(
        math.log((4 + alpha) / (7 + 1 - 4 - alpha)) - math.log(alpha / (6 + 1 - alpha))
    )
    assert analysis.log_odds({}, {}) == {}


def test_p_chart_flags_a_bad_day_with_a_leave_one_out_baseline():
    days = [{"day": f"2026-11-{n:02d}", "votes": 40, "positive": 28} for n in range(1, 11)]
    days.append({"day": "2026-11-11", "votes": 40, "positive": 8})
    days.append({"day": "2026-11-12", "votes": 3, "positive": 0})  # too few votes to flag
    rows = analysis.p_chart(days)
    bad = rows[10]
    expected = (280 + 0) / (400 + 3)
    assert bad["expected"] == pytest.approx(expected)
    assert bad["low"] == pytest.approx(expected - 3 * math.sqrt(expected * (1 - expected) / 40))
    assert bad["flag"] == "low" and [row["flag"] for row in rows].count("low") == 1
    assert rows[11]["flag"] is None and rows[0]["flag"] is None
    assert analysis.p_chart([]) == [] and analysis.p_chart([{"day": "d", "votes": 5, "positive": 1}])[0]["flag"] is None
