"""What a queue's reviews say: each item's consensus, and the share of good runs in all traffic.

An item's consensus comes from the whole-run votes of named reviewers on its run (the run's panel
tallies, `data_layer.rollups`), however they were cast: `good` or `bad` by majority, `disputed` on a
tie, None before any vote; a lead's adjudication of the run overrides it everywhere.

The estimate uses the randomly sampled items alone (those with an inclusion probability; items of the
selection only are left out and counted apart). It is the design-weighted ratio (Hajek) of items
judged good, each weighted by one over its inclusion probability, over the items with a verdict; its
95 % interval is the Wilson interval at the weights' effective sample size (Kish: (sum w)^2 / sum w^2),
which for equal weights is the plain Wilson interval of the rated items. Disputed items have no verdict
and are counted apart.
"""

from __future__ import annotations

from data_layer import analysis

# An item's verdict (its run `r`, the run's adjudication `a`): the lead's when there is one, else the
# reviewers' majority, `disputed` on a tie, None before any vote.
CONSENSUS = """CASE WHEN a.verdict IS NOT NULL THEN a.verdict
     WHEN r.panel_positive > r.panel_negative THEN 'good'
     WHEN r.panel_negative > r.panel_positive THEN 'bad'
     WHEN r.panel_positive > 0 THEN 'disputed' END"""

# The item's run and the run's adjudication, for `CONSENSUS`.
ITEM_JOINS = """JOIN runs r ON r.run_id = q.run_id
LEFT JOIN adjudications a ON a.run_id = q.run_id"""

# The groups an estimate may be split by: fixed SQL over the item's run (alias `r`).
GROUPS = {
    "assistant_id": "r.assistant_id",
    "model_name": "r.model_name",
    "week": "CAST(date_trunc('week', r.created_at) AS DATE)",
}

_SUMS = """
SELECT {group} AS grp,
       count(*) FILTER (WHERE q.inclusion_probability IS NOT NULL) AS sampled_items,
       count(*) FILTER (WHERE q.inclusion_probability IS NULL) AS selected_only_items,
       count(*) FILTER (WHERE q.inclusion_probability IS NOT NULL AND {verdict} IN ('good', 'bad')) AS rated_items,
       count(*) FILTER (WHERE q.inclusion_probability IS NOT NULL AND {verdict} = 'disputed') AS disputed_items,
       count(*) FILTER (WHERE q.inclusion_probability IS NOT NULL AND a.verdict IS NOT NULL) AS adjudicated_items,
       sum(1.0 / q.inclusion_probability) FILTER (WHERE {verdict} IN ('good', 'bad')) AS weight,
       sum(1.0 / q.inclusion_probability) FILTER (WHERE {verdict} = 'good') AS good_weight,
       sum(1.0 / (q.inclusion_probability * q.inclusion_probability))
           FILTER (WHERE {verdict} IN ('good', 'bad')) AS square_weight,
       sum(r.end_user_positive) FILTER (WHERE q.inclusion_probability IS NOT NULL) AS end_user_positive,
       sum(r.end_user_negative) FILTER (WHERE q.inclusion_probability IS NOT NULL) AS end_user_negative,
       count(*) FILTER (WHERE q.inclusion_probability IS NOT NULL
                        AND r.end_user_positive + r.end_user_negative > 0) AS end_user_voted_items
FROM queue_items q {joins}
WHERE q.queue_name = $queue_name
GROUP BY grp
ORDER BY grp
"""


SUMS = _SUMS.replace("{verdict}", f"({CONSENSUS})").replace("{joins}", ITEM_JOINS)


def summarize(row: dict) -> dict:
    """One group's estimate from its sums (`SUMS`)."""
    sampled, rated = int(row.get("sampled_items") or 0), int(row.get("rated_items") or 0)
    weight, square = float(row.get("weight") or 0), float(row.get("square_weight") or 0)
    eu_up, eu_down = int(row.get("end_user_positive") or 0), int(row.get("end_user_negative") or 0)
    out: dict = {
        "sampled_items": sampled,
        "rated_items": rated,
        "disputed_items": int(row.get("disputed_items") or 0),
        "adjudicated_items": int(row.get("adjudicated_items") or 0),
        "selected_only_items": int(row.get("selected_only_items") or 0),
        "estimate": None,
        "low": None,
        "high": None,
        "end_user_rate": analysis.rate(eu_up, eu_up + eu_down),
        "end_user_votes": eu_up + eu_down,
        "end_user_voted_share": analysis.rate(int(row.get("end_user_voted_items") or 0), sampled),
    }
    if rated:
        estimate = float(row.get("good_weight") or 0) / weight
        effective = weight * weight / square
        low, high = analysis.wilson_of_share(estimate, effective)
        out.update(estimate=estimate, low=low, high=high, effective_size=effective)
    else:
        out["reason"] = "no sampled item has a verdict yet" if sampled else "the queue has no sampled item"
    return out
