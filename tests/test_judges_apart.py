"""Judges' verdicts never count as people's votes: 1,000 verdicts of ten LLM judges beside ten human
votes change no number that people's votes make (the stats, compare, agreement, disagreements, themes,
the daily series, the export, the threads' and runs' tallies, the queues' items, estimate, agreement and
progress), while the judges' own numbers count all 1,000. On both engines."""

from __future__ import annotations

from data_layer import export, insights, stats
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.test_queues import runs, vote

JUDGES = [f"judge-{n}@model-{n}" for n in range(10)]
RUNS = 100


def human_votes() -> list[dict]:
    """Ten people's votes: four end users and six reviewer votes, with comments and reasons."""
    votes = [
        vote("r-0", "ana", -1) | {"comment": "Outdated information about the API version", "tags": ["incorrect"]},
        vote("r-0", "bo", -1) | {"comment": "Outdated information, wrong version", "tags": ["incorrect"]},
        vote("r-1", "ana", 1) | {"comment": "Clear and correct"},
        vote("r-1", "bo", -1) | {"comment": "Too verbose", "tags": ["style_tone"]},
        vote("r-12", "ana", 1),
        vote("r-55", "bo", -1) | {"comment": "Did not answer the question", "tags": ["not_as_expected"]},
        vote("r-0", "eu-1", -1, "end_user") | {"comment": "outdated information again"},
        vote("r-1", "eu-2", 1, "end_user"),
        vote("r-12", "eu-3", -1, "end_user") | {"tags": ["slow"]},
        vote("r-70", "eu-4", 1, "end_user"),
    ]
    for record in votes:
        record.setdefault("tags", [])
    return votes


def people_numbers(store) -> dict:
    """Every number people's votes make, as each reader answers it."""
    a, b = {"assistant_id": "a1"}, {"assistant_id": "a2"}
    return {
        "overview": stats.overview(store),
        "dashboard": stats.dashboard(store, actor=SYSTEM),
        "reviewer dashboard": stats.dashboard(store, {"source": "reviewer"}, actor=SYSTEM),
        "slice counts": insights.slice_counts(store),
        "compare": insights.compare_slices(store, a, b),
        "compare all": insights.compare_all(store, "assistant_id"),
        "counts by model": insights.counts_by(store, "model_name"),
        "agreement": insights.end_user_agreement(store),
        "disagreements": insights.disagreements(store, actor=SYSTEM),
        "reviewers": insights.reviewers(store, actor=SYSTEM),
        "themes": insights.themes(store, actor=SYSTEM),
        "tags": insights.tags_by(store, "assistant_id"),
        "daily": insights.daily_series(store),
        "export count": export.count(store, actor=SYSTEM),
        "export rows": export.preview(store, actor=SYSTEM, limit=1000),
        "threads": store.threads.list(limit=100),
        "threads with a thumbs-down": store.threads.count({"has_negative": True}),
        "thread": store.threads.get("r-t0"),
        "run aggregate": store.feedback.aggregate_by_run("r-t0", "r-0", actor=SYSTEM),
        "votes": store.feedback.list_by_thread("r-t0", actor=SYSTEM),
        "thread tallies": store.queues.thread_tallies("r-t0", actor=SYSTEM),
        "queue items": store.queues.items("sample", actor=SYSTEM, limit=1000),
        "estimate": store.queues.estimate("sample", by="assistant_id", actor=SYSTEM),
        "queue agreement": store.queues.agreement("sample", actor=SYSTEM),
        "progress": store.queues.progress("sample", actor=SYSTEM),
        "queues": store.queues.list(actor=SYSTEM),
    }


def test_a_thousand_judge_verdicts_change_no_number_people_make(store):
    records = runs(RUNS)
    for record in records:
        if record["kind"] == "run" and int(record["run_id"][2:]) >= RUNS // 2:
            record["assistant_id"] = "a2"
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("sample", sample_rate=1.0, reviewers_per_item=2), actor=SYSTEM)
    assert store.ingest(human_votes(), actor=SYSTEM).ok
    before = people_numbers(store)
    assert before["overview"]["votes"] == 10 and before["export count"] == 10  # people's numbers are not empty

    verdicts = [
        {
            "judge": judge,
            "thread_id": f"r-t{n // 10}",
            "run_id": f"r-{n}",
            "rating": -1 if (n + number) % 3 else 1,
            "rationale": f"Outdated information, says {judge}",
        }
        for number, judge in enumerate(JUDGES)
        for n in range(RUNS)
    ]
    assert store.judges.put_many(verdicts, actor=SYSTEM) == 1000
    after = people_numbers(store)

    for name, numbers in before.items():
        assert after[name] == numbers, name
    judged = store.judges.summary(actor=SYSTEM)
    assert [row["judge"] for row in judged] == JUDGES
    assert sum(row["judged_runs"] for row in judged) == 1000
    # the judges are calibrated against people's verdicts alone: the runs where two reviewers agree or one voted
    assert {row["calibration_runs"] for row in judged} == {3}
    assert sum(len(store.judges.for_thread(f"r-t{n}", actor=SYSTEM)) for n in range(RUNS // 10)) == 1000
