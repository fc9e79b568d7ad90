"""Precision advice: the sample rate a queue needs for a chosen margin of its estimate, at the current
traffic.

To estimate a share p to within +- m at 95 % (z = 1.96) from a simple random sample, a group needs
n = z^2 p(1 - p) / m^2 rated runs. The advice asks that of every assistant in every week: at the
current traffic (runs per week of each assistant over the four weeks up to the newest run), the
queue's rate must give the quietest assistant n sampled runs a week, so the rate is n over that
assistant's weekly runs, capped at 1 (every run) with a sentence saying what margin that reaches.
p is the queue's current estimate of the share of good runs, held no closer to 0 or 1 than `P_FLOOR`
(a small sample that saw no bad run does not show there are none), or 0.5 (the most demanding) when
there is no estimate yet.

Reviewers per item do not change n (each sampled run gives one verdict however many judge it); they
set the work: the reviewer votes a week that the rate implies are its runs a week times k.
"""

from __future__ import annotations

import math
from datetime import timedelta

from data_layer import analysis
from data_layer.errors import InvalidInput

WEEKS = 4
P_FLOOR = 0.05
MIN_MARGIN, MAX_MARGIN = 0.001, 0.5

NEWEST = "SELECT max(created_at) FROM runs"

TRAFFIC = """
SELECT assistant_id, count(*) AS runs
FROM runs
WHERE created_at > $since AND created_at <= $until
GROUP BY assistant_id
ORDER BY assistant_id NULLS LAST
"""


def margin(value) -> float:
    """The margin asked for, as a share (0.03 for +- 3 pp): `InvalidInput` unless from 0.001 to 0.5."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"margin must be a number such as 0.03 (for +- 3 pp), got {value!r:.40}")
    if not MIN_MARGIN <= value <= MAX_MARGIN:
        raise InvalidInput(f"margin must be from {MIN_MARGIN} to {MAX_MARGIN} (a share: 0.03 is +- 3 pp), got {value}")
    return float(value)


def window(newest):
    """The traffic's window: the `WEEKS` weeks up to the newest run."""
    return newest - timedelta(weeks=WEEKS), newest


def needed(p: float, m: float, z: float = analysis.Z95) -> int:
    """Rated runs for +- m at the confidence of z around a share p (rounded up)."""
    return math.ceil(z * z * p * (1 - p) / (m * m) - 1e-9)


def reached(p: float, runs: float, z: float = analysis.Z95) -> float:
    """The margin that `runs` rated runs give around a share p."""
    return z * math.sqrt(p * (1 - p) / runs)


def advise(traffic: list[dict], *, m: float, estimate: float | None, rate: float, k: int) -> dict:
    """The advice from the traffic rows (`assistant_id`, `runs` in the window), the margin `m`, the
    queue's estimate (None when it has none), its current sample `rate` and reviewers per item `k`."""
    p = 0.5 if estimate is None else min(max(estimate, P_FLOOR), 1 - P_FLOOR)
    n = needed(p, m)
    groups = [
        {"assistant_id": row["assistant_id"], "runs_per_week": int(row["runs"]) / WEEKS, "rate_needed": None}
        for row in traffic
    ]
    for group in groups:
        group["rate_needed"] = n / group["runs_per_week"]
    out: dict = {
        "margin": m,
        "confidence": 0.95,
        "p": p,
        "p_from": "assumed" if estimate is None else "estimate",
        "estimate": estimate,
        "needed_per_week": n,
        "weeks": WEEKS,
        "assistants": groups,
        "current_rate": rate,
        "reviewers_per_item": k,
    }
    if not groups:
        out.update(sample_rate=None, capped=False, items_per_week=0.0, votes_per_week=0.0)
        out["sentence"] = f"No run arrived in the {WEEKS} weeks before the newest one: there is no traffic to plan for."
        return out
    quietest = min(groups, key=lambda group: group["runs_per_week"])
    wanted = quietest["rate_needed"]
    sample_rate = min(wanted, 1.0)
    weekly = sum(group["runs_per_week"] for group in groups)
    out.update(
        sample_rate=sample_rate,
        capped=wanted > 1.0,
        quietest=quietest["assistant_id"],
        items_per_week=sample_rate * weekly,
        votes_per_week=sample_rate * weekly * k,
    )
    out["sentence"] = _sentence(out, quietest, p)
    return out


def _name(assistant_id) -> str:
    return str(assistant_id) if assistant_id is not None else "runs without an assistant"


def _sentence(out: dict, quietest: dict, p: float) -> str:
    pp = f"+- {out['margin'] * 100:g} pp"
    basis = f"p = {p * 100:.0f} %"
    if out["p_from"] == "assumed":
        basis += " assumed, as there is no estimate yet"
    elif out["estimate"] != p:
        basis += f", the estimate of {out['estimate'] * 100:.0f} % held off 0 and 1"
    need = (
        f"Each assistant needs {out['needed_per_week']:,} rated run{'s' if out['needed_per_week'] > 1 else ''} "
        f"a week for {pp} at 95 % ({basis}); "
        f"the quietest, {_name(quietest['assistant_id'])}, has {quietest['runs_per_week']:,.0f} a week."
    )
    work = (
        f"That is about {out['items_per_week']:,.0f} runs and {out['votes_per_week']:,.0f} reviewer votes a week "
        f"with {out['reviewers_per_item']} reviewer{'s' if out['reviewers_per_item'] > 1 else ''} per run."
    )
    if out["capped"]:
        best = reached(p, quietest["runs_per_week"])
        return (
            f"{need} Even a sample of every run (100 %) gives it only +- {best * 100:.1f} pp a week: the traffic "
            f"is too small for {pp} per week and assistant; widen the margin or judge months, not weeks. {work}"
        )
    return (
        f"{need} A sample rate of {out['sample_rate'] * 100:.1f} % (now {out['current_rate'] * 100:.1f} %) "
        f"gives it that. {work}"
    )
