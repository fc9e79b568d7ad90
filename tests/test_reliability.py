"""Nothing lost, nothing broken: concurrent writers, SIGKILL at random moments, hostile record streams."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_layer import demo, open_store
from data_layer.errors import DataLayerError
from data_layer.integrity import check

from .conftest import ROOT


def runs_of(store, limit=4):
    threads = store.threads.list(limit=limit, order="created_at asc")
    return [
        (thread["thread_id"], run["run_id"])
        for thread in threads
        for run in store.runs.list_by_thread(thread["thread_id"])
    ]


@pytest.mark.slow
def test_sixteen_writers_end_with_the_last_write_of_each_reviewer_and_target(demo_store):
    targets = runs_of(demo_store)[:4]
    last: dict[tuple[str, str], int | None] = {}
    failures: list[BaseException] = []
    barrier = threading.Barrier(16)

    def reviewer(n: int) -> None:
        rng = random.Random(n)
        owner = f"load-{n}"
        try:
            barrier.wait()
            for _ in range(40):
                thread_id, run_id = rng.choice(targets)
                if rng.random() < 0.25:
                    demo_store.feedback.retract(thread_id=thread_id, run_id=run_id, owner_id=owner)
                    last[(owner, run_id)] = None
                else:
                    rating = rng.choice((1, -1))
                    demo_store.feedback.upsert(thread_id=thread_id, run_id=run_id, rating=rating, owner_id=owner)
                    last[(owner, run_id)] = rating
        except BaseException as error:  # noqa: BLE001 - every failure is reported below
            failures.append(error)

    workers = [threading.Thread(target=reviewer, args=(n,)) for n in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    stored = {}
    for thread_id, run_id in targets:
        for row in demo_store.feedback.list_by_run(thread_id, run_id):
            if row["owner_id"].startswith("load-"):
                key = (row["owner_id"], run_id)
                assert key not in stored, f"duplicate vote {key}"
                stored[key] = row["rating"]
    assert stored == {key: rating for key, rating in last.items() if rating is not None}
    assert check(demo_store) == {}


# The children checkpoint after every write (on DuckDB's checkpoint thread, engines/duck.py), so that
# kills land during checkpoints too.
VOTER = """
import json, sys
from data_layer import open_store
from data_layer.engines import duck
duck.CHECKPOINT_BYTES = 1
store = open_store(sys.argv[1])
targets = json.loads(sys.argv[2])
print("ready", flush=True)
n = 0
while True:
    thread_id, run_id = targets[n % len(targets)]
    owner = f"{sys.argv[3]}-{n}"
    rating = 1 if n % 3 else -1
    row = store.feedback.create(thread_id=thread_id, run_id=run_id, rating=rating, owner_id=owner)
    print(json.dumps([row["feedback_id"], rating]), flush=True)
    n += 1
"""

IMPORTER = """
import sys
from data_layer import open_store
from data_layer.engines import duck
duck.CHECKPOINT_BYTES = 1
store = open_store(sys.argv[1])
print("ready", flush=True)
report = store.import_file(sys.argv[2])
print("done" if report.ok else report.summary(), flush=True)
"""


def run_and_kill(code: str, args: list[str], rng: random.Random) -> list[str]:
    """Start a child, kill it with SIGKILL at a random moment after it is ready; return what it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in child.stdout:
            if line.strip() == "ready":
                ready.set()
            else:
                lines.append(line.strip())

    reader = threading.Thread(target=read)
    reader.start()
    assert ready.wait(60), "child did not start"
    time.sleep(rng.uniform(0.05, 0.8))
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join()
    return lines


@pytest.mark.slow
def test_sigkill_during_votes_and_imports_loses_nothing_acknowledged(tmp_path):
    db = str(tmp_path / "crash.duckdb")
    with open_store(db) as store:
        assert demo.seed(store, threads=20, seed=1).ok
        targets = runs_of(store, limit=6)
    rng = random.Random(2026)
    acknowledged: dict[str, int] = {}
    imports: list[tuple[list[str], int]] = []
    for round_ in range(22):
        if round_ % 2 == 0:
            lines = run_and_kill(VOTER, [db, json.dumps(targets), f"crash{round_}"], rng)
            for line in lines:
                feedback_id, rating = json.loads(line)
                acknowledged[feedback_id] = rating
        else:
            records = demo.generate(threads=80, seed=100 + round_)
            path = tmp_path / f"import-{round_}.jsonl"
            path.write_text("\n".join(json.dumps(record) for record in records))
            thread_ids = [record["thread_id"] for record in records if record["kind"] == "thread"]
            events = sum(record["kind"] == "event" for record in records)
            run_and_kill(IMPORTER, [db, str(path)], rng)
            imports.append((thread_ids, events))
        with open_store(db) as reopened:
            assert check(reopened) == {}, f"integrity broken after kill {round_}"
            for feedback_id, rating in acknowledged.items():
                stored = reopened.feedback.get(feedback_id)
                assert stored is not None, f"acknowledged vote {feedback_id} lost after kill {round_}"
                assert stored["rating"] == rating
            for thread_ids, events in imports:
                present = sum(len(reopened.events.list(thread_id)) for thread_id in thread_ids)
                assert present in (0, events), f"partial import after kill {round_}: {present} of {events}"
    assert acknowledged, "no vote was acknowledged before any kill: the test proved nothing"


_ids = st.sampled_from(["t1", "t2", "t3", "r1", "r2", "r3", "x'y", "a/b", ""])
_record = st.one_of(
    st.fixed_dictionaries({"kind": st.just("thread"), "thread_id": _ids}),
    st.fixed_dictionaries(
        {"kind": st.just("run"), "run_id": _ids, "thread_id": _ids},
        optional={"status": st.sampled_from(["success", "error", "bogus"]), "total_tokens": st.integers(-5, 10**6)},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("event"),
            "thread_id": _ids,
            "run_id": _ids,
            "seq": st.integers(-2, 40),
            "event_type": st.sampled_from(["human_message", "ai_message", "llm.ai.response", "run_end", ""]),
        },
        optional={"content": st.one_of(st.text(max_size=30), st.just({"type": "ai", "content": "x", "id": "m1"}))},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("feedback"),
            "thread_id": _ids,
            "run_id": _ids,
            "rating": st.sampled_from([1, -1, 0, True, "1", 1.0]),
        },
        optional={
            "owner_id": st.sampled_from(["ana", "bo", None]),
            "message_id": st.sampled_from(["m1", "t1:1"]),
            "tags": st.sampled_from([[], ["slow"], ["nope"]]),
        },
    ),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_record, max_size=12), min_size=1, max_size=3))
def test_any_record_stream_keeps_the_store_invariants(tmp_path_factory, batches):
    db = str(tmp_path_factory.mktemp("prop") / "p.duckdb")
    with open_store(db) as store:
        for batch in batches:
            before = _counts(store)
            try:
                report = store.ingest(batch)
            except DataLayerError as error:
                pytest.fail(f"ingest raised instead of reporting: {error!r}")
            if report.ok:
                assert report.counts == {
                    kind: sum(r.get("kind") == kind for r in batch) for kind in ("thread", "run", "event", "feedback")
                }
            else:
                assert report.errors, "a failed import must say why"
                assert _counts(store) == before
            assert check(store) == {}


def _counts(store) -> tuple:
    with store.engine.read() as conn:
        return tuple(
            conn.scalar(f"SELECT count(*) FROM {table}") for table in ("threads", "runs", "run_events", "feedback")
        )
