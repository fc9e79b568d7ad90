"""The SQLite baseline's imports: a JSONL file parsed and inserted as an upstream script would, into
upstream's tables (`sqlite_baseline.SCHEMA`), for the import rows of the benchmark."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.generate import write_import_file
from bench.sqlite_baseline import INDEXES, SCHEMA


def import_file(db, path: str, prefix: str) -> None:
    """Parse a JSONL import file and insert it in one transaction, as an upstream script would: no checks,
    `executemany` per table. Vote ids are `prefix` and the line number."""
    rows: dict[str, list[tuple]] = {"thread": [], "run": [], "event": [], "feedback": []}
    with open(path, encoding="utf-8") as stream:
        for line_no, line in enumerate(stream):
            r = json.loads(line)
            kind = r["kind"]
            if kind == "thread":
                rows[kind].append((r["thread_id"], r.get("assistant_id"), r["created_at"], r["created_at"]))
            elif kind == "run":
                rows[kind].append(
                    (
                        r["run_id"],
                        r["thread_id"],
                        r["status"],
                        r.get("model_name"),
                        r.get("total_input_tokens"),
                        r["created_at"],
                        r["updated_at"],
                    )
                )
            elif kind == "event":
                content = r["content"]
                rows[kind].append(
                    (
                        r["thread_id"],
                        r["run_id"],
                        r["event_type"],
                        "message",
                        json.dumps(content) if isinstance(content, dict) else content,
                        r["seq"],
                        r.get("created_at"),
                    )
                )
            else:
                rows[kind].append(
                    (
                        f"{prefix}-{line_no}",
                        r["run_id"],
                        r["thread_id"],
                        r.get("owner_id"),
                        r["rating"],
                        r.get("comment"),
                        json.dumps(r.get("tags") or []),
                        r["created_at"],
                    )
                )
    db.executemany(
        "INSERT OR REPLACE INTO threads_meta (thread_id, assistant_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
        rows["thread"],
    )
    db.executemany(
        "INSERT OR REPLACE INTO runs (run_id, thread_id, status, model_name, total_input_tokens, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows["run"],
    )
    db.executemany(
        "INSERT OR REPLACE INTO run_events (thread_id, run_id, event_type, category, content, seq, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows["event"],
    )
    db.executemany(
        "INSERT OR REPLACE INTO feedback (feedback_id, run_id, thread_id, user_id, rating, comment, "
        "tags, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows["feedback"],
    )
    db.commit()


def _import_seconds(db, path: str, prefix: str) -> float:
    started = time.perf_counter()
    import_file(db, path, prefix)
    return time.perf_counter() - started


def empty(sqlite_path: str):
    """A new SQLite file with the upstream schema and indexes, for an import into an empty store."""
    Path(sqlite_path).unlink(missing_ok=True)
    db = sqlite3.connect(sqlite_path)
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(SCHEMA)
    db.executescript(INDEXES)
    db.commit()
    return db


def import_jsonl(db, reps: int, records: int) -> dict:
    """Imports of the same files the DuckDB side imports (`write_import_file`), each timed from the read
    of the file to the commit; one import of other records first, untimed, as the DuckDB side warms up."""
    times, rates = [], []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        for rep in range(-1, reps):
            path = os.path.join(folder, f"import-{rep}.jsonl")
            written = write_import_file(path, records, seed=100 + rep)["records"]
            seconds = _import_seconds(db, path, f"imp-{rep}")
            if rep >= 0:
                times.append(round(seconds * 1000, 1))
                rates.append(round(written / seconds))
    return {"import_jsonl": times, "import_records_per_s": rates, "import_records": written}


def import_real(db, files: list[str]) -> dict:
    """The real-text files the other engines import (`measure.real_files`): each into a new empty SQLite
    file with the upstream schema and indexes, then each into the baseline's large file."""
    records = [sum(1 for _ in open(path, encoding="utf-8")) for path in files]
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-empty-") as folder:
        for where in ("empty store", "large store"):
            times, rates = [], []
            for index, path in enumerate(files[1:], start=1):
                target = empty(os.path.join(folder, f"empty-{index}.sqlite")) if where == "empty store" else db
                seconds = _import_seconds(target, path, f"real-{index}")
                if target is not db:
                    target.close()
                times.append(round(seconds * 1000, 1))
                rates.append(round(records[index] / seconds))
            out[f"import_real[{where}]"] = times
            out[f"import_real_records_per_s[{where}]"] = rates
    out["import_real_records"] = records[1]
    return out
