"""Rubric criteria (`data_layer/queues/rubric.py`): what the scores given on votes say, per criterion,
overall and per assistant and model.

A binary criterion gives the share of `yes` with its Wilson 95 % interval; an ordinal one (1 to 5) the
mean with a 95 % Student-t interval; a categorical one the share of each option with its Wilson interval.
The scores counted are those on whole-run votes under the stats' filters (the vote's copies of its run,
as every stats aggregate narrows votes), counted in SQL per criterion, group and value: a handful of
rows, whatever the number of votes.
"""

from __future__ import annotations

import math

from scipy import stats as distributions

from data_layer.analysis import rate, wilson
from data_layer.filters import Filters
from data_layer.stats.sql import votes_where

GROUPS = {"overall": "'all'", "by_assistant": "f.run_assistant_id", "by_model": "f.run_model_name"}
_KEYS = {"by_assistant": "assistant_id", "by_model": "model_name"}

_COUNTS = """
SELECT s.criterion, s.kind, {group} AS grp, s.value, min(s.number) AS number, count(*) AS n
FROM vote_scores s JOIN feedback f ON f.feedback_id = s.feedback_id
WHERE {votes}
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
"""


def mean_interval(counts: dict[float, int]) -> dict:
    """The mean of values given as value -> count, with its 95 % Student-t interval (None below 2 scores)."""
    n = sum(counts.values())
    if not n:
        return {"scored": 0, "mean": None, "low": None, "high": None}
    mean = sum(value * count for value, count in counts.items()) / n
    if n < 2:
        return {"scored": n, "mean": mean, "low": None, "high": None}
    variance = sum(count * (value - mean) ** 2 for value, count in counts.items()) / (n - 1)
    half = float(distributions.t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
    return {"scored": n, "mean": mean, "low": mean - half, "high": mean + half}


def _binary(rows: list[dict]) -> dict:
    n = sum(row["n"] for row in rows)
    yes = sum(row["n"] for row in rows if row["number"] == 1)
    low, high = wilson(yes, n)
    return {"scored": n, "yes": yes, "rate": rate(yes, n), "low": low, "high": high}


def _ordinal(rows: list[dict]) -> dict:
    return mean_interval({float(row["number"]): row["n"] for row in rows})


def _categorical(rows: list[dict]) -> dict:
    n = sum(row["n"] for row in rows)
    shares = []
    for row in sorted(rows, key=lambda row: (-row["n"], row["value"])):
        low, high = wilson(row["n"], n)
        shares.append({"option": row["value"], "count": row["n"], "share": rate(row["n"], n), "low": low, "high": high})
    return {"scored": n, "shares": shares}


_SUMMARIES = {"binary": _binary, "ordinal": _ordinal, "categorical": _categorical}


def criteria(conn, filters: Filters) -> list[dict]:
    """Per criterion (and kind): `overall`, `by_assistant` and `by_model`, each a summary as its kind
    gives (see the module), the groups with their `assistant_id` or `model_name`."""
    votes, params = votes_where(filters, whole_run=True)
    found: dict[tuple[str, str], dict] = {}
    for part, group in GROUPS.items():
        cells: dict[tuple[str, str, object], list[dict]] = {}
        for row in conn.all(_COUNTS.format(group=group, votes=votes), params):
            row["n"] = int(row["n"])
            cells.setdefault((row["criterion"], row["kind"], row["grp"]), []).append(row)
        for (criterion, kind, grp), rows in cells.items():
            entry = found.setdefault(
                (criterion, kind), {"criterion": criterion, "kind": kind, "by_assistant": [], "by_model": []}
            )
            summary = _SUMMARIES[kind](rows)
            if part == "overall":
                entry["overall"] = summary
            else:
                entry[part].append({_KEYS[part]: grp, **summary})
    return [found[key] for key in sorted(found)]
