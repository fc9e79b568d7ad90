"""How far a judge can be trusted: its hit rates against people, and its pass rate corrected for them.

A judge is calibrated on the runs that both it and people rated (the reviewers' consensus, or a lead's
adjudication, taken as the truth). "Positive" here is a good run:
- sensitivity, the share of the good runs the judge calls good; specificity, the share of the bad
  runs it calls bad; each with its Wilson interval;
- Cohen's kappa of judge against people, with its large-sample interval (`analysis.kappa`).

Over all the runs it judged, the judge's raw pass rate q is biased by its errors: a judge with
sensitivity Se and specificity Sp shows q = p Se + (1 - p)(1 - Sp) when the true good rate is p.
The Rogan-Gladen estimator undoes that: p = (q + Sp - 1) / (Se + Sp - 1), clipped to 0..1. Its 95 %
interval is Lang and Reiczigel's (2014): a Wald interval on counts adjusted towards one half (z^2 / 2
good of z^2 more judged runs; one good and one bad more for each hit rate), shifted for the skew that
the estimated hit rates bring, whose variance carries the sampling error of the judged runs and of
both hit rates. Pure functions of counts; nothing here reads the store.
"""

from __future__ import annotations

import math

from data_layer import analysis

Z = analysis.Z95
# Below this Youden index (Se + Sp - 1) a judge is too close to a coin toss for its rate to be
# corrected: the correction divides by it, so the interval would span most of 0..1.
MIN_YOUDEN = 0.2


def hit_rates(tp: int, fn: int, fp: int, tn: int) -> dict:
    """A judge's calibration table against people: `tp` good runs it called good, `fn` good runs it
    called bad, `fp` bad runs it called good, `tn` bad runs it called bad."""
    se_low, se_high = analysis.wilson(tp, tp + fn)
    sp_low, sp_high = analysis.wilson(tn, tn + fp)
    agreement = analysis.kappa([[tp, fp], [fn, tn]])
    return {
        "table": {"tp": tp, "fn": fn, "fp": fp, "tn": tn},
        "calibration_runs": tp + fn + fp + tn,
        "sensitivity": analysis.rate(tp, tp + fn),
        "sensitivity_low": se_low,
        "sensitivity_high": se_high,
        "specificity": analysis.rate(tn, tn + fp),
        "specificity_low": sp_low,
        "specificity_high": sp_high,
        "kappa": agreement["kappa"],
        "kappa_low": agreement["low"],
        "kappa_high": agreement["high"],
    }


def corrected(judged_good: int, judged: int, tp: int, fn: int, fp: int, tn: int) -> dict:
    """The judge's raw pass rate over its `judged` runs (`judged_good` of them called good) beside the
    rate corrected for its errors, with the corrected rate's 95 % interval; the corrected values are
    None, with a `reason` in words, when the judge cannot be corrected."""
    raw_low, raw_high = analysis.wilson(judged_good, judged)
    out: dict = {
        "judged_runs": judged,
        "raw_rate": analysis.rate(judged_good, judged),
        "raw_low": raw_low,
        "raw_high": raw_high,
        "corrected_rate": None,
        "corrected_low": None,
        "corrected_high": None,
        "reason": None,
        "more_calibration_to_halve": None,
    }
    reason = _cannot_correct(judged, tp + fn, fp + tn, tp, tn)
    if reason:
        return {**out, "reason": reason}
    se, sp = tp / (tp + fn), tn / (tn + fp)
    out["corrected_rate"] = _clip((judged_good / judged + sp - 1) / (se + sp - 1))
    low, high, parts = _lang_reiczigel(judged_good, judged, tp, tp + fn, tn, tn + fp)
    out.update(corrected_low=low, corrected_high=high, more_calibration_to_halve=_to_halve(parts, tp + fn + fp + tn))
    return out


def _cannot_correct(judged: int, good: int, bad: int, tp: int, tn: int) -> str | None:
    if not judged:
        return "the judge has judged no run"
    if not good or not bad:
        missing = "good" if not good else "bad"
        return f"no calibration run that people rated {missing}: the judge's hit rate on {missing} runs is unknown"
    youden = tp / good + tn / bad - 1
    if youden < MIN_YOUDEN:
        return (
            f"the judge is little better than a coin: sensitivity + specificity - 1 = {youden:.2f} "
            f"(below {MIN_YOUDEN}), so its errors cannot be undone"
        )
    return None


def _lang_reiczigel(k: int, n: int, k_se: int, n_se: int, k_sp: int, n_sp: int) -> tuple[float, float, dict]:
    """Lang and Reiczigel's adjusted interval of the Rogan-Gladen estimate, and the three parts of its
    variance (the judged runs', the sensitivity's, the specificity's) in the Youden index's units."""
    q = (k + Z * Z / 2) / (n + Z * Z)
    se = (k_se + 1) / (n_se + 2)
    sp = (k_sp + 1) / (n_sp + 2)
    youden = se + sp - 1
    p = (q + sp - 1) / youden
    parts = {
        "judged": q * (1 - q) / (n + Z * Z),
        "sensitivity": p * p * se * (1 - se) / (n_se + 2),
        "specificity": (1 - p) ** 2 * sp * (1 - sp) / (n_sp + 2),
    }
    half = Z * math.sqrt(sum(parts.values())) / abs(youden)
    shift = 2 * Z * Z * (p * se * (1 - se) / (n_se + 2) - (1 - p) * sp * (1 - sp) / (n_sp + 2))
    return _clip(p + shift - half), _clip(p + shift + half), parts


def _to_halve(parts: dict, calibration_runs: int) -> int | None:
    """How many more calibration runs (in the same mix of good and bad) would halve the interval, or
    None when the judged runs' own sampling error alone is over a quarter of the variance."""
    calibration = parts["sensitivity"] + parts["specificity"]
    wanted = sum(parts.values()) / 4 - parts["judged"]
    if wanted <= 0 or not calibration:
        return None
    return math.ceil(calibration_runs * calibration / wanted) - calibration_runs


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def in_words(numbers: dict) -> str:
    """A judge's numbers as the sentence a product manager reads: the raw rate, the corrected one and
    how sure it is, or why there is none."""
    raw = f"calls {numbers['raw_rate']:.0%} of its {numbers['judged_runs']:,} runs good"
    if numbers["corrected_rate"] is None:
        return f"The judge {raw}; that rate cannot be corrected: {numbers['reason']}."
    sentence = (
        f"The judge {raw}. Corrected for its errors (it calls {numbers['sensitivity']:.0%} of good runs good and "
        f"{numbers['specificity']:.0%} of bad runs bad, on {numbers['calibration_runs']:,} runs people rated), "
        f"{numbers['corrected_rate']:.0%} are good (95 % interval {numbers['corrected_low']:.0%} to "
        f"{numbers['corrected_high']:.0%})."
    )
    more = numbers["more_calibration_to_halve"]
    if more is None:
        return sentence + " More calibration runs alone would not halve that interval: the judged runs are too few."
    return sentence + f" {more:,} more calibration runs would halve that interval."
