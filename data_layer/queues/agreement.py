"""How much a queue's reviewers agree with each other, beyond chance.

Both statistics need only each item's count of good and bad votes (whole-run votes of named
reviewers), which SQL groups into the few distinct (good, bad) pairs with how many items have each:
- Fleiss' kappa, for items judged by exactly the queue's `reviewers_per_item` reviewers (k >= 2);
- Krippendorff's alpha (nominal), for every item with two votes or more, however many it has.
Each comes with a 95 % interval from a bootstrap over items (`BOOTSTRAP` resamples, drawn as
multinomial counts of the pairs, with a fixed seed so the same data gives the same interval).
Either is None, with the reason, when it is not defined: no item to compare, or one category only
(every vote good, or every vote bad: agreement beyond chance cannot be told).
"""

from __future__ import annotations

import numpy as np

BOOTSTRAP = 1000
_SEED = 20261203

PAIRS = """
SELECT r.panel_positive AS good, r.panel_negative AS bad, count(*) AS items
FROM queue_items q JOIN runs r ON r.run_id = q.run_id
WHERE q.queue_name = $queue_name AND r.panel_positive + r.panel_negative >= 2
GROUP BY r.panel_positive, r.panel_negative
ORDER BY 1, 2
"""


def fleiss_kappa(good: np.ndarray, bad: np.ndarray, weight: np.ndarray) -> float | None:
    """Fleiss' kappa of items with the same number of votes each: `good` and `bad` votes per kind of
    item, `weight` items of each kind."""
    raters = good + bad
    items = weight.sum()
    if items == 0 or raters.min() != raters.max() or raters[0] < 2:
        return None
    k = raters[0]
    shares = np.array([(weight * good).sum(), (weight * bad).sum()]) / (items * k)
    expected = float((shares**2).sum())
    if expected >= 1:
        return None
    observed = float((weight * (good * good + bad * bad - k)).sum() / (items * k * (k - 1)))
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(good: np.ndarray, bad: np.ndarray, weight: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) of items with two votes or more each."""
    votes = good + bad
    keep = votes >= 2
    good, bad, votes, weight = good[keep], bad[keep], votes[keep], weight[keep]
    total = float((weight * votes).sum())
    n_good, n_bad = float((weight * good).sum()), float((weight * bad).sum())
    if total < 2 or n_good == 0 or n_bad == 0:
        return None
    disagreeing = float((weight * 2 * good * bad / (votes - 1)).sum())
    return 1 - (total - 1) * disagreeing / (2 * n_good * n_bad)


def _bootstrap(statistic, good, bad, weight) -> tuple[float | None, float | None]:
    """The 2.5th and 97.5th percentiles of `statistic` over resampled items."""
    items = int(weight.sum())
    if items < 2:
        return None, None
    rng = np.random.default_rng(_SEED)
    draws = rng.multinomial(items, weight / items, size=BOOTSTRAP)
    values = [value for draw in draws if (value := statistic(good, bad, draw)) is not None]
    if len(values) < BOOTSTRAP / 2:
        return None, None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def measure(pairs: list[dict], k: int) -> dict:
    """Both statistics with their intervals from the (good, bad, items) rows of `PAIRS`."""
    good = np.array([int(row["good"]) for row in pairs], dtype=float)
    bad = np.array([int(row["bad"]) for row in pairs], dtype=float)
    weight = np.array([int(row["items"]) for row in pairs], dtype=float)
    fixed = (good + bad) == k
    out: dict = {"items_compared": int(weight[(good + bad) >= 2].sum()), "items_with_k_votes": int(weight[fixed].sum())}
    for name, statistic, use in (
        ("fleiss_kappa", fleiss_kappa, fixed),
        ("krippendorff_alpha", krippendorff_alpha, np.ones_like(fixed)),
    ):
        args = (good[use], bad[use], weight[use])
        value = statistic(*args) if len(args[0]) else None
        low, high = _bootstrap(statistic, *args) if value is not None else (None, None)
        out[name] = {"value": value, "low": low, "high": high}
        if value is None:
            out[name]["reason"] = _why_not(name, k, *args)
    return out


def _why_not(name: str, k: int, good, bad, weight) -> str:
    if name == "fleiss_kappa" and k < 2:
        return "the queue asks one reviewer per item: there is no agreement to measure"
    if weight.sum() == 0:
        return f"no item has {k} votes yet" if name == "fleiss_kappa" else "no item has two votes yet"
    return "every vote is in one category: agreement beyond chance cannot be told"
