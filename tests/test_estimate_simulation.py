"""The estimate of all traffic's quality, by simulation with a known truth, through the real path: runs
and votes go in by the public import into a DuckDB file, the queue samples them by its own hash, and
the estimate is the queue's SQL (`estimate.SUMS`, split by assistant: one assistant per repetition).

Each of 200 repetitions is a day of traffic with a share of good runs drawn around 78 %, a 5 % sample,
three reviewers per sampled run who each err independently at a known rate, and end users who vote
mostly on bad runs. The 95 % interval covers the day's true share in 92 to 98 % of repetitions; the end
users' rate of good votes lies outside it in nearly all of them.

Why reviewers who err leave the estimate honest: an item's verdict is the majority of three, wrong only
when at least two of them err, with probability m = ab + ac + bc - 2abc = 1.13 % for error rates a, b,
c of 5, 6 and 8 %. The estimate then centres on p(1 - m) + (1 - p)m = p - m(2p - 1), 0.6 pp below a
true share p of 78 %. Against the interval's half-width at about 200 items, 1.96 * sqrt(p(1 - p) / 200)
= 5.7 pp (a standard error of 2.9 pp), that bias is 0.22 standard errors and lowers the coverage from
95 % to about 94.4 %. One reviewer per item erring 20 % of the time would shift it by 11 pp, nearly four
standard errors: the interval would almost never cover the truth (the test fails so, and with an
interval narrowed to 60 % of its width).

Only the sampled runs are stored: the rest of each day's traffic counts toward its truth alone, as it
never reaches the estimate; which runs are sampled is the queue's own function (`sample_point`), and
the queue, created before the import, takes them as they arrive.
"""

from __future__ import annotations

import random

import pytest

from data_layer import open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec, sample_point

REPETITIONS = 200
TRAFFIC = 4_000  # runs in a day
RATE = 0.05
SEED = 19
ERRORS = {"rev-a": 0.05, "rev-b": 0.06, "rev-c": 0.08}  # each reviewer's chance to judge a run wrong
END_USER_VOTES = {True: 0.02, False: 0.25}  # an end user's chance to vote on a good and on a bad run


def day(rng: random.Random, n: int, errors: dict[str, float]) -> tuple[list[dict], float]:
    """Day `n`'s import records (its sampled runs, their reviewers' and end users' votes) and the true
    share of good runs in all of its traffic."""
    thread, assistant = f"day{n}", f"day{n:03d}"
    truth_rate = rng.uniform(0.7, 0.86)
    records, good_runs = [{"kind": "thread", "thread_id": thread}], 0
    for number in range(TRAFFIC):
        good = rng.random() < truth_rate
        good_runs += good
        run_id = f"d{n}-{number}"
        if sample_point(run_id, SEED) >= RATE:
            continue
        records.append({"kind": "run", "run_id": run_id, "thread_id": thread, "assistant_id": assistant})
        on = {"kind": "feedback", "thread_id": thread, "run_id": run_id}
        for reviewer, error in errors.items():
            right = rng.random() >= error
            rating = 1 if good == right else -1
            records.append({**on, "owner_id": reviewer, "source": "reviewer", "rating": rating})
        if rng.random() < END_USER_VOTES[good]:
            records.append({**on, "owner_id": f"user-{run_id}", "source": "end_user", "rating": 1 if good else -1})
    return records, good_runs / TRAFFIC


def simulate(db: str, errors: dict[str, float]) -> list[tuple[dict, float]]:
    """Each day's estimate (as `QueueRepo.estimate` splits it by assistant) with its true share."""
    rng = random.Random(7)
    days = [day(rng, n, errors) for n in range(REPETITIONS)]
    with open_store(db) as store:
        store.queues.create(
            QueueSpec("daily", sample_rate=RATE, reviewers_per_item=len(errors), blind=True, seed=SEED), actor=SYSTEM
        )
        report = store.ingest([record for records, _ in days for record in records], actor=SYSTEM)
        assert report.ok, report.summary()
        groups = store.queues.estimate("daily", by="assistant_id", actor=SYSTEM)["groups"]
    assert [group["assistant_id"] for group in groups] == [f"day{n:03d}" for n in range(REPETITIONS)]
    return [(group, truth) for group, (_, truth) in zip(groups, days, strict=True)]


def covers(group: dict, value: float, narrowed: float = 1.0) -> bool:
    half = (group["high"] - group["low"]) / 2 * narrowed
    centre = (group["high"] + group["low"]) / 2
    return centre - half <= value <= centre + half


@pytest.mark.slow
def test_the_interval_covers_the_truth_in_92_to_98_percent_of_days_and_the_end_users_rate_in_almost_none(tmp_path):
    found = simulate(str(tmp_path / "simulation.duckdb"), ERRORS)
    for group, _ in found:
        # every sampled run has its three votes and a majority: nothing is disputed or left out
        assert group["rated_items"] == group["sampled_items"] and group["disputed_items"] == 0
        assert 140 < group["sampled_items"] < 260
    covered = sum(covers(group, truth) for group, truth in found)
    assert 184 <= covered <= 196, covered
    # the band is narrow enough to catch an interval too narrow for its data
    assert sum(covers(group, truth, narrowed=0.6) for group, truth in found) < 184
    # end users vote mostly when annoyed: their share of thumbs-up says little of the traffic
    rated = [(group, group["end_user_rate"]) for group, _ in found if group["end_user_rate"] is not None]
    assert len(rated) >= 190
    assert sum(not covers(group, rate) for group, rate in rated) >= 0.95 * len(rated)
    assert sum(rate for _, rate in rated) / len(rated) < 0.4 < sum(truth for _, truth in found) / len(found)
