"""Precision advice (`data_layer/queues/advice.py`) with numbers worked by hand, and the estimate in words
beside the end users' thumbs (`data_layer/queues/words.py`); the store's advice on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from data_layer.auth import SYSTEM, Actor
from data_layer.errors import InvalidInput
from data_layer.queues import QueueSpec, advice, words

# z = 1.959964, z^2 = 3.841459
TRAFFIC = [{"assistant_id": "a1", "runs": 40_000}, {"assistant_id": "a2", "runs": 8_000}]


def test_the_needed_runs_follow_z_squared_p_q_over_m_squared():
    assert advice.needed(0.5, 0.03) == 1068  # 3.841459 * 0.25 / 0.0009 = 1067.07
    assert advice.needed(0.8, 0.05) == 246  # 3.841459 * 0.16 / 0.0025 = 245.85
    assert advice.needed(0.5, 0.5) == 4  # 3.84
    assert advice.reached(0.5, 500) == pytest.approx(0.043826, abs=1e-6)  # 1.959964 * sqrt(0.25 / 500)


def test_the_rate_serves_the_quietest_assistant_and_says_the_work_it_takes():
    found = advice.advise(TRAFFIC, m=0.03, estimate=None, rate=0.05, k=2)
    # a1 10,000 runs a week, a2 2,000: a2 needs 1,068 of its 2,000, a rate of 0.534
    assert [(g["assistant_id"], g["runs_per_week"]) for g in found["assistants"]] == [("a1", 10_000), ("a2", 2_000)]
    assert (found["p"], found["p_from"], found["needed_per_week"]) == (0.5, "assumed", 1068)
    assert found["sample_rate"] == pytest.approx(0.534) and not found["capped"]
    assert found["quietest"] == "a2"
    assert found["items_per_week"] == pytest.approx(6408)  # 0.534 * 12,000
    assert found["votes_per_week"] == pytest.approx(12_816)  # times 2 reviewers
    assert found["sentence"] == (
        "Each assistant needs 1,068 rated runs a week for +- 3 pp at 95 % (p = 50 % assumed, as there is no "
        "estimate yet); the quietest, a2, has 2,000 a week. A sample rate of 53.4 % (now 5.0 %) gives it that. "
        "That is about 6,408 runs and 12,816 reviewer votes a week with 2 reviewers per run."
    )


def test_the_estimate_sets_p_held_off_zero_and_one():
    assert advice.advise(TRAFFIC, m=0.05, estimate=0.8, rate=0.05, k=1)["needed_per_week"] == 246
    assert advice.advise(TRAFFIC, m=0.05, estimate=0.8, rate=0.05, k=1)["sample_rate"] == pytest.approx(0.123)
    sure = advice.advise(TRAFFIC, m=0.05, estimate=1.0, rate=0.05, k=1)
    assert (sure["p"], sure["p_from"], sure["needed_per_week"]) == (0.95, "estimate", 73)  # 3.841459*0.0475/0.0025


def test_traffic_too_small_is_capped_at_every_run_with_the_margin_it_reaches():
    small = [{"assistant_id": "a1", "runs": 40_000}, {"assistant_id": None, "runs": 2_000}]
    found = advice.advise(small, m=0.03, estimate=None, rate=0.05, k=1)
    assert (found["sample_rate"], found["capped"]) == (1.0, True)
    assert found["assistants"][1]["rate_needed"] == pytest.approx(2.136)  # 1,068 of 500 a week
    assert "runs without an assistant, has 500 a week" in found["sentence"]
    assert "Even a sample of every run (100 %) gives it only +- 4.4 pp a week" in found["sentence"]
    assert "about 10,500 runs and 10,500 reviewer votes a week with 1 reviewer per run" in found["sentence"]
    empty = advice.advise([], m=0.03, estimate=None, rate=0.05, k=1)
    assert empty["sample_rate"] is None and "no traffic" in empty["sentence"]


@pytest.mark.parametrize("bad", [0, 0.0001, 0.6, -0.03, "0.03", True, float("nan"), None])
def test_a_margin_outside_the_range_is_refused_naming_it(bad):
    with pytest.raises(InvalidInput, match="margin must be"):
        advice.margin(bad)


def test_the_sentence_sets_the_end_users_beside_the_sample():
    found = {
        "sampled_items": 1000,
        "end_user_votes": 31,
        "end_user_rate": 0.62,
        "end_user_voted_share": 0.031,
        "estimate": 0.79,
        "low": 0.75,
        "high": 0.83,
    }
    assert words.compare(found) == (
        "End users voted on 3.1 % of the sampled runs and 38 % of those 31 votes were down; the random sample "
        "says 21 % +- 4 pp of all runs are bad: the end users' share of thumbs-down is 17 pp higher."
    )
    lower = {**found, "end_user_rate": 0.9, "end_user_votes": 1}
    assert words.compare(lower).endswith(
        "10 % of those 1 vote were down; the random sample says 21 % +- 4 pp "
        "of all runs are bad: the end users' share of thumbs-down is 11 pp lower."
    )
    silent = {**found, "end_user_votes": 0, "end_user_rate": None, "end_user_voted_share": 0}
    assert words.compare(silent) == (
        "End users voted on none of the 1,000 sampled runs; the random sample says 21 % +- 4 pp of all runs are bad."
    )
    assert "has no judged run yet" in words.compare({**found, "estimate": None})
    assert "no randomly sampled run" in words.compare({"sampled_items": 0})


def runs_at(prefix: str, assistant: str, count: int, newest: datetime, spread: timedelta) -> list[dict]:
    step = spread / count
    records = [{"kind": "thread", "thread_id": f"{prefix}-t"}]
    records += [
        {
            "kind": "run",
            "run_id": f"{prefix}-{n}",
            "thread_id": f"{prefix}-t",
            "assistant_id": assistant,
            "created_at": (newest - n * step).isoformat(),
        }
        for n in range(count)
    ]
    return records


def test_the_store_advises_from_the_four_weeks_up_to_the_newest_run(store):
    newest = datetime(2026, 11, 30, 12, tzinfo=UTC)
    records = runs_at("a", "a1", 400, newest, timedelta(days=27))  # 100 a week
    records += runs_at("b", "a2", 200, newest - timedelta(hours=1), timedelta(days=27))  # 50 a week
    records += runs_at("old", "a2", 300, newest - timedelta(days=40), timedelta(days=10))  # before the window
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("weekly", sample_rate=0.1, reviewers_per_item=2), actor=SYSTEM)
    found = store.queues.advice("weekly", margin=0.25, actor=Actor("vi", "viewer"))
    # p = 0.5 (no vote yet): 3.841459 * 0.25 / 0.0625 = 15.37, so 16 runs a week; a2 has 50
    assert [(g["assistant_id"], g["runs_per_week"]) for g in found["assistants"]] == [("a1", 100), ("a2", 50)]
    assert (found["queue"], found["needed_per_week"], found["current_rate"]) == ("weekly", 16, 0.1)
    assert found["sample_rate"] == pytest.approx(0.32)
    assert (found["items_per_week"], found["votes_per_week"]) == (pytest.approx(48), pytest.approx(96))
    with pytest.raises(InvalidInput, match="margin must be"):
        store.queues.advice("weekly", margin=2, actor=SYSTEM)
