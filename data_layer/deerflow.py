"""Read a deer-flow gateway database (tables threads_meta, runs, run_events, feedback) as records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from data_layer.errors import InvalidInput
from data_layer.ingest import RecordError

# Upstream table -> our record kind; rows are read in this order, records may refer to later ones.
TABLES = (("threads_meta", "thread"), ("runs", "run"), ("run_events", "event"), ("feedback", "feedback"))
_JSON_FIELDS = ("metadata",)


def _record(kind: str, row: dict):
    record = {"kind": kind}
    for key, value in row.items():
        if value is None:
            continue
        if key in _JSON_FIELDS and isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except ValueError:
                return RecordError(f"{kind} {key} is not valid JSON")
            if value is None:
                continue
        record[key] = value
    if kind == "feedback" and "source" not in record:
        record["source"] = "end_user"
    return record


def read(path: str) -> Iterator[tuple[int, object]]:
    """Every row of the upstream tables, numbered across the tables in reading order."""
    if not Path(path).is_file():
        raise InvalidInput(f"{path}: no such deer-flow database file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        present = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise InvalidInput(f"{path}: not a SQLite database ({error})") from error
    if not present & {table for table, _ in TABLES}:
        raise InvalidInput(f"{path}: no deer-flow tables (threads_meta, runs, run_events, feedback)")
    line = 0
    try:
        for table, kind in TABLES:
            if table not in present:
                continue
            order = "thread_id, seq" if table == "run_events" else "rowid"
            for row in db.execute(f"SELECT * FROM {table} ORDER BY {order}"):
                line += 1
                yield line, _record(kind, dict(row))
    finally:
        db.close()
