"""Is B better than A, by one judge's verdicts: raw, and corrected for the judge's errors.

The raw comparison is the same arithmetic as people's votes get (`analysis.compare`) over the judge's
whole-run verdicts in each slice. The corrected one applies the judge's overall hit rates (from its
calibration against people, `JudgeRepo.calibration`) to each slice: each slice's corrected rate with
its own Lang-Reiczigel interval, and the difference of the two, which is the raw difference divided
by the judge's Youden index (sensitivity + specificity - 1). The test of the difference is the raw
one: the same hit rates on both sides scale the difference without changing its sign or its p-value.
"""

from __future__ import annotations

from data_layer import analysis
from data_layer.filters import RUNS, Filters, conditions
from data_layer.judges import calibration

_COUNTS = """
SELECT count(*) AS votes, count(*) FILTER (WHERE j.rating = 1) AS positive
FROM judge_votes j JOIN runs r ON r.run_id = j.run_id
WHERE {run} AND j.scope = '' AND j.judge = $judge
"""


def _counts(conn, judge: str, filters) -> dict:
    # the slice's runs: a judge's verdict has no reviewer nor a people's source to filter by
    runs = {name: value for name, value in Filters.of(filters).as_dict().items() if name in RUNS}
    chosen = Filters.of(runs, takes=RUNS, reader="a judge's slice")
    run, params = conditions(chosen, RUNS)
    row = conn.one(_COUNTS.format(run=run), {**params, "judge": judge}) or {}
    return {"votes": int(row.get("votes") or 0), "positive": int(row.get("positive") or 0)}


def compare_slices(engine, judge: str, numbers: dict, a=None, b=None) -> dict:
    """Slice B against slice A by `judge`'s verdicts (only the slices' runs count: time, assistant, model),
    with `numbers` its calibration: `raw` as `analysis.compare` gives it, and `corrected` with each
    slice's corrected rate and the corrected difference, or the `reason` the judge cannot be corrected."""
    with engine.stale_read() as conn:
        counts_a, counts_b = _counts(conn, judge, a), _counts(conn, judge, b)
    raw = analysis.compare(counts_a, counts_b)
    table = tuple(numbers["table"][cell] for cell in ("tp", "fn", "fp", "tn"))
    sides = {
        side: calibration.corrected(counts["positive"], counts["votes"], *table)
        for side, counts in (("a", counts_a), ("b", counts_b))
    }
    corrected: dict = {"a": sides["a"], "b": sides["b"], "difference": None, "reason": None}
    if numbers["corrected_rate"] is None:
        corrected["reason"] = numbers["reason"]
    elif raw["difference"] is not None:
        youden = numbers["sensitivity"] + numbers["specificity"] - 1
        corrected.update(
            difference=raw["difference"] / youden,
            difference_low=raw["difference_low"] / youden,
            difference_high=raw["difference_high"] / youden,
            youden=youden,
        )
    return {"judge": judge, "raw": raw, "corrected": corrected, "calibration": numbers}
