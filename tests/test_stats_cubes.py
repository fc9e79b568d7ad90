"""The stats' counts kept on write (data_layer/cubes.py) on both engines: after a random mix of vote
writes and imports they equal a recount from the stored runs and votes, and the dashboard read from them
equals the dashboard counted from the votes and runs themselves."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from data_layer import cube_votes, cubes, integrity, open_store, schema, stats
from data_layer.auth import SYSTEM
from data_layer.errors import DataLayerError
from data_layer.filters import Filters
from data_layer.schema import REASON_TAGS
from data_layer.stats import cubes as stats_cubes

# Filters the cubes answer; the previous period of a full range is whole days too.
DAY_ALIGNED = (
    None,
    {"since": "2026-10-30", "until": "2026-11-03"},
    {"since": "2026-11-01T00:00:00Z"},
    {"assistant_id": "lead_agent"},
    {"model_name": "m1", "source": "end_user"},
    {"source": "reviewer", "until": "2026-11-02"},
    {"model_name": "m2", "assistant_id": "other", "since": "2026-10-25", "until": "2026-11-05"},
    # the reviewers' activity reads its cube, the rest counts the rows
    {"reviewer": "ann", "since": "2026-10-31"},
    {"reviewer": "bob", "source": "end_user"},
)


def _key(value: str | None) -> str:
    return "" if value is None else "=" + value


def recount(store) -> dict[str, Counter]:
    """Every cube's cells counted in Python from the runs and the votes, joined here by run id."""
    with store.engine.read() as conn:
        runs = {row["run_id"]: row for row in conn.all("SELECT * FROM runs")}
        votes = conn.all("SELECT run_id, owner_id, message_id, source, rating, tags FROM feedback")
    followed = {run["follow_up_to_run_id"] for run in runs.values()}
    out = {cube.table: Counter() for cube in cubes.CUBES}
    classes = {run_id: {"reviewer": 0, "end_user": 0} for run_id in runs}
    pairs: dict[tuple, list[int]] = {}
    panel = {run_id: [0, 0] for run_id in runs}
    for vote in votes:
        run = runs[vote["run_id"]]
        classes[vote["run_id"]][vote["source"]] |= 1 if vote["rating"] == 1 else 2
        if vote["source"] == "reviewer" and vote["owner_id"] is not None:
            if vote["message_id"] is None:
                panel[vote["run_id"]][0 if vote["rating"] == 1 else 1] += 1
            pair = pairs.setdefault((vote["run_id"], vote["owner_id"]), [0, 0, 0, 0])
            pair[0 if vote["rating"] == 1 else 1] += 1
            pair[2 if vote["message_id"] is None else 3] += 1
        if vote["message_id"] is not None:
            continue
        cell = (
            math.floor(run["created_at"].timestamp() / 86400),
            _key(run["assistant_id"]),
            _key(run["model_name"]),
            vote["source"],
        )
        out["vote_counts"][(*cell, vote["rating"])] += 1
        if vote["rating"] == -1:
            for tag in vote["tags"] or [cubes.UNTAGGED]:
                out["negative_tags"][(*cell, tag)] += 1
    for run_id, run in runs.items():
        cell = (
            math.floor(run["created_at"].timestamp() / 86400),
            _key(run["assistant_id"]),
            _key(run["model_name"]),
            run["status"] == "success",
            run_id in followed,
        )
        out["run_counts"][(*cell, classes[run_id]["reviewer"], classes[run_id]["end_user"])] += 1
    reviewers: dict[tuple, list[int]] = {}
    for (run_id, owner), (positive, negative, whole, message) in pairs.items():
        run = runs[run_id]
        cell = (
            math.floor(run["created_at"].timestamp() / 86400),
            _key(run["assistant_id"]),
            _key(run["model_name"]),
            owner,
        )
        counts = reviewers.setdefault(cell, [0, 0, 0, 0, 0])
        only_messages = int(whole == 0 and message > 0)
        for index, value in enumerate((positive + negative, positive, negative, whole, only_messages)):
            counts[index] += value
    out["reviewer_counts"] = Counter({cell: tuple(counts) for cell, counts in reviewers.items()})
    out["panel_counts"] = Counter()
    for run_id, (positive, negative) in panel.items():
        if positive + negative >= 2:
            run = runs[run_id]
            day = math.floor(run["created_at"].timestamp() / 86400)
            out["panel_counts"][
                (day, _key(run["assistant_id"]), _key(run["model_name"]), positive + negative, positive)
            ] += 1
    return out


def stored(store) -> dict[str, Counter]:
    out = {}
    with store.engine.read() as conn:
        for cube in cubes.CUBES:
            rows = conn.all(f"SELECT * FROM {cube.table}")
            cells = {row_key(row, cube): tuple(int(row[count]) for count in cube.counts) for row in rows}
            out[cube.table] = Counter(
                {cell: counts[0] if len(counts) == 1 else counts for cell, counts in cells.items() if any(counts)}
            )
    return out


def row_key(row: dict, cube) -> tuple:
    return tuple(row[name] for name in cube.keys)


def counted_from_rows(store, filters, monkeypatch) -> dict:
    """The dashboard as the aggregates count it from the votes and runs themselves."""
    with monkeypatch.context() as patch:
        patch.setattr(stats_cubes, "usable", lambda filters, **_: False)
        return stats.dashboard(store, filters, actor=SYSTEM)


def rounded(value):
    """`value` with its floats rounded: the agreement sums each run's share once from the runs, once per
    cell of runs alike from the cube, so the two sums may differ in their last bits."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def run(run_id: str, thread_id: str, **fields) -> dict:
    return {"kind": "run", "run_id": run_id, "thread_id": thread_id, "status": "success", **fields}


RUNS = (
    run("c1", "u1", assistant_id="lead_agent", model_name="m1", created_at="2026-10-30T23:59:59Z"),
    run("c2", "u1", assistant_id="lead_agent", model_name="m2", created_at="2026-10-31T00:00:00Z"),
    run("c3", "u2", assistant_id="other", model_name="", created_at="2026-11-01T12:00:00Z"),
    run("c4", "u2", assistant_id="other", status="error", created_at="2026-11-02T08:00:00Z"),
    run("c5", "u3", model_name="m2", created_at="2026-11-04T01:00:00Z"),
)


@pytest.fixture
def mixed(seeded):
    assert seeded.ingest(list(RUNS), actor=SYSTEM).ok
    return seeded


def _tags(rng: random.Random) -> list[str]:
    return rng.sample(REASON_TAGS, rng.choice((0, 0, 1, 2)))


def _random_writes(store, rng: random.Random, steps: int) -> None:
    runs = {"r1": "t1", "r2": "t1", "r3": "t2", **{r["run_id"]: r["thread_id"] for r in RUNS}}
    targets = [(run_id, None) for run_id in runs] + [("r1", "a1")]
    owners = ["ann", "bob", "eve", None]
    removed: list[str] = []
    days = ["2026-10-29", "2026-10-31", "2026-11-01", "2026-11-03"]
    for step in range(steps):
        run_id, message_id = rng.choice(targets)
        thread_id, owner, action = runs[run_id], rng.choice(owners), rng.random()
        if action < 0.4:
            write = store.feedback.upsert if owner else store.feedback.create
            write(
                thread_id=thread_id,
                run_id=run_id,
                message_id=message_id,
                owner_id=owner,
                rating=rng.choice((1, -1)),
                tags=_tags(rng),
                source=rng.choice(("reviewer", "end_user")),
                actor=SYSTEM,
            )
        elif action < 0.5 and owner:
            vote = store.feedback.find(run_id=run_id, owner_id=owner, message_id=message_id, actor=SYSTEM)
            if store.feedback.retract(
                thread_id=thread_id, run_id=run_id, owner_id=owner, message_id=message_id, actor=SYSTEM
            ):
                removed.append(vote["feedback_id"])
        elif action < 0.6:
            votes = store.feedback.list_by_thread(thread_id, actor=SYSTEM)
            if votes:
                gone = rng.choice(votes)["feedback_id"]
                assert store.feedback.delete(gone, thread_id=thread_id, actor=SYSTEM)
                removed.append(gone)
        elif action < 0.67 and removed:
            try:
                store.feedback.restore(removed.pop(rng.randrange(len(removed))), actor=SYSTEM)
            except DataLayerError:
                pass  # voted again since, or already back
        elif action < 0.77:
            record = {
                "kind": "feedback",
                "thread_id": thread_id,
                "run_id": run_id,
                "owner_id": f"imp-{step % 3}",
                "rating": rng.choice((1, -1)),
                "tags": _tags(rng),
                "source": rng.choice(("reviewer", "end_user")),
                "updated_at": f"2030-01-01T00:{step % 60:02d}:00Z",
            }
            assert store.ingest([record], actor=SYSTEM).ok
        elif action < 0.9 and run_id not in ("r1", "r2"):
            # A re-imported run: its model, assistant, status or time changed.
            changed = run(
                run_id,
                thread_id,
                status=rng.choice(("success", "error")),
                model_name=rng.choice(("m1", "m2", "")),
                assistant_id=rng.choice(("lead_agent", "other")),
                created_at=f"{rng.choice(days)}T{rng.randrange(24):02d}:00:00Z",
            )
            assert store.ingest([changed], actor=SYSTEM).ok, changed
        elif action < 0.95:
            new_id = f"n{step}"
            new_thread = rng.choice(("t1", "u2", f"w{step}"))
            fields = {"follow_up_to_run_id": rng.choice(list(runs))} if rng.random() < 0.5 else {}
            record = run(new_id, new_thread, model_name="m1", created_at=f"{rng.choice(days)}T06:00:00Z", **fields)
            assert store.ingest([record], actor=SYSTEM).ok, record
            runs[new_id] = new_thread
            targets.append((new_id, None))


@pytest.mark.slow
def test_the_cubes_equal_a_recount_after_random_writes_and_the_dashboard_equals_counting(mixed, monkeypatch):
    store = mixed
    _random_writes(store, random.Random(11), 160)
    # A reviewer's run rated only on a message, then as a whole as well, then only on the message again.
    zed = {"thread_id": "t1", "run_id": "r1", "owner_id": "zed", "actor": SYSTEM}
    store.feedback.upsert(**zed, message_id="a1", rating=-1)
    store.feedback.upsert(**zed, rating=1)
    assert store.feedback.retract(**zed)
    counts = recount(store)
    assert sum(counts["vote_counts"].values()) > 10 and sum(counts["negative_tags"].values()) > 3
    assert any(cell[4] for cell in counts["reviewer_counts"].values()), "a run rated only message by message"
    assert counts["panel_counts"], "runs rated by two reviewers or more"
    assert stored(store) == counts
    assert integrity.check(store) == {}
    for filters in DAY_ALIGNED:
        assert stats_cubes.usable(Filters.of(filters), by_reviewer=True)
        board, counted = stats.dashboard(store, filters, actor=SYSTEM), counted_from_rows(store, filters, monkeypatch)
        assert rounded(board) == rounded(counted), filters


def test_filters_the_cubes_cannot_answer_count_the_rows(mixed, monkeypatch):
    store = mixed
    store.feedback.create(thread_id="u1", run_id="c1", rating=-1, owner_id="ann", tags=["slow"], actor=SYSTEM)
    store.feedback.create(thread_id="u1", run_id="c2", rating=1, owner_id="bob", actor=SYSTEM)
    for filters in ({"reviewer": "ann"}, {"since": "2026-10-30T12:00:00Z"}, {"until": "2026-11-01T00:00:00.5Z"}):
        assert not stats_cubes.usable(Filters.of(filters))
    # Half a second cuts c2 off: counted from the votes, it is gone; the whole day keeps it.
    cut = {"since": "2026-10-31T00:00:00.5Z"}
    board = stats.dashboard(store, cut, actor=SYSTEM)
    assert board["headline"]["current"]["votes"] == 0
    assert stats.dashboard(store, {"since": "2026-10-31"}, actor=SYSTEM)["headline"]["current"]["votes"] == 1
    assert board == counted_from_rows(store, cut, monkeypatch)


def test_a_vote_write_moves_its_cells(mixed):
    store = mixed
    day = cube_votes.day_of(datetime(2026, 10, 30, 23, 59, 59, tzinfo=UTC))
    vote = store.feedback.create(
        thread_id="u1", run_id="c1", rating=-1, owner_id="ann", tags=["slow", "other"], actor=SYSTEM
    )
    cells = stored(store)
    assert cells["vote_counts"] == Counter({(day, "=lead_agent", "=m1", "reviewer", -1): 1})
    assert cells["negative_tags"] == Counter(
        {(day, "=lead_agent", "=m1", "reviewer", "slow"): 1, (day, "=lead_agent", "=m1", "reviewer", "other"): 1}
    )
    assert cells["run_counts"][(day, "=lead_agent", "=m1", True, True, 2, 0)] == 1  # c2 follows it up
    # Tags only: the run's tallies stay, the tag cells move.
    store.feedback.upsert(thread_id="u1", run_id="c1", rating=-1, owner_id="ann", tags=[], actor=SYSTEM)
    assert stored(store)["negative_tags"] == Counter({(day, "=lead_agent", "=m1", "reviewer", cubes.UNTAGGED): 1})
    assert store.feedback.delete(vote["feedback_id"], thread_id="u1", actor=SYSTEM)
    cells = stored(store)
    assert not cells["vote_counts"] and not cells["negative_tags"]
    assert cells == recount(store)


def test_the_migration_fills_the_cubes_and_refresh_repairs_them(store_url):
    with open_store(store_url) as first:
        assert first.ingest(list(RUNS), actor=SYSTEM).ok
        first.feedback.create(thread_id="u2", run_id="c3", rating=-1, owner_id="ann", actor=SYSTEM)
        first.feedback.create(thread_id="u2", run_id="c4", rating=1, source="end_user", actor=SYSTEM)

        def forget(conn):
            for cube in cubes.CUBES:
                conn.execute(f"DROP TABLE {cube.table}")
            conn.execute("DELETE FROM schema_version WHERE version = 18")

        first.engine.write(forget)
    with open_store(store_url) as again:
        assert again.schema_version == schema.STEPS[-1].version
        assert stored(again) == recount(again)
        assert sum(recount(again)["run_counts"].values()) == len(RUNS)
        again.engine.write(lambda conn: conn.execute("UPDATE vote_counts SET votes = votes + 3 WHERE rating = -1"))
        assert integrity.check(again) == {"stats counts in vote_counts out of date": 1}
        again.engine.write(cubes.refresh)
        assert integrity.check(again) == {}
