"""The demo's two LLM judges: deterministic verdicts, each with a short rationale, on most runs.

`helpfulness-v1@gpt-4.1` is close to people: it calls about 90 % of good runs good and 90 % of bad
runs bad. `lenient-v1@small-model` passes too much: it calls nearly every good run good but only half
of the bad runs bad, so its raw pass rate runs high and the rate corrected for its errors sits well
below it. A judge sees a run's hidden truth through its own errors: the truth is people's verdict
where there is one (a lead's adjudication, else the majority of the reviewers' whole-run votes), else an
end user's thumbs on the run, else a draw at the odds of a run of that status. Each judge skips a
few runs, as a judge that timed out would.

Both are calibrated on the `judge-calibration` queue: a random quarter of the runs for one reviewer
each, whose votes the demo's reviewers have already given on most of them. (The `weekly-sample` queue,
a 5 % sample, is its subset: both sample by the same seed.) It is not blind, so the demo's thread pages
show their votes.
"""

from __future__ import annotations

import random
from collections import defaultdict

from data_layer.errors import Conflict, InvalidInput
from data_layer.queues import QueueSpec

# Each judge: its sensitivity, its specificity, and the share of runs it leaves unjudged.
JUDGES = {
    "helpfulness-v1@gpt-4.1": (0.9, 0.9, 0.06),
    "lenient-v1@small-model": (0.97, 0.5, 0.1),
}
_RATIONALES = {
    ("helpfulness-v1@gpt-4.1", 1): [
        "Answers the question asked; the steps follow from the tool results.",
        "Correct and concise, and it cites where the facts come from.",
        "Handles the case the user named, with a clear next step.",
        "Accurate and complete for what the user needed.",
    ],
    ("helpfulness-v1@gpt-4.1", -1): [
        "Relies on outdated information: the version it names is no longer current.",
        "Does not answer the question that was asked.",
        "Ignores a constraint the user gave.",
        "Too long; the answer the user needs is buried at the end.",
    ],
    ("lenient-v1@small-model", 1): [
        "Polite and on topic.",
        "The answer looks complete.",
        "Well formatted and friendly.",
    ],
    ("lenient-v1@small-model", -1): [
        "Off topic.",
        "The answer is unclear.",
    ],
}
_NO_ANSWER = "The run ended before giving an answer."

CALIBRATION = QueueSpec(
    "judge-calibration",
    instructions="A random quarter of all runs, rated by people so that the LLM judges can be checked against "
    "them (the Judges page). Judge the **whole run**.",
    sample_rate=0.25,
)


def _truths(records: list[dict], adjudicated: dict[str, str], rng: random.Random) -> dict[str, bool]:
    """Each run's hidden truth: good or not."""
    panel: dict[str, int] = defaultdict(int)
    thumbs: dict[str, int] = {}
    for record in records:
        if record["kind"] != "feedback" or record.get("message_id"):
            continue
        if record["source"] == "reviewer":
            panel[record["run_id"]] += record["rating"]
        else:
            thumbs[record["run_id"]] = record["rating"]
    truths = {}
    for record in records:
        if record["kind"] != "run":
            continue
        run_id = record["run_id"]
        if run_id in adjudicated:
            truths[run_id] = adjudicated[run_id] == "good"
        elif panel[run_id]:
            truths[run_id] = panel[run_id] > 0
        elif run_id in thumbs:
            truths[run_id] = thumbs[run_id] > 0
        else:
            truths[run_id] = rng.random() < (0.75 if record["status"] == "success" else 0.25)
    return truths


def verdicts(records: list[dict], adjudicated: dict[str, str], seed: int) -> list[dict]:
    """Both judges' verdicts on the runs of `records` (the demo's import records), given the runs a lead
    adjudicated (run id to `good` or `bad`): `JudgeRepo.put_many`'s fields, and an import record's but for
    its kind and source."""
    # the judges' own stream, apart from the demo's; at the default seed its calibration runs show both judges
    # near the hit rates of `JUDGES` (as a few of the neighbouring streams do not, by chance)
    rng = random.Random(seed * 7919 + 8)
    truths = _truths(records, adjudicated, rng)
    runs = [record for record in records if record["kind"] == "run"]
    out = []
    for judge, (sensitivity, specificity, skipped) in JUDGES.items():
        for run in runs:
            if rng.random() < skipped:
                continue
            good = truths[run["run_id"]]
            says_good = rng.random() < (sensitivity if good else 1 - specificity)
            rating = 1 if says_good else -1
            answered = run["status"] == "success"
            rationale = _NO_ANSWER if not answered and rating == -1 else rng.choice(_RATIONALES[judge, rating])
            verdict = {
                "judge": judge,
                "thread_id": run["thread_id"],
                "run_id": run["run_id"],
                "rating": rating,
                "rationale": rationale,
            }
            if judge == "helpfulness-v1@gpt-4.1":
                verdict["scores"] = {
                    "factual": rng.random() < (0.92 if says_good else 0.4),
                    "helpfulness": rng.choice((4, 4, 5) if says_good else (1, 2, 2)),
                }
            out.append(verdict)
    return out


def seed(store, records: list[dict], seed: int, *, actor) -> int:
    """Define the queue that calibrates the judges (`CALIBRATION`) unless it exists, and import both judges'
    verdicts on the demo's runs into `store` as `actor` (the demo's other records arrive the same way);
    returns how many verdicts were written."""
    try:
        store.queues.create(CALIBRATION, actor=actor)
    except Conflict:
        pass
    adjudicated = {
        row["run_id"]: row["verdict"]
        for row in store.queues.adjudications("weekly-sample", actor=actor)
        if row["verdict"] is not None
    }
    given = [{"kind": "feedback", "source": "judge", **verdict} for verdict in verdicts(records, adjudicated, seed)]
    report = store.ingest(given, actor=actor)
    if not report.ok:
        raise InvalidInput(f"the demo judges' verdicts were refused: {report.errors[:1]}")
    return report.counts.get("judge", 0)
