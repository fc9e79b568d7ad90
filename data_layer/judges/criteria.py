"""A judge against people criterion by criterion: its rubric scores beside the reviewers' on the same runs.

Where a judge's whole-run verdict carries rubric scores (`judge_votes.scores`) and reviewers' whole-run
votes on the same run scored the same criterion (`vote_scores`, `data_layer/scores.py`), the
reviewers' majority on that criterion is taken as the truth, as their majority is for the thumbs:
- a binary criterion gets the judge's 2x2 table against it ("yes" the positive), its sensitivity and
  specificity with Wilson intervals and Cohen's kappa (`calibration.hit_rates`);
- an ordinal or categorical one gets how often the judge gives exactly the reviewers' value, with the
  Wilson interval of that rate, and on how many runs.
A run counts for a criterion only when the reviewers' scores on it have one most common value (a tie
has no majority) and the judge's score reads as a value of the criterion's kind (`rubric.Criterion`).
The criterion's kind is the one the reviewers' scores were stored with. Reads nothing itself: the
repository (`JudgeRepo.calibration`) reads the rows with `JUDGE_SCORES` and `PEOPLE_SCORES`.
"""

from __future__ import annotations

import json
from collections import Counter

from data_layer import analysis
from data_layer.errors import InvalidInput
from data_layer.judges import calibration
from data_layer.queues.rubric import Criterion, Kind

# The judge's scored whole-run verdicts (`{sampled}`: the condition on the run `j.run_id` that the
# calibration's choice of runs asks), and the reviewers' whole-run scores on those runs.
JUDGE_SCORES = """
SELECT j.run_id, j.scores FROM judge_votes j
WHERE j.judge = $judge AND j.scope = '' AND j.scores IS NOT NULL AND {sampled}
ORDER BY j.run_id
"""
PEOPLE_SCORES = """
SELECT s.run_id, s.criterion, s.kind, s.value
FROM vote_scores s JOIN feedback f ON f.feedback_id = s.feedback_id
WHERE f.source = 'reviewer' AND f.scope = ''
  AND s.run_id IN (SELECT j.run_id FROM judge_votes j WHERE j.judge = $judge AND j.scope = '' AND j.scores IS NOT NULL)
ORDER BY s.run_id, s.criterion, s.value
"""


def _majority(values: list[str]) -> str | None:
    """The one most common value, or None on a tie."""
    ranked = Counter(values).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def _judge_value(criterion: str, kind: Kind, given) -> str | None:
    """The judge's score as the text a reviewer's would be stored as, or None when it does not read as
    one of the kind (a categorical value is compared as given)."""
    if kind == "categorical":
        return given if isinstance(given, str) else None
    try:
        return Criterion(criterion, kind).value(given)[0]
    except InvalidInput:
        return None


def by_criterion(judge_rows: list[dict], people_rows: list[dict]) -> list[dict]:
    """Per criterion both scored (sorted by name): its kind, the runs compared and, for a binary one,
    the judge's hit rates against the reviewers' majority; for another, its exact-match rate."""
    people: dict[tuple[str, str], dict[str, list[str]]] = {}
    kinds: dict[str, Counter] = {}
    for row in people_rows:
        people.setdefault((row["run_id"], row["criterion"]), {}).setdefault(row["kind"], []).append(row["value"])
        kinds.setdefault(row["criterion"], Counter())[row["kind"]] += 1
    kind_of = {criterion: counted.most_common(1)[0][0] for criterion, counted in kinds.items()}
    pairs: dict[str, list[tuple[str, str]]] = {}
    for row in judge_rows:
        scores = json.loads(row["scores"]) if isinstance(row["scores"], str) else row["scores"]
        for criterion, given in (scores or {}).items():
            kind = kind_of.get(criterion)
            values = people.get((row["run_id"], criterion), {}).get(kind or "", [])
            truth = _majority(values) if values else None
            said = _judge_value(criterion, kind, given) if kind else None
            if truth is not None and said is not None:
                pairs.setdefault(criterion, []).append((said, truth))
    return [_numbers(criterion, kind_of[criterion], pairs[criterion]) for criterion in sorted(pairs)]


def _numbers(criterion: str, kind: str, pairs: list[tuple[str, str]]) -> dict:
    out: dict = {"criterion": criterion, "kind": kind, "runs": len(pairs)}
    if kind == "binary":
        cells = Counter(pairs)
        table = (cells["yes", "yes"], cells["no", "yes"], cells["yes", "no"], cells["no", "no"])
        return {**out, **calibration.hit_rates(*table)}
    matches = sum(said == truth for said, truth in pairs)
    low, high = analysis.wilson(matches, len(pairs))
    return {**out, "matches": matches, "match_rate": analysis.rate(matches, len(pairs)), "match_low": low,
            "match_high": high}  # fmt: skip
