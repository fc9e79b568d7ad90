"""Time the dashboard's operations through the public `data_layer` API on one database file.

Each group runs in its own process (`python -m bench.measure --db F --group G`), so the peak
resident memory it reports is that group's own. Prints one JSON object: timings in milliseconds
per operation, and `max_rss_mib`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta

from bench.generate import ANCHOR, SCALES, SEARCH_TERMS, is_postgres, max_rss_mib, write_import_file
from data_layer import open_store
from data_layer.auth import SYSTEM

GROUPS = ("browse", "search", "upsert", "stats", "export", "import", "import_real")

# Threads page filter combinations: (label, the filters of threads.list / threads.count, the order and
# offset of threads.list).
PAGE_FILTERS = (
    ("newest", {}, {}),
    ("assistant", {"assistant_id": "coding-agent"}, {}),
    ("status=error", {"status": "error"}, {}),
    ("model", {"model_name": "qwen-max-old"}, {}),
    ("has_negative by negatives", {"has_negative": True}, {"order": "negative desc"}),
    ("last 7 days", {"since": (ANCHOR - timedelta(days=7)).isoformat(), "until": ANCHOR.isoformat()}, {}),
    ("not reviewed by", {"not_reviewed_by": "reviewer-07@example.com"}, {}),
    (
        "assistant+model+negative+30 days by runs",
        {
            "assistant_id": "support-agent",
            "model_name": "gpt-4.1",
            "has_negative": True,
            "since": (ANCHOR - timedelta(days=30)).isoformat(),
        },
        {"order": "runs desc"},
    ),
    ("page 100 by title", {}, {"order": "title asc", "offset": 5_000}),
)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return round((time.perf_counter() - started) * 1000, 3)


def sample_threads(store, count: int, seed: int) -> list[str]:
    """Thread ids spread over the whole table, picked through the public list API."""
    total = store.threads.count()
    rng = random.Random(seed)
    ids = []
    for offset in sorted(rng.randrange(total) for _ in range(count)):
        ids += [row["thread_id"] for row in store.threads.list(order="created_at asc", limit=1, offset=offset)]
    return ids


def browse(store, reps: int) -> dict:
    out: dict[str, list[float]] = {}
    for label, filters, page in PAGE_FILTERS:
        store.threads.list(filters, **page)  # warm-up
        store.threads.count(filters)
        out[f"threads_page[{label}]"] = [
            timed(lambda f=filters, p=page: store.threads.list(f, **p)) for _ in range(reps)
        ]
        out[f"thread_count[{label}]"] = [timed(lambda f=filters: store.threads.count(f)) for _ in range(reps)]
    thread_ids = sample_threads(store, 3 * reps, seed=1)

    def open_thread(thread_id):
        store.threads.get(thread_id)
        store.runs.list_by_thread(thread_id)
        store.events.list_messages(thread_id)
        store.feedback.list_by_thread(thread_id, actor=SYSTEM)

    open_thread(thread_ids[0])
    out["open_thread"] = [timed(lambda t=t: open_thread(t)) for t in thread_ids]
    return out


def search(store, reps: int) -> dict:
    out = {}
    for term in SEARCH_TERMS:
        store.threads.list({"search": term})
        out[f"search[{term}]"] = [timed(lambda t=term: store.threads.list({"search": t})) for _ in range(reps)]
        out[f"search_count[{term}]"] = [timed(lambda t=term: store.threads.count({"search": t})) for _ in range(reps)]
    return out


def upsert(store, reps: int) -> dict:
    rng = random.Random(3)
    targets = []
    for thread_id in sample_threads(store, reps, seed=2):
        runs = store.runs.list_by_thread(thread_id)
        if runs:
            targets.append((thread_id, rng.choice(runs)["run_id"]))
    store.feedback.upsert(
        thread_id=targets[0][0], run_id=targets[0][1], rating=1, owner_id="bench@example.com", actor=SYSTEM
    )
    return {
        "feedback_upsert": [
            timed(
                lambda t=t: store.feedback.upsert(
                    thread_id=t[0],
                    run_id=t[1],
                    rating=rng.choice((1, -1)),
                    owner_id=f"reviewer-{rng.randrange(50):02d}@example.com",
                    comment="benchmark vote",
                    actor=SYSTEM,
                )
            )
            for t in targets
        ]
    }


def stats_all(store, reps: int) -> dict:
    from data_layer import stats

    dashboard = getattr(stats, "dashboard", None)
    run = (lambda: dashboard(store, actor=SYSTEM)) if dashboard else (lambda: stats.overview(store))
    run()
    out = {"stats_all": [timed(run) for _ in range(reps)]}
    if not dashboard:
        out["note"] = "data_layer.stats.dashboard missing: timed stats.overview only"
    return out


def export_csv(store, reps: int) -> dict:
    try:
        from data_layer import export
    except ImportError:
        return {"note": "data_layer.export missing"}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        path = os.path.join(folder, "feedback.csv")
        rows = export.write(store, path, "csv", actor=SYSTEM)
        times = [timed(lambda: export.write(store, path, "csv", actor=SYSTEM)) for _ in range(reps)]
        size = os.path.getsize(path)
    return {"export_csv": times, "export_rows": rows, "export_bytes": size}


def import_jsonl(store, reps: int, records: int) -> dict:
    """Imports of about `records` new records each, from files written before the clock starts. An
    import's time runs until it returns, committed. What the store still does for it after that (DuckDB's
    checkpoint, engines/duck.py) is `import_settle`, waited for before the next import, so that each
    import is timed alone; the sustained rate counts both: all records over all import and settle time.
    One import of other records goes first, untimed, as every group warms up with its operation. Then,
    reported apart and with no target, imports of files whose thread ids are random UUID-like ones
    (`import_jsonl_random_ids`): new ids among the stored ones, where the sorted ids of the others let
    DuckDB's zone maps skip the stored rows."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        warm_up = os.path.join(folder, "warm-up.jsonl")
        write_import_file(warm_up, records, seed=99)
        paths, counts = [], []
        for rep in range(reps):
            paths.append(os.path.join(folder, f"import-{rep}.jsonl"))
            counts.append(write_import_file(paths[-1], records, seed=100 + rep)["records"])
        if not store.import_file(warm_up, actor=SYSTEM).ok:
            raise SystemExit("benchmark warm-up import failed")
        store.engine.settle()
        times, rates, settles = [], [], []
        for path, written in zip(paths, counts):
            started = time.perf_counter()
            report = store.import_file(path, actor=SYSTEM)
            seconds = time.perf_counter() - started
            if not report.ok:
                raise SystemExit(f"benchmark import failed: {report.summary()[:500]}")
            times.append(round(seconds * 1000, 1))
            rates.append(round(written / seconds))
            settles.append(timed(store.engine.settle))
        random_times = []
        for rep in range(reps):
            path = os.path.join(folder, f"random-{rep}.jsonl")
            write_import_file(path, records, seed=200 + rep, random_ids=True)
            started = time.perf_counter()
            if not store.import_file(path, actor=SYSTEM).ok:
                raise SystemExit("benchmark import of random ids failed")
            random_times.append(round((time.perf_counter() - started) * 1000, 1))
            store.engine.settle()
    return {
        "import_jsonl": times,
        "import_jsonl_random_ids": random_times,
        "import_records_per_s": rates,
        "import_records": counts[-1],
        "import_settle": settles,
        "import_sustained_records_per_s": round(sum(counts) / ((sum(times) + sum(settles)) / 1000)),
    }


def real_files(folder: str, records: int) -> list[str]:
    """The real-text import files of a run (`bench/realtext.py`): a warm-up and three timed ones, written
    once by `bench.run` into `folder` so that every engine imports the very same lines."""
    paths = [os.path.join(folder, f"real-{seed}.jsonl") for seed in (0, 1, 2, 3)]
    for seed, path in enumerate(paths):
        if not os.path.exists(path):
            from bench import realtext

            realtext.write_file(path, records, seed=300 + seed)
    return paths


@contextmanager
def empty_store(db: str):
    """A new empty store beside `db`: a DuckDB file in a temporary folder, or a new database on the
    PostgreSQL server of `db`, dropped afterwards."""
    if not is_postgres(db):
        with tempfile.TemporaryDirectory(prefix="bench-empty-") as folder:
            store = open_store(os.path.join(folder, "empty.duckdb"))
            try:
                yield store
            finally:
                store.close()
        return
    import psycopg

    name = f"bench_empty_{os.getpid()}"
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        store = open_store(f"{db.rsplit('/', 1)[0]}/{name}")
        try:
            yield store
        finally:
            store.close()
    finally:
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _import_timed(store, path: str) -> float:
    started = time.perf_counter()
    report = store.import_file(path, actor=SYSTEM)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"benchmark import of {path} failed: {report.summary()[:500]}")
    store.engine.settle()
    return seconds


def import_real(db: str, store, files: list[str]) -> dict:
    """Imports of real-length chat text (`real_files`): each timed file into a new empty store (after the
    warm-up file went into one, untimed), then each into the large store. Each import is timed until it
    returns committed; the store then settles before the next."""
    records = [sum(1 for _ in open(path, encoding="utf-8")) for path in files]
    warm_up, timed_files = files[0], files[1:]
    with empty_store(db) as empty:
        _import_timed(empty, warm_up)
    out: dict = {}
    for where in ("empty store", "large store"):
        times, rates = [], []
        for index, path in enumerate(timed_files):
            if where == "empty store":
                with empty_store(db) as empty:
                    seconds = _import_timed(empty, path)
            else:
                seconds = _import_timed(store, path)
            times.append(round(seconds * 1000, 1))
            rates.append(round(records[index + 1] / seconds))
        out[f"import_real[{where}]"] = times
        out[f"import_real_records_per_s[{where}]"] = rates
    out["import_real_records"] = records[1]
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--group", choices=GROUPS, required=True)
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--real-files", help="the folder of the real-text import files (group import_real)")
    args = parser.parse_args(argv)
    store = open_store(args.db)
    try:
        if args.group == "browse":
            result = browse(store, args.reps)
        elif args.group == "search":
            result = search(store, max(3, args.reps // 2))
        elif args.group == "upsert":
            result = upsert(store, 5 * args.reps)
        elif args.group == "stats":
            result = stats_all(store, args.reps)
        elif args.group == "export":
            result = export_csv(store, 3)
        elif args.group == "import":
            result = import_jsonl(store, 3, SCALES[args.scale].import_records)
        else:
            files = real_files(args.real_files or tempfile.mkdtemp(), SCALES[args.scale].real_records)
            result = import_real(args.db, store, files)
    finally:
        store.close()
    result["max_rss_mib"] = max_rss_mib()
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
