"""The statistics behind the answer pages: small numeric steps on counts that SQL already aggregated.

Proportions: the Wilson interval of a rate, Newcombe's interval for a difference of two rates, a
two-sided test (Fisher's exact test when an expected cell is small, else the two-proportion z-test),
the posterior probability that B beats A under Beta(1, 1) priors, the votes needed to detect a
5-point difference at 80 % power, and Holm's correction when many slices are tested at once.
Agreement: Cohen's kappa of a 2x2 table with its large-sample interval. Themes: weighted log-odds
with an informative Dirichlet prior (Monroe, Colaresi and Quinn 2008). Alerts: p-chart bands.
Pure functions of plain numbers; nothing here reads the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import special, stats

Z95 = 1.959963984540054
ALPHA = 0.05
MIN_VOTES = 30  # a slice with fewer votes is marked "too few votes" and gets no verdict
DETECT_DIFFERENCE = 0.05  # the difference a comparison should be able to see, in rate points
POWER = 0.80
# Fisher's exact test is used when any expected cell of the 2x2 table is under this (Cochran's rule).
FISHER_BELOW_EXPECTED = 5
P_CHART_MIN_EXPECTED = 5


def rate(positive: int, total: int) -> float | None:
    return positive / total if total else None


def wilson(positive: int, total: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion: honest for small counts, never outside 0..1."""
    if not total:
        return None, None
    return _wilson(positive, total, z)


def wilson_of_share(share: float, size: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson interval of a share observed over `size` (above 0) items, which may be an effective,
    fractional size (a weighted sample's)."""
    return _wilson(share * size, size, z)


def _wilson(positive: float, total: float, z: float) -> tuple[float, float]:
    """The Wilson score interval of `positive` out of `total` (more than 0)."""
    p = positive / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(
    a_positive: int, a_total: int, b_positive: int, b_total: int, z: float = Z95
) -> tuple[float | None, float | None, float | None]:
    """Rate of B minus rate of A with Newcombe's hybrid score interval (his method 10), built from
    the two Wilson intervals: unlike the Wald interval it stays sensible for small counts and rates
    near 0 or 1. (None, None, None) when a side has no votes."""
    if not a_total or not b_total:
        return None, None, None
    pa, pb = a_positive / a_total, b_positive / b_total
    la, ua = _wilson(a_positive, a_total, z)
    lb, ub = _wilson(b_positive, b_total, z)
    difference = pb - pa
    low = difference - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = difference + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return difference, max(-1.0, low), min(1.0, high)


def two_sided_test(a_positive: int, a_total: int, b_positive: int, b_total: int) -> dict:
    """Are the two rates different? Fisher's exact test when an expected cell is under 5, else the
    pooled two-proportion z-test (the same as Pearson's chi-square without continuity correction).
    Returns `method` and `p_value` (None when a side is empty; 1.0 when every vote is the same)."""
    if not a_total or not b_total:
        return {"method": None, "p_value": None}
    positive, total = a_positive + b_positive, a_total + b_total
    negative = total - positive
    expected = min(positive, negative) * min(a_total, b_total) / total
    if expected < FISHER_BELOW_EXPECTED:
        table = [[a_positive, a_total - a_positive], [b_positive, b_total - b_positive]]
        return {"method": "fisher", "p_value": float(stats.fisher_exact(table).pvalue)}
    pooled = positive / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / a_total + 1 / b_total))
    z = (b_positive / b_total - a_positive / a_total) / se
    return {"method": "z", "p_value": float(2 * stats.norm.sf(abs(z))), "z": z}


def prob_b_beats_a(a_positive: int, a_total: int, b_positive: int, b_total: int) -> float:
    """P(rate of B > rate of A) with independent Beta(1, 1) priors, exactly (Evan Miller's sum over
    the posterior Beta(1 + up, 1 + down) of each side). 0.5 when both sides are empty."""
    alpha_a, beta_a = 1 + a_positive, 1 + a_total - a_positive
    alpha_b, beta_b = 1 + b_positive, 1 + b_total - b_positive
    i = np.arange(alpha_b, dtype=float)
    terms = (
        special.betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - special.betaln(1 + i, beta_b)
        - special.betaln(alpha_a, beta_a)
    )
    return float(min(1.0, max(0.0, np.exp(terms).sum())))


def votes_needed(base_rate: float | None, difference: float = DETECT_DIFFERENCE, power: float = POWER) -> int:
    """Votes per side for a two-sided test at ALPHA to detect `difference` with `power`, around
    `base_rate` (the usual normal-approximation formula; the shift goes towards 0.5, the harder side)."""
    p1 = 0.5 if base_rate is None else min(max(base_rate, 0.0), 1.0)
    p2 = p1 + difference if p1 < 0.5 else p1 - difference
    mean = (p1 + p2) / 2
    z_alpha, z_beta = stats.norm.ppf(1 - ALPHA / 2), stats.norm.ppf(power)
    top = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(top * top / (difference * difference))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error at ALPHA over all tests); None stays None."""
    present = sorted((p, index) for index, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running, m = 0.0, len(present)
    for rank, (p, index) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def compare(a: Mapping, b: Mapping) -> dict:
    """Compare slice B with slice A, each `{"votes", "positive"}`; the verdict in words and numbers.

    `verdict` is one of: `empty` (a side has no votes), `too_few` (a side under MIN_VOTES: no
    verdict), `better` / `worse` (the test says the rates differ at ALPHA), `no_difference` (not
    significant although both sides could have seen a 5-point difference), `inconclusive` (not
    significant and too few votes to see 5 points: `more_votes_a` / `more_votes_b` say how many more).
    """
    an, ap, bn, bp = int(a["votes"]), int(a["positive"]), int(b["votes"]), int(b["positive"])
    sides = {}
    for name, (positive, total) in (("a", (ap, an)), ("b", (bp, bn))):
        low, high = wilson(positive, total)
        sides[name] = {"votes": total, "positive": positive, "rate": rate(positive, total), "low": low, "high": high}
    difference, low, high = difference_interval(ap, an, bp, bn)
    test = two_sided_test(ap, an, bp, bn)
    pooled = rate(ap + bp, an + bn)
    needed = votes_needed(pooled)
    out = {
        "a": sides["a"],
        "b": sides["b"],
        "difference": difference,
        "difference_low": low,
        "difference_high": high,
        "method": test["method"],
        "p_value": test["p_value"],
        "prob_b_better": prob_b_beats_a(ap, an, bp, bn) if an and bn else None,
        "votes_needed": needed,
        "more_votes_a": max(0, needed - an),
        "more_votes_b": max(0, needed - bn),
    }
    out["verdict"] = _verdict(out)
    out["summary"] = summary(out)
    return out


def _verdict(result: dict) -> str:
    an, bn = result["a"]["votes"], result["b"]["votes"]
    if not an or not bn:
        return "empty"
    if an < MIN_VOTES or bn < MIN_VOTES:
        return "too_few"
    if result["p_value"] < ALPHA:
        return "better" if result["difference"] > 0 else "worse"
    if result["more_votes_a"] or result["more_votes_b"]:
        return "inconclusive"
    return "no_difference"


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _chance(value: float) -> str:
    if value < 0.001:
        return "under 0.1 %"
    return "over 99.9 %" if value > 0.999 else _pct(value)


def points(value: float) -> str:
    """A difference of two rates in percentage points, signed: `+37.3 pp`."""
    return f"{100 * value:+.1f} pp"


def p_text(value: float | None) -> str:
    """A p-value as people read it: `p < 0.001`, else to three decimals; `–` when not tested."""
    if value is None:
        return "–"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def summary(result: dict, a_name: str = "A", b_name: str = "B") -> str:
    """The verdict of `compare()` in one or two plain sentences."""
    verdict = result["verdict"]
    if verdict == "empty":
        return f"No votes to compare: {a_name if not result['a']['votes'] else b_name} has none."
    if verdict == "too_few":
        few = [name for name, side in ((a_name, result["a"]), (b_name, result["b"])) if side["votes"] < MIN_VOTES]
        return (
            f"Too few votes for a verdict: {' and '.join(few)} {'has' if len(few) == 1 else 'have'} fewer than "
            f"{MIN_VOTES}. About {result['votes_needed']} votes per side are needed to see a 5-point difference."
        )
    difference = result["difference"]
    low, high = points(result["difference_low"]), points(result["difference_high"])
    interval = f"{points(difference)} (95 % interval {low} to {high})"
    test = f"{'Fisher' if result['method'] == 'fisher' else 'z'}-test {p_text(result['p_value'])}"
    chance = f"chance {b_name} is better: {_chance(result['prob_b_better'])}"
    if verdict in ("better", "worse"):
        return f"{b_name} is {verdict} than {a_name}: {b_name} minus {a_name} = {interval}; {test}; {chance}."
    if verdict == "no_difference":
        return f"No real difference between {b_name} and {a_name}: {interval}; {test}; {chance}."
    return (
        f"Not enough evidence yet: {interval}; {test}; {chance}. To detect a 5-point difference at 80 % power, "
        f"{a_name} needs {result['more_votes_a']} more votes and {b_name} needs {result['more_votes_b']} more."
    )


def each_against_rest(groups: Sequence[Mapping]) -> list[dict]:
    """Every group (`{"name", "votes", "positive"}`) compared with all the other groups together,
    p-values corrected with Holm for the number of groups tested. A group under MIN_VOTES is not
    tested (and does not count towards the correction); its verdict is `too_few`."""
    total = sum(int(group["votes"]) for group in groups)
    positive = sum(int(group["positive"]) for group in groups)
    results = []
    for group in groups:
        rest = {"votes": total - int(group["votes"]), "positive": positive - int(group["positive"])}
        result = compare(rest, group)
        results.append({"name": group["name"], **result})
    tested = [result["p_value"] if result["verdict"] not in ("empty", "too_few") else None for result in results]
    for result, adjusted in zip(results, holm(tested)):
        result["p_holm"] = adjusted
        if adjusted is not None:
            if adjusted < ALPHA:
                result["verdict"] = "better" if result["difference"] > 0 else "worse"
            elif result["verdict"] in ("better", "worse"):
                underpowered = result["more_votes_a"] or result["more_votes_b"]
                result["verdict"] = "inconclusive" if underpowered else "no_difference"
    return results


# ---------------------------------------------------------------------------------------------- agreement


def kappa(table: Sequence[Sequence[int]], z: float = Z95) -> dict:
    """Cohen's kappa of a 2x2 table `[[up-up, up-down], [down-up, down-down]]` (rows: one rater,
    columns: the other), with percent agreement and a 95 % interval from the large-sample variance
    of Fleiss, Cohen and Everitt (1969). Kappa is None when chance agreement is 1 (both raters gave
    one and the same answer every time) or there is nothing to count."""
    cells = [[int(table[0][0]), int(table[0][1])], [int(table[1][0]), int(table[1][1])]]
    n = sum(map(sum, cells))
    out: dict[str, float | None] = {"n": n, "agreement": None, "chance": None, "kappa": None, "low": None, "high": None}
    if not n:
        return out
    p = [[cell / n for cell in row] for row in cells]
    rows = [p[0][0] + p[0][1], p[1][0] + p[1][1]]
    cols = [p[0][0] + p[1][0], p[0][1] + p[1][1]]
    observed = p[0][0] + p[1][1]
    chance = rows[0] * cols[0] + rows[1] * cols[1]
    out.update(agreement=observed, chance=chance)
    if chance >= 1:
        return out
    k = (observed - chance) / (1 - chance)
    diagonal = sum(p[i][i] * (1 - (rows[i] + cols[i]) * (1 - k)) ** 2 for i in range(2))
    off = (1 - k) ** 2 * sum(p[i][j] * (cols[i] + rows[j]) ** 2 for i in range(2) for j in range(2) if i != j)
    variance = max(0.0, (diagonal + off - (k - chance * (1 - k)) ** 2) / (n * (1 - chance) ** 2))
    half = z * math.sqrt(variance)
    out.update(kappa=k, low=max(-1.0, k - half), high=min(1.0, k + half))
    return out


# ---------------------------------------------------------------------------------------------- themes


def log_odds(
    target: Mapping[str, int], other: Mapping[str, int], prior_strength: float | None = None
) -> dict[str, dict]:
    """Weighted log-odds ratio of each word in `target` versus `other`, with an informative Dirichlet
    prior (Monroe, Colaresi and Quinn 2008, "Fightin' Words", section 3.5.1).

    The prior is the pooled corpus: alpha_w = a0 * (y_w^t + y_w^o) / (n^t + n^o), with a0 =
    `prior_strength` (default: the pooled token count, so alpha_w is the word's pooled count). Then
    delta_w = log((y_w^t + a_w) / (n^t + a0 - y_w^t - a_w)) - log((y_w^o + a_w) / (n^o + a0 - y_w^o - a_w)),
    its variance is about 1/(y_w^t + a_w) + 1/(y_w^o + a_w), and z_w = delta_w / sqrt(variance).
    A positive z marks a word typical of `target`."""
    words = set(target) | set(other)
    n_target, n_other = sum(target.values()), sum(other.values())
    pooled = n_target + n_other
    if not pooled:
        return {}
    a0 = float(pooled if prior_strength is None else prior_strength)
    out = {}
    for word in words:
        yt, yo = target.get(word, 0), other.get(word, 0)
        alpha = a0 * (yt + yo) / pooled
        delta = math.log((yt + alpha) / (n_target + a0 - yt - alpha)) - math.log(
            (yo + alpha) / (n_other + a0 - yo - alpha)
        )
        variance = 1 / (yt + alpha) + 1 / (yo + alpha)
        out[word] = {"delta": delta, "variance": variance, "z": delta / math.sqrt(variance), "target": yt, "other": yo}
    return out


# ---------------------------------------------------------------------------------------------- alerts


def p_chart(days: Sequence[Mapping], sigmas: float = 3.0) -> list[dict]:
    """Control bands for a daily positive rate (`{"day", "votes", "positive"}` per day).

    The expected rate of a day is the rate of all the other days together (leave-one-out, so a bad
    day does not drag its own baseline down); the band is that rate plus or minus `sigmas` standard
    errors for the day's vote count, clipped to 0..1. `flag` is `low` or `high` outside the band. A day
    too small for the normal approximation behind the band (expected ups or downs under 5) is drawn
    but never flagged: with a handful of votes a 3-sigma "miss" is mostly noise."""
    total = sum(int(day["votes"]) for day in days)
    positive = sum(int(day["positive"]) for day in days)
    out = []
    for day in days:
        n, x = int(day["votes"]), int(day["positive"])
        rest_n, rest_x = total - n, positive - x
        row = {**day, "votes": n, "positive": x, "rate": rate(x, n), "expected": None, "low": None, "high": None}
        row["flag"] = None
        if n and rest_n:
            expected = rest_x / rest_n
            se = math.sqrt(expected * (1 - expected) / n)
            low, high = max(0.0, expected - sigmas * se), min(1.0, expected + sigmas * se)
            row.update(expected=expected, low=low, high=high)
            if min(n * expected, n * (1 - expected)) >= P_CHART_MIN_EXPECTED:
                row["flag"] = "low" if row["rate"] < low else "high" if row["rate"] > high else None
        out.append(row)
    return out
