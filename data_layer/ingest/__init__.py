"""Import of records (threads, runs, events, feedback): validated, atomic, idempotent.

Records arrive in the import record format, in any order, from a reader (`readers.py`: JSONL, JSON
arrays, Parquet, HTTP bodies; `fast.py` reads a whole JSONL file at once). Each is checked on its own
(`records.py`) before any transaction; the transaction stages the rows, checks them against each other
and the store, and merges them (`merge.py`, named steps): one bad record and nothing is stored, and
importing the same records twice changes nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from data_layer.ingest import fast
from data_layer.ingest.merge import MAX_ERRORS, Rejected, check_and_merge
from data_layer.ingest.readers import JsonlFile, decode_line, read_body, read_file, read_json_array, read_jsonl
from data_layer.ingest.records import KINDS, SCHEMAS, RecordError, Staged, parse_record, stage_records
from data_layer.ingest.stages import load_stages

__all__ = [
    "KINDS",
    "MAX_ERRORS",
    "SCHEMAS",
    "ImportReport",
    "JsonlFile",
    "RecordError",
    "Staged",
    "decode_line",
    "parse_record",
    "read_body",
    "read_file",
    "read_json_array",
    "read_jsonl",
    "run_import",
    "stage_records",
]


@dataclass(frozen=True)
class ImportReport:
    """What an import did: `ok`, records accepted per kind (`judge`, for judges' verdicts, only when the
    file held some), and every rejected line with why."""

    ok: bool
    counts: dict[str, int]
    errors: list[dict] = field(default_factory=list)
    more_errors: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "counts": dict(self.counts),
            "total": self.total,
            "errors": list(self.errors),
            "more_errors": self.more_errors,
        }

    def summary(self) -> str:
        counts = ", ".join(f"{self.counts[kind]} {kind}s" for kind in KINDS)
        if self.counts.get("judge"):
            counts += f", {self.counts['judge']} judges' verdicts"
        if self.ok:
            return f"imported {counts}"
        lines = [f"nothing imported: {len(self.errors) + self.more_errors} bad records"]
        lines += [f"line {error['line']}: {error['error']}" for error in self.errors]
        if self.more_errors:
            lines.append(f"... and {self.more_errors} more")
        return "\n".join(lines)


def run_import(
    engine,
    numbered: Iterable[tuple[int, object]],
    *,
    actor,
    progress: Callable[[int], None] | None = None,
    also: Callable[[object], None] | None = None,
) -> ImportReport:
    """Validate and merge `(line, record)` pairs; a record is a dict, or a `RecordError` for a line
    that could not be read. `actor` (an `auth.Actor`: `auth.SYSTEM` for the command line and scripts)
    must be allowed to ingest; the votes it creates or changes enter the audit trail under it;
    `also(conn)`, when given, writes in the same transaction after the merge (an import's own marks).

    The records are read and checked one by one first; the transaction then loads, checks and merges
    them, and may run again on a write conflict (`engine.write`) with the very same rows. The report
    counts the rows the committed attempt merged."""
    errors: list[dict] = []
    more = 0

    def reject(line: int, message: str) -> None:
        nonlocal more
        if len(errors) < MAX_ERRORS:
            errors.append({"line": line, "error": message})
        else:
            more += 1

    # The records are plain acyclic JSON, but their many containers set off the cycle collector again
    # and again, each time walking every row read so far: it is paused for the import.
    collecting = gc.isenabled()
    gc.disable()
    try:
        staged = fast.stage_file(numbered.path, SCHEMAS) if isinstance(numbered, JsonlFile) else None
        if staged is None:
            staged = stage_records(numbered, reject, progress)
        elif progress:
            for line in staged.lines:
                if line % 10_000 == 0:
                    progress(line)
        counts = {kind: staged.tables[kind].num_rows for kind in KINDS}
        verdicts = staged.tables.get("judge")
        if verdicts is not None and verdicts.num_rows:
            counts["judge"] = verdicts.num_rows

        def work(conn) -> None:
            load_stages(conn, staged)
            check_and_merge(conn, engine, errors, more, actor)
            if also:
                also(conn)

        with engine.importing():
            engine.write(work)
    except Rejected as rejected:
        return ImportReport(ok=False, counts=counts, errors=rejected.errors, more_errors=rejected.more)
    finally:
        if collecting:
            gc.enable()
    if progress:
        progress(staged.lines[-1] if staged.lines else 0)
    return ImportReport(ok=True, counts=counts)
