"""A judge's calibration arithmetic: hit rates, kappa, and the Rogan-Gladen corrected pass rate with
Lang and Reiczigel's interval, against oracles, edge cases and a simulation with a known truth."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa

from data_layer.judges import calibration


@pytest.mark.parametrize("seed", range(6))
def test_kappa_and_its_interval_equal_statsmodels(seed):
    rng = np.random.default_rng(seed)
    tp, fn, fp, tn = (int(x) for x in rng.integers(1, 80, 4))
    found = calibration.hit_rates(tp, fn, fp, tn)
    oracle = cohens_kappa(np.array([[tp, fp], [fn, tn]]))
    assert found["kappa"] == pytest.approx(oracle.kappa)
    assert (found["kappa_low"], found["kappa_high"]) == pytest.approx(
        (max(-1, oracle.kappa_low), min(1, oracle.kappa_upp))
    )


def test_hit_rates_of_a_hand_computed_table():
    found = calibration.hit_rates(tp=45, fn=5, fp=10, tn=40)
    assert found["sensitivity"] == pytest.approx(0.9) and found["specificity"] == pytest.approx(0.8)
    # kappa by hand: agreement 0.85, chance 0.55 * 0.5 + 0.45 * 0.5 = 0.5
    assert found["kappa"] == pytest.approx((0.85 - 0.5) / 0.5)
    assert found["sensitivity_low"] < 0.9 < found["sensitivity_high"]
    assert found["calibration_runs"] == 100


def test_the_corrected_rate_undoes_known_errors():
    # 1000 judged runs, true good rate 0.6, Se 0.9, Sp 0.8: the judge calls 0.6*0.9 + 0.4*0.2 = 0.62 good
    found = calibration.corrected(620, 1000, tp=90, fn=10, fp=20, tn=80)
    assert found["raw_rate"] == pytest.approx(0.62)
    assert found["corrected_rate"] == pytest.approx(0.6)
    assert found["corrected_low"] < 0.6 < found["corrected_high"]
    assert found["reason"] is None
    # a quarter of this interval's variance is below the judged runs' own: calibration cannot halve it
    assert found["more_calibration_to_halve"] is None


def test_more_calibration_runs_halve_the_interval_as_advised():
    found = calibration.corrected(6200, 10_000, tp=90, fn=10, fp=20, tn=80)
    more = found["more_calibration_to_halve"]
    assert 500 < more < 1000
    scale = (200 + more) / 200
    bigger = calibration.corrected(6200, 10_000, *(round(n * scale) for n in (90, 10, 20, 80)))
    width, halved = (f["corrected_high"] - f["corrected_low"] for f in (found, bigger))
    assert halved == pytest.approx(width / 2, rel=0.05)


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ((0, 0, 0, 0, 0, 0), "judged no run"),
        ((50, 100, 0, 0, 0, 0), "no calibration run that people rated good"),
        ((70, 100, 30, 5, 0, 0), "no calibration run that people rated bad"),
        ((100, 100, 30, 0, 10, 0), "little better than a coin"),
        ((55, 100, 30, 20, 25, 25), "little better than a coin: sensitivity \\+ specificity - 1 = 0.10"),
        ((1, 1, 1, 0, 0, 0), "no calibration run that people rated bad"),
    ],
    ids=["no runs", "no overlap", "people unanimous", "always good", "coin", "one run"],
)
def test_a_judge_that_cannot_be_corrected_says_why(counts, reason):
    judged_good, judged, tp, fn, fp, tn = counts
    found = calibration.corrected(judged_good, judged, tp, fn, fp, tn)
    assert found["corrected_rate"] is None and found["corrected_low"] is None
    assert reason.split(":")[0] in found["reason"] or pytest.fail(found["reason"])
    assert pytest.approx(found["raw_rate"]) == (judged_good / judged if judged else None)


def test_the_coin_reason_names_the_youden_index():
    found = calibration.corrected(55, 100, 30, 20, 25, 25)
    assert "= 0.10 (below 0.2)" in found["reason"]


def test_a_perfect_judge_is_its_own_rate():
    found = calibration.corrected(700, 1000, tp=200, fn=0, fp=0, tn=100)
    assert found["corrected_rate"] == pytest.approx(0.7)
    assert found["corrected_low"] < 0.7 < found["corrected_high"]


def test_the_corrected_interval_covers_the_truth_and_the_raw_one_does_not():
    """The issue's simulation: 200 repetitions of 5,000 judged runs with a true good rate of 0.70, a judge
    with sensitivity 0.85 and specificity 0.90, and 300 of the runs, drawn at random, rated by people."""
    rng = np.random.default_rng(20261203)
    covered = raw_covered = 0
    raw_rates = []
    for _ in range(200):
        truth = rng.random(5000) < 0.70
        judge = np.where(truth, rng.random(5000) < 0.85, rng.random(5000) < 0.10)
        sample = rng.choice(5000, 300, replace=False)
        people, said = truth[sample], judge[sample]
        table = [int(x.sum()) for x in (people & said, people & ~said, ~people & said, ~people & ~said)]
        found = calibration.corrected(int(judge.sum()), 5000, *table)
        covered += found["corrected_low"] <= 0.70 <= found["corrected_high"]
        raw_covered += found["raw_low"] <= 0.70 <= found["raw_high"]
        raw_rates.append(found["raw_rate"])
    assert 184 <= covered <= 196
    assert raw_covered == 0
    assert np.mean(raw_rates) == pytest.approx(0.70 * 0.85 + 0.30 * 0.10, abs=0.005)


def test_the_numbers_in_words():
    numbers = {**calibration.hit_rates(90, 10, 20, 80), **calibration.corrected(6200, 10_000, 90, 10, 20, 80)}
    assert calibration.in_words(numbers) == (
        "The judge calls 62% of its 10,000 runs good. Corrected for its errors (it calls 90% of good runs good and "
        f"80% of bad runs bad, on 200 runs people rated), 60% are good (95 % interval "
        f"{numbers['corrected_low']:.0%} to {numbers['corrected_high']:.0%}). "
        f"{numbers['more_calibration_to_halve']:,} more calibration runs would halve that interval."
    )
    coin = {**calibration.hit_rates(30, 20, 25, 25), **calibration.corrected(55, 100, 30, 20, 25, 25)}
    assert calibration.in_words(coin).startswith(
        "The judge calls 55% of its 100 runs good; that rate cannot be corrected: the judge is little better"
    )
