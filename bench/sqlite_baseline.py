"""The baseline: the same rows in SQLite, in the upstream's (deer-flow's) tables with its indexes.

Upstream keeps no rollups, so the threads page computes run counts, last activity and vote tallies
with GROUP BY on every call, as the upstream store would have to; every other operation is the
plain equivalent of what `data_layer` runs. Built from the DuckDB file the generator wrote.

    python -m bench.sqlite_baseline --duckdb F --sqlite S --build
    python -m bench.sqlite_baseline --sqlite S --group browse
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench.generate import SCALES, SEARCH_TERMS, max_rss_mib
from bench.measure import PAGE_FILTERS, real_files, timed

SCHEMA = """
CREATE TABLE threads_meta (
    thread_id TEXT PRIMARY KEY, assistant_id TEXT, user_id TEXT, display_name TEXT,
    status TEXT NOT NULL DEFAULT 'idle', metadata TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, assistant_id TEXT, user_id TEXT, status TEXT NOT NULL,
    model_name TEXT, error TEXT, message_count INTEGER, first_human_message TEXT, last_ai_message TEXT,
    total_input_tokens INTEGER, total_output_tokens INTEGER, total_tokens INTEGER, llm_call_count INTEGER,
    follow_up_to_run_id TEXT, metadata TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE run_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL, run_id TEXT NOT NULL, event_type TEXT NOT NULL,
    category TEXT NOT NULL, content TEXT, metadata TEXT, seq INTEGER NOT NULL, created_at TEXT
);
CREATE TABLE feedback (
    feedback_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, thread_id TEXT NOT NULL, user_id TEXT, message_id TEXT,
    rating INTEGER NOT NULL, comment TEXT, tags TEXT, created_at TEXT NOT NULL, updated_at TEXT
);
"""
INDEXES = """
CREATE INDEX ix_runs_thread_id ON runs (thread_id);
CREATE UNIQUE INDEX uq_events_thread_seq ON run_events (thread_id, seq);
CREATE INDEX ix_events_run_id ON run_events (run_id);
CREATE INDEX ix_feedback_run_id ON feedback (run_id);
CREATE INDEX ix_feedback_thread_id ON feedback (thread_id);
CREATE UNIQUE INDEX uq_feedback_vote ON feedback (run_id, user_id);
"""
_ISO = "strftime({0}, '%Y-%m-%dT%H:%M:%S.%f+00:00')"
COPY = {
    "threads_meta": f"""SELECT thread_id, assistant_id, owner_id, display_name, status, CAST(metadata AS TEXT),
        {_ISO.format("created_at")}, {_ISO.format("updated_at")} FROM threads""",
    "runs": f"""SELECT run_id, thread_id, assistant_id, owner_id, status, model_name, error, message_count,
        first_human_message, last_ai_message, total_input_tokens, total_output_tokens, total_tokens, llm_call_count,
        follow_up_to_run_id, CAST(metadata AS TEXT), {_ISO.format("created_at")}, {_ISO.format("updated_at")}
        FROM runs""",
    "run_events": f"""SELECT id, thread_id, run_id, event_type, category, content, CAST(metadata AS TEXT), seq,
        {_ISO.format("created_at")} FROM run_events""",
    "feedback": f"""SELECT feedback_id, run_id, thread_id, owner_id, message_id, rating, comment, to_json(tags),
        {_ISO.format("created_at")}, {_ISO.format("updated_at")} FROM feedback""",
}


def build(duck_path: str, sqlite_path: str) -> dict:
    """Copy every row of the DuckDB file into a new SQLite file with the upstream schema and indexes."""
    started = time.perf_counter()
    Path(sqlite_path).unlink(missing_ok=True)
    source = duckdb.connect(duck_path, read_only=True)
    db = sqlite3.connect(sqlite_path)
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(SCHEMA)
    counts = {}
    for table, sql in COPY.items():
        result = source.execute(sql)
        marks = ", ".join("?" * len(result.description))
        counts[table] = 0
        while rows := result.fetchmany(50_000):
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            counts[table] += len(rows)
        db.commit()
    db.executescript(INDEXES)
    db.execute("ANALYZE")
    db.commit()
    db.close()
    source.close()
    return {
        "counts": counts,
        "seconds": round(time.perf_counter() - started, 2),
        "file_bytes": os.path.getsize(sqlite_path),
    }


_PAGE = """
SELECT t.thread_id, t.display_name, coalesce(t.display_name, (SELECT x.first_human_message FROM runs x
       WHERE x.thread_id = t.thread_id ORDER BY x.created_at LIMIT 1)) AS title, t.assistant_id, t.user_id,
       t.status, t.created_at, t.updated_at, coalesce(r.last_run_at, t.updated_at) AS last_activity_at,
       coalesce(r.run_count, 0) AS run_count, coalesce(f.positive, 0) AS positive, coalesce(f.negative, 0) AS negative
FROM threads_meta t
LEFT JOIN (SELECT thread_id, count(*) AS run_count, max(updated_at) AS last_run_at FROM runs GROUP BY thread_id) r
       ON r.thread_id = t.thread_id
LEFT JOIN (SELECT thread_id, sum(rating = 1) AS positive, sum(rating = -1) AS negative FROM feedback
           GROUP BY thread_id) f ON f.thread_id = t.thread_id
"""
_ORDERS = {
    "updated_at": "last_activity_at",
    "created_at": "t.created_at",
    "runs": "run_count",
    "negative": "negative",
    "positive": "positive",
    "title": "title",
}


def page_sql(args: dict, count: bool = False) -> tuple[str, list]:
    """The threads page (or its count) with the same filters, on the upstream tables."""
    clauses, params = [], []
    if args.get("search"):
        clauses.append(
            "(title LIKE ? OR EXISTS (SELECT 1 FROM run_events e WHERE e.thread_id = t.thread_id "
            "AND e.category = 'message' AND e.content LIKE ?))"
        )
        params += [f"%{args['search']}%"] * 2
    if args.get("assistant_id"):
        clauses.append("t.assistant_id = ?")
        params.append(args["assistant_id"])
    for name in ("status", "model_name"):
        if args.get(name):
            clauses.append(f"t.thread_id IN (SELECT thread_id FROM runs WHERE {name} = ?)")
            params.append(args[name])
    if args.get("since"):
        clauses.append("last_activity_at >= ?")
        params.append(args["since"])
    if args.get("until"):
        clauses.append("last_activity_at < ?")
        params.append(args["until"])
    if args.get("has_negative"):
        clauses.append("negative > 0")
    if args.get("not_reviewed_by"):
        clauses.append("NOT EXISTS (SELECT 1 FROM feedback v WHERE v.thread_id = t.thread_id AND v.user_id = ?)")
        params.append(args["not_reviewed_by"])
    sql = _PAGE + (" WHERE " + " AND ".join(clauses) if clauses else "")
    if count:
        return f"SELECT count(*) FROM ({sql})", params
    key, direction = (args.get("order") or "updated_at desc").split()
    sql += f" ORDER BY {_ORDERS[key]} {direction.upper()} NULLS LAST, t.thread_id {direction.upper()} LIMIT 50 OFFSET ?"
    return sql, params + [args.get("offset", 0)]


def _all(db, sql, params=()):
    return db.execute(sql, params).fetchall()


def browse(db, reps: int) -> dict:
    out = {}
    for label, filters, page in PAGE_FILTERS:
        args = {**filters, **page}
        sql, params = page_sql(args)
        count_sql, count_params = page_sql(args, count=True)
        _all(db, sql, params)
        out[f"threads_page[{label}]"] = [timed(lambda q=sql, a=params: _all(db, q, a)) for _ in range(reps)]
        out[f"thread_count[{label}]"] = [timed(lambda q=count_sql, a=count_params: _all(db, q, a)) for _ in range(reps)]
    thread_ids = _sample(db, 3 * reps, seed=1)

    def open_thread(thread_id):
        _all(db, "SELECT * FROM threads_meta WHERE thread_id = ?", (thread_id,))
        _all(db, "SELECT * FROM runs WHERE thread_id = ? ORDER BY created_at, run_id", (thread_id,))
        _all(db, "SELECT * FROM run_events WHERE thread_id = ? AND category = 'message' ORDER BY seq", (thread_id,))
        _all(db, "SELECT * FROM feedback WHERE thread_id = ? ORDER BY created_at, feedback_id", (thread_id,))

    open_thread(thread_ids[0])
    out["open_thread"] = [timed(lambda t=t: open_thread(t)) for t in thread_ids]
    return out


def _sample(db, count: int, seed: int) -> list[str]:
    total = db.execute("SELECT count(*) FROM threads_meta").fetchone()[0]
    rng = random.Random(seed)
    return [
        db.execute(
            "SELECT thread_id FROM threads_meta ORDER BY created_at LIMIT 1 OFFSET ?", (rng.randrange(total),)
        ).fetchone()[0]
        for _ in range(count)
    ]


def search(db, reps: int) -> dict:
    out = {}
    for term in SEARCH_TERMS:
        sql, params = page_sql({"search": term})
        count_sql, count_params = page_sql({"search": term}, count=True)
        out[f"search[{term}]"] = [timed(lambda q=sql, a=params: _all(db, q, a)) for _ in range(reps)]
        out[f"search_count[{term}]"] = [timed(lambda q=count_sql, a=count_params: _all(db, q, a)) for _ in range(reps)]
    return out


_UPSERT = """
INSERT INTO feedback (feedback_id, run_id, thread_id, user_id, rating, comment, tags, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, '[]', strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ'))
ON CONFLICT (run_id, user_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,
    updated_at = excluded.updated_at
RETURNING *
"""


def upsert(db, reps: int) -> dict:
    rng = random.Random(3)
    targets = []
    for thread_id in _sample(db, reps, seed=2):
        runs = _all(db, "SELECT run_id FROM runs WHERE thread_id = ?", (thread_id,))
        if runs:
            targets.append((thread_id, rng.choice(runs)[0]))

    def vote(thread_id, run_id):
        owner = _all(db, "SELECT thread_id FROM runs WHERE run_id = ?", (run_id,))
        assert owner and owner[0][0] == thread_id
        _all(
            db,
            _UPSERT,
            (
                f"bench-{rng.random()}",
                run_id,
                thread_id,
                f"reviewer-{rng.randrange(50):02d}@example.com",
                rng.choice((1, -1)),
                "benchmark vote",
            ),
        )
        db.commit()

    return {"feedback_upsert": [timed(lambda t=t: vote(*t)) for t in targets]}


# The stats page's aggregates, written for the upstream tables (tags are a JSON text there).
STATS = {
    "headline": """SELECT count(*), count(DISTINCT f.run_id), count(f.feedback_id), sum(f.rating = 1)
        FROM runs r LEFT JOIN feedback f ON f.run_id = r.run_id""",
    "over_time": """SELECT substr(r.created_at, 1, 10) AS day, count(*), sum(f.rating = 1)
        FROM feedback f JOIN runs r ON r.run_id = f.run_id GROUP BY day ORDER BY day""",
    "by_assistant": """SELECT r.assistant_id, count(*), sum(f.rating = 1) FROM feedback f
        JOIN runs r ON r.run_id = f.run_id GROUP BY 1""",
    "by_model": """SELECT r.model_name, count(*), sum(f.rating = 1) FROM feedback f
        JOIN runs r ON r.run_id = f.run_id GROUP BY 1""",
    "tags_over_time": """SELECT substr(r.created_at, 1, 10) AS day, coalesce(j.value, 'untagged'), count(*)
        FROM feedback f JOIN runs r ON r.run_id = f.run_id LEFT JOIN json_each(f.tags) j
        WHERE f.rating = -1 GROUP BY 1, 2""",
    "tags_by_assistant": """SELECT r.assistant_id, coalesce(j.value, 'untagged'), count(*)
        FROM feedback f JOIN runs r ON r.run_id = f.run_id LEFT JOIN json_each(f.tags) j
        WHERE f.rating = -1 GROUP BY 1, 2""",
    "follow_ups": """SELECT CASE WHEN v.neg > 0 AND v.pos > 0 THEN 'mixed' WHEN v.neg > 0 THEN 'negative'
            WHEN v.pos > 0 THEN 'positive' ELSE 'unrated' END AS class, count(*), count(n.run_id)
        FROM runs r LEFT JOIN (SELECT run_id, sum(rating = 1) AS pos, sum(rating = -1) AS neg FROM feedback
            GROUP BY run_id) v ON v.run_id = r.run_id
        LEFT JOIN (SELECT DISTINCT follow_up_to_run_id AS run_id FROM runs) n ON n.run_id = r.run_id GROUP BY 1""",
    "reviewers": """SELECT user_id, count(*), sum(rating = 1), max(created_at) FROM feedback
        GROUP BY user_id ORDER BY 2 DESC LIMIT 50""",
    "agreement": """SELECT count(*), sum(pos = 0 OR neg = 0) FROM (SELECT run_id, sum(rating = 1) AS pos,
        sum(rating = -1) AS neg FROM feedback WHERE message_id IS NULL GROUP BY run_id HAVING count(*) > 1)""",
    "worst_runs": """SELECT f.run_id, sum(f.rating = -1) AS neg, max(r.created_at) AS at, max(r.first_human_message)
        FROM feedback f JOIN runs r ON r.run_id = f.run_id GROUP BY f.run_id HAVING neg > 0
        ORDER BY neg DESC, at DESC LIMIT 20""",
}


def stats_all(db, reps: int) -> dict:
    def run():
        for sql in STATS.values():
            _all(db, sql)

    return {"stats_all": [timed(run) for _ in range(reps)]}


_EXPORT = """
SELECT f.feedback_id, f.created_at, f.updated_at, f.rating, f.user_id, f.comment, f.tags, f.thread_id,
       t.display_name, f.run_id, f.message_id, r.assistant_id, r.model_name, r.status, r.created_at,
       r.first_human_message, r.last_ai_message
FROM feedback f JOIN runs r ON r.run_id = f.run_id LEFT JOIN threads_meta t ON t.thread_id = f.thread_id
"""


def export_csv(db, reps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        path = os.path.join(folder, "feedback.csv")

        def write():
            with open(path, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                cursor = db.execute(_EXPORT)
                writer.writerow([column[0] for column in cursor.description])
                while rows := cursor.fetchmany(50_000):
                    writer.writerows(rows)

        return {"export_csv": [timed(write) for _ in range(reps)]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", required=True)
    parser.add_argument("--duckdb")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--group")
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--real-files", help="the folder of the real-text import files (group import_real)")
    args = parser.parse_args(argv)
    if args.build:
        result = build(args.duckdb, args.sqlite)
    else:
        # Imported here: the import module reads this one's schema.
        from bench.sqlite_import import import_jsonl, import_real

        db = sqlite3.connect(args.sqlite)
        reps = args.reps
        result = {
            "browse": lambda: browse(db, reps),
            "search": lambda: search(db, max(3, reps // 2)),
            "upsert": lambda: upsert(db, 5 * reps),
            "stats": lambda: stats_all(db, reps),
            "export": lambda: export_csv(db, 3),
            "import": lambda: import_jsonl(db, 3, SCALES[args.scale].import_records),
            "import_real": lambda: import_real(
                db, real_files(args.real_files or tempfile.mkdtemp(), SCALES[args.scale].real_records)
            ),
        }[args.group]()
        db.close()
    result["max_rss_mib"] = max_rss_mib()
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
