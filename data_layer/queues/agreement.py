"""How much a queue's reviewers agree with each other, beyond chance.

Both statistics need only how many votes each item has in each category, which SQL groups into the few
distinct profiles of counts with how many items have each (`PAIRS` for the thumbs, good and bad;
`criteria_agreement.py` for the rubric's criteria):
- Fleiss' kappa, for items judged by exactly the queue's `reviewers_per_item` reviewers (k >= 2),
  the categories taken as nominal;
- Krippendorff's alpha, for every item with two votes or more, however many it has: `nominal` (the
  thumbs, binary and categorical criteria) or `ordinal` (an ordinal criterion's 1 to 5, where 2 against
  3 is a smaller disagreement than 1 against 5).
Each comes with a 95 % interval from a bootstrap over items (`BOOTSTRAP` resamples, drawn as
multinomial counts of the profiles, with a fixed seed so the same data gives the same interval).
Either is None, with the reason, when it is not defined: no item to compare, or one category only
(every vote the same: agreement beyond chance cannot be told).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

BOOTSTRAP = 1000
_SEED = 20261203
Level = Literal["nominal", "ordinal"]

PAIRS = """
SELECT r.panel_positive AS good, r.panel_negative AS bad, count(*) AS items
FROM queue_items q JOIN runs r ON r.run_id = q.run_id
WHERE q.queue_name = $queue_name AND r.panel_positive + r.panel_negative >= 2
GROUP BY r.panel_positive, r.panel_negative
ORDER BY 1, 2
"""


def _rows(weights: np.ndarray) -> np.ndarray:
    """Weights as draws by profiles: one row (the data itself) or one per bootstrap resample."""
    return weights[None, :] if weights.ndim == 1 else weights


def fleiss(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fleiss' kappa per row of `weights` (items of each profile), NaN where it is not defined; `counts`
    holds each profile's votes per category, every profile with the same number of votes."""
    weights = _rows(weights)
    raters = counts.sum(axis=1)
    items = weights.sum(axis=1)
    if len(raters) == 0 or raters.min() != raters.max() or raters[0] < 2:
        return np.full(len(weights), np.nan)
    k = raters[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = (weights @ counts) / (items[:, None] * k)
        expected = (shares**2).sum(axis=1)
        observed = weights @ ((counts**2).sum(axis=1) - k) / (items * k * (k - 1))
        kappa = (observed - expected) / (1 - expected)
    return np.where((items > 0) & (expected < 1 - 1e-12), kappa, np.nan)


def _distances(totals: np.ndarray, level: Level) -> np.ndarray:
    """The squared distance of every pair of categories (draws x categories x categories), from each
    draw's count of pairable values per category (`totals`) for the ordinal level."""
    categories = totals.shape[1]
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(categories), (len(totals), categories, categories))
    index = np.arange(categories)
    low, high = np.minimum.outer(index, index), np.maximum.outer(index, index)
    through = np.cumsum(totals, axis=1)
    between = through[:, high] - through[:, low] + totals[:, low]
    return (between - (totals[:, :, None] + totals[:, None, :]) / 2) ** 2


def alpha(counts: np.ndarray, weights: np.ndarray, level: Level = "nominal") -> np.ndarray:
    """Krippendorff's alpha per row of `weights`, NaN where it is not defined, over the profiles with two
    votes or more (a value with no other in its item is not pairable)."""
    weights = _rows(weights)
    votes = counts.sum(axis=1)
    keep = votes >= 2
    counts, votes, weights = counts[keep], votes[keep], weights[:, keep]
    if len(votes) == 0:
        return np.full(len(weights), np.nan)
    # each profile's coincidences: ordered pairs of values from different coders of one item, over m - 1
    own = (counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(counts.shape[1])) / (votes - 1)[
        :, None, None
    ]
    coincidences = np.einsum("bp,pij->bij", weights, own)
    totals = coincidences.sum(axis=2)
    n = totals.sum(axis=1)
    distance = _distances(totals, level)
    observed = (coincidences * distance).sum(axis=(1, 2))
    expected = (totals[:, :, None] * totals[:, None, :] * distance).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        found = 1 - (n - 1) * observed / expected
    return np.where((n >= 2) & (expected > 1e-12), found, np.nan)


def _value(values: np.ndarray) -> float | None:
    return None if np.isnan(values[0]) else float(values[0])


def fleiss_kappa(good: np.ndarray, bad: np.ndarray, weight: np.ndarray) -> float | None:
    """Fleiss' kappa of the thumbs: `good` and `bad` votes per kind of item, `weight` items of each kind."""
    return _value(fleiss(np.column_stack([good, bad]), np.asarray(weight, dtype=float)))


def krippendorff_alpha(good: np.ndarray, bad: np.ndarray, weight: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) of the thumbs, over items with two votes or more."""
    return _value(alpha(np.column_stack([good, bad]), np.asarray(weight, dtype=float)))


def _bootstrap(statistic, counts: np.ndarray, weight: np.ndarray) -> tuple[float | None, float | None]:
    """The 2.5th and 97.5th percentiles of `statistic` over resampled items."""
    items = int(weight.sum())
    if items < 2:
        return None, None
    rng = np.random.default_rng(_SEED)
    draws = rng.multinomial(items, weight / items, size=BOOTSTRAP).astype(float)
    values = statistic(counts, draws)
    values = values[~np.isnan(values)]
    if len(values) < BOOTSTRAP / 2:
        return None, None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def statistics(counts: np.ndarray, weight: np.ndarray, k: int, *, level: Level = "nominal", unit: str = "votes"):
    """Both statistics with their intervals from each profile's counts per category (profiles x
    categories) and its items; `unit` names what is counted in the reasons (`votes`, `scores`)."""
    counts = np.asarray(counts, dtype=float)
    weight = np.asarray(weight, dtype=float)
    votes = counts.sum(axis=1)
    fixed = votes == k
    out: dict = {"items_compared": int(weight[votes >= 2].sum()), "items_with_k_votes": int(weight[fixed].sum())}
    for name, statistic, use in (
        ("fleiss_kappa", fleiss, fixed),
        ("krippendorff_alpha", lambda c, w: alpha(c, w, level), votes >= 2),
    ):
        args = (counts[use], weight[use])
        value = _value(statistic(*args)) if len(args[1]) else None
        low, high = _bootstrap(statistic, *args) if value is not None else (None, None)
        out[name] = {"value": value, "low": low, "high": high}
        if value is None:
            out[name]["reason"] = _why_not(name, k, args[1], unit)
    return out


def measure(pairs: list[dict], k: int) -> dict:
    """Both statistics of the thumbs with their intervals, from the (good, bad, items) rows of `PAIRS`."""
    counts = np.array([[int(row["good"]), int(row["bad"])] for row in pairs], dtype=float).reshape(-1, 2)
    weight = np.array([int(row["items"]) for row in pairs], dtype=float)
    return statistics(counts, weight, k)


def _why_not(name: str, k: int, weight: np.ndarray, unit: str) -> str:
    if name == "fleiss_kappa" and k < 2:
        return "the queue asks one reviewer per item: there is no agreement to measure"
    if weight.sum() == 0:
        return f"no item has {k} {unit} yet" if name == "fleiss_kappa" else f"no item has two {unit} yet"
    return f"every {unit[:-1]} is in one category: agreement beyond chance cannot be told"
