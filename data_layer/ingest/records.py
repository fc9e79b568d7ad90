"""The rules of one import record, and the rows it stages.

A record is a dict in the import record format (`{"kind": "thread" | "run" | "event" | "feedback",
...fields}`, the source system's field names). `parse_record` checks it, naming its line and field,
and returns the row to stage in the columns of `STAGES`; `stage_records` does so for a whole stream
and gathers the rows as Arrow tables (`Staged`), the shape the fast reader (`fast.py`) builds too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from data_layer import messages, rules
from data_layer.errors import InvalidInput
from data_layer.ingest import verdicts
from data_layer.queues.rubric import scores_object

KINDS = ("thread", "run", "event", "feedback")
BATCH = 50_000
_TS = pa.timestamp("us", tz="UTC")
STAGES: dict[str, list[tuple[str, str, pa.DataType]]] = {
    "thread": [
        ("line", "BIGINT", pa.int64()),
        ("thread_id", "TEXT", pa.string()),
        ("assistant_id", "TEXT", pa.string()),
        ("owner_id", "TEXT", pa.string()),
        ("display_name", "TEXT", pa.string()),
        ("status", "TEXT", pa.string()),
        ("metadata", "TEXT", pa.string()),
        ("created_at", "TIMESTAMPTZ", _TS),
        ("updated_at", "TIMESTAMPTZ", _TS),
    ],
    "run": [
        ("line", "BIGINT", pa.int64()),
        ("run_id", "TEXT", pa.string()),
        ("thread_id", "TEXT", pa.string()),
        ("assistant_id", "TEXT", pa.string()),
        ("owner_id", "TEXT", pa.string()),
        ("status", "TEXT", pa.string()),
        ("model_name", "TEXT", pa.string()),
        ("error", "TEXT", pa.string()),
        ("message_count", "BIGINT", pa.int64()),
        ("first_human_message", "TEXT", pa.string()),
        ("last_ai_message", "TEXT", pa.string()),
        ("total_input_tokens", "BIGINT", pa.int64()),
        ("total_output_tokens", "BIGINT", pa.int64()),
        ("total_tokens", "BIGINT", pa.int64()),
        ("llm_call_count", "BIGINT", pa.int64()),
        ("follow_up_to_run_id", "TEXT", pa.string()),
        ("metadata", "TEXT", pa.string()),
        ("created_at", "TIMESTAMPTZ", _TS),
        ("updated_at", "TIMESTAMPTZ", _TS),
    ],
    "event": [
        ("line", "BIGINT", pa.int64()),
        ("thread_id", "TEXT", pa.string()),
        ("run_id", "TEXT", pa.string()),
        ("seq", "BIGINT", pa.int64()),
        ("event_type", "TEXT", pa.string()),
        ("category", "TEXT", pa.string()),
        ("role", "TEXT", pa.string()),
        ("message_id", "TEXT", pa.string()),
        ("content", "TEXT", pa.string()),
        ("text", "TEXT", pa.string()),
        ("tool_calls", "TEXT", pa.string()),
        ("tool_call_id", "TEXT", pa.string()),
        ("name", "TEXT", pa.string()),
        ("metadata", "TEXT", pa.string()),
        ("created_at", "TIMESTAMPTZ", _TS),
    ],
    "feedback": [
        ("line", "BIGINT", pa.int64()),
        ("feedback_id", "TEXT", pa.string()),
        ("thread_id", "TEXT", pa.string()),
        ("run_id", "TEXT", pa.string()),
        ("owner_id", "TEXT", pa.string()),
        ("message_id", "TEXT", pa.string()),
        ("scope", "TEXT", pa.string()),
        ("rating", "BIGINT", pa.int64()),
        ("comment", "TEXT", pa.string()),
        ("tags", "TEXT[]", pa.list_(pa.string())),
        ("source", "TEXT", pa.string()),
        ("created_at", "TIMESTAMPTZ", _TS),
        ("updated_at", "TIMESTAMPTZ", _TS),
        # whether the record named its id (else it is derived from the vote itself)
        ("given_id", "BOOLEAN", pa.bool_()),
    ],
    # a judge's verdict: a feedback record of source judge (data_layer/ingest/verdicts.py)
    "judge": verdicts.STAGE,
}
SCHEMAS = {kind: pa.schema([(name, kind_) for name, _, kind_ in cols]) for kind, cols in STAGES.items()}
# A feedback record's optional `scores`, one row per criterion, checked against the rubrics of its run's
# queues once the merge has put the run in them (data_layer/ingest/scores.py). Only the per-record path
# stages them: the fast reader refuses a record with `scores` (an unknown key), so such a file comes here.
SCORE_STAGE = [("line", "BIGINT", pa.int64()), ("criterion", "TEXT", pa.string()), ("value", "TEXT", pa.string())]
SCORE_SCHEMA = pa.schema([(name, kind_) for name, _, kind_ in SCORE_STAGE])


@dataclass(frozen=True)
class Staged:
    """The rows to stage per kind (Arrow, in the staging tables' schema) and the numbers of the lines read."""

    tables: dict[str, pa.Table]
    lines: list[int]


def _owner(record: dict) -> str | None:
    owner = record.get("owner_id")
    if owner is None:
        owner = record.get("user_id")
    return rules.optional_identifier(owner, "owner_id")


def _optional_ts(record: dict, name: str) -> datetime | None:
    value = record.get(name)
    return None if value is None else rules.timestamp(value, name)


def _thread(line: int, r: dict) -> tuple:
    return (
        line,
        rules.identifier(r.get("thread_id"), "thread_id"),
        rules.optional_identifier(r.get("assistant_id"), "assistant_id"),
        _owner(r),
        rules.optional_text(r.get("display_name"), "display_name", 1000),
        rules.optional_text(r.get("status"), "status", 50),
        rules.json_object(r.get("metadata"), "metadata"),
        _optional_ts(r, "created_at"),
        _optional_ts(r, "updated_at"),
    )


def _run(line: int, r: dict) -> tuple:
    status = r.get("status")
    return (
        line,
        rules.identifier(r.get("run_id"), "run_id"),
        rules.identifier(r.get("thread_id"), "thread_id"),
        rules.optional_identifier(r.get("assistant_id"), "assistant_id"),
        _owner(r),
        "pending" if status is None else rules.run_status(status),
        rules.optional_text(r.get("model_name"), "model_name", 200),
        rules.optional_text(r.get("error"), "error"),
        rules.optional_integer(r.get("message_count"), "message_count"),
        rules.optional_text(r.get("first_human_message"), "first_human_message", rules.MAX_CONTENT),
        rules.optional_text(r.get("last_ai_message"), "last_ai_message", rules.MAX_CONTENT),
        rules.optional_integer(r.get("total_input_tokens"), "total_input_tokens"),
        rules.optional_integer(r.get("total_output_tokens"), "total_output_tokens"),
        rules.optional_integer(r.get("total_tokens"), "total_tokens"),
        rules.optional_integer(r.get("llm_call_count"), "llm_call_count"),
        rules.optional_identifier(r.get("follow_up_to_run_id"), "follow_up_to_run_id"),
        rules.json_object(r.get("metadata"), "metadata"),
        _optional_ts(r, "created_at"),
        _optional_ts(r, "updated_at"),
    )


def _event(line: int, r: dict) -> tuple:
    thread_id = rules.identifier(r.get("thread_id"), "thread_id")
    seq = rules.integer(r.get("seq"), "seq")
    event_type = rules.text(r.get("event_type"), "event_type", 100)
    if not event_type.strip():
        raise InvalidInput("event_type is empty")
    content = r.get("content")
    raw: str | None
    if isinstance(content, dict):
        raw = rules.json_text(content, "content")
    elif content is None or isinstance(content, str):
        raw = content
    else:
        raise InvalidInput(f"content must be a string or a JSON object, got {type(content).__name__}")
    if raw is not None:
        rules.text(raw, "content", rules.MAX_CONTENT)
    parsed = messages.parse(thread_id, seq, event_type, content)
    category = messages.category_of(event_type, rules.optional_text(r.get("category"), "category", 100))
    return (
        line,
        thread_id,
        rules.identifier(r.get("run_id"), "run_id"),
        seq,
        event_type,
        category,
        parsed["role"] if category == "message" else None,
        parsed["message_id"] if category == "message" else None,
        raw,
        parsed["text"],
        json.dumps(parsed["tool_calls"], ensure_ascii=False) if parsed["tool_calls"] else None,
        parsed["tool_call_id"],
        parsed["name"],
        rules.json_object(r.get("metadata"), "metadata"),
        _optional_ts(r, "created_at"),
    )


def _feedback(line: int, r: dict) -> tuple:
    if r.get("correction") is not None:
        # Refused rather than dropped: a file's corrections would otherwise vanish without a word.
        raise InvalidInput("correction: the import takes no corrected answers; send them with the vote (REST API PUT)")
    thread_id = rules.identifier(r.get("thread_id"), "thread_id")
    run_id = rules.identifier(r.get("run_id"), "run_id")
    rating = rules.rating(r.get("rating"))
    owner = _owner(r)
    message_id = rules.optional_identifier(r.get("message_id"), "message_id")
    comment = rules.comment(r.get("comment"))
    created = _optional_ts(r, "created_at")
    feedback_id = r.get("feedback_id")
    if feedback_id is None:
        # A stable id from the vote itself, so that re-importing the file finds the same row.
        key = json.dumps([thread_id, run_id, owner, message_id, rating, comment, r.get("created_at")])
        feedback_id = str(uuid.uuid5(rules.FEEDBACK_NAMESPACE, key))
    return (
        line,
        rules.identifier(feedback_id, "feedback_id"),
        thread_id,
        run_id,
        owner,
        message_id,
        message_id or "",
        rating,
        comment,
        rules.tags(r.get("tags")),
        rules.source(r.get("source", "end_user")),
        created,
        _optional_ts(r, "updated_at"),
        r.get("feedback_id") is not None,
    )


def score_rows(line: int, record: dict) -> list[tuple]:
    """The staged rows of a feedback record's `scores`: each a criterion name and a value given as a
    text, a whole number or true/false (what it must be depends on the criterion, checked later)."""
    rows = []
    for name, value in scores_object(record.get("scores")).items():
        if isinstance(value, bool):
            rows.append((line, name, "true" if value else "false"))
        elif isinstance(value, int | str):
            rows.append((line, name, rules.text(str(value), f"score {name}", 200)))
        else:
            raise InvalidInput(
                f"score {name}: {str(value)[:60]!r} is not valid; give a text, a whole number or true/false"
            )
    return rows


_PARSERS: dict[str, Callable[[int, dict], tuple]] = {
    "thread": _thread,
    "run": _run,
    "event": _event,
    "feedback": _feedback,
}


def _required(kind: str) -> tuple[str, ...]:
    return {
        "thread": ("thread_id",),
        "run": ("run_id", "thread_id"),
        "event": ("thread_id", "run_id", "seq", "event_type"),
        "feedback": ("thread_id", "run_id", "rating"),
    }[kind]


def parse_record(line: int, record) -> tuple[str, tuple]:
    """Check one record; return its kind and the row to stage, or raise `InvalidInput`. A judge's
    verdict (a feedback record of source judge) is of the kind `judge`, staged apart."""
    if not isinstance(record, dict):
        raise InvalidInput(f"a record must be a JSON object, got {type(record).__name__}")
    kind = record.get("kind")
    if not isinstance(kind, str) or kind not in _PARSERS:
        raise InvalidInput(f"unknown kind {kind!r:.60}; expected one of {', '.join(KINDS)}")
    missing = [name for name in _required(kind) if record.get(name) is None]
    if missing:
        raise InvalidInput(f"{kind} record is missing required field {', '.join(missing)}")
    if kind == "feedback" and verdicts.is_verdict(record):
        return "judge", verdicts.parse(line, record, _optional_ts)
    return kind, _PARSERS[kind](line, record)


class RecordError(Exception):
    """A record that could not even be read (bad JSON, bad UTF-8): carried to the report."""


def _table(kind: str, rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows))
    schema = SCHEMAS[kind]
    return pa.Table.from_arrays(
        [pa.array(column, type=schema.field(i).type) for i, column in enumerate(columns)], schema=schema
    )


def stage_records(numbered, reject, progress) -> Staged:
    """Check the records one by one and gather the valid ones as Arrow tables, before any transaction:
    a retried write loads the same rows again, whatever `numbered` was (an iterator is read once)."""
    pending: dict[str, list[tuple]] = {kind: [] for kind in STAGES}
    tables: dict[str, list[pa.Table]] = {kind: [] for kind in STAGES}
    scored: list[tuple] = []
    line = 0
    for line, record in numbered:
        try:
            if isinstance(record, RecordError):
                raise InvalidInput(str(record))
            kind, row = parse_record(line, record)
            if kind == "feedback" and record.get("scores") is not None:
                scored.extend(score_rows(line, record))
        except InvalidInput as error:
            reject(line, str(error))
            continue
        # Valid records are kept even after an error, so the cross-record checks can report every bad
        # line at once; nothing is merged either way.
        pending[kind].append(row)
        if len(pending[kind]) >= BATCH:
            tables[kind].append(_table(kind, pending[kind]))
            pending[kind].clear()
        if progress and line % 10_000 == 0:
            progress(line)
    merged = {}
    for kind in STAGES:
        if pending[kind]:
            tables[kind].append(_table(kind, pending[kind]))
        merged[kind] = pa.concat_tables(tables[kind]) if tables[kind] else SCHEMAS[kind].empty_table()
    if scored:
        merged["score"] = pa.Table.from_arrays(
            [pa.array(column, type=SCORE_SCHEMA.field(i).type) for i, column in enumerate(zip(*scored))],
            schema=SCORE_SCHEMA,
        )
    return Staged(tables=merged, lines=[line])
