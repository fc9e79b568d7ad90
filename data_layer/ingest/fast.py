"""The fast reader of JSONL import files: all lines parsed, checked and turned into staged rows at once.

The per-record path (`records.parse_record` over `readers.read_jsonl`) costs about 13 µs of Python per
record. Here pyarrow's JSON reader parses the whole file against a fixed schema of the fields the
record kinds read (strict: a value of another JSON type, an unknown key or a key given twice at any
depth fails the read), and SQL over the Arrow columns (`fast_sql.py`), in a private in-memory DuckDB,
applies the record rules and builds the rows to stage.

A judge's verdict (a feedback record of source judge, `ingest/verdicts.py`) is staged apart, as the
per-record path stages it; one with rubric `scores` is not taken here.

It is deliberately narrow. It accepts only a subset of what the per-record path accepts: string
times of one ISO-8601 shape, metadata `{}` or null, message content a string, null or a flat object
(type, content, id, tool_call_id, name: strings or null, in that order, written `"content": {` as
`json.dumps` writes it), and no floats, no control characters, no byte order mark, no
`"source": null`, each line one object. For that subset it builds exactly the rows the per-record
path would stage. For anything else, valid or not, `stage_file` returns None and the caller runs the
per-record path, which names every bad line: error messages and edge behaviour stay that path's
alone. The SQL is DuckDB's own (lambdas, list functions); it runs in its own in-memory connection,
so whichever engine the store uses, it never touches the store.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from data_layer.ingest.fast_sql import CONTENT_KEYS, EVENT_SQL, ODD_KINDS, STAGE_SQL
from data_layer.ingest.records import Staged

# Bigger files take the per-record path, which streams; this one holds the whole file in memory.
MAX_BYTES = 256 * 1024 * 1024
# Control bytes a file may hold here: JSON whitespace only (\r only as part of \r\n).
_CONTROL = bytes(set(range(32)) - {9, 10, 13})
# `"source": null` is an error where a missing source is not; the Arrow column cannot tell them apart.
_NULL_SOURCE = re.compile(rb'"source"[ \t]*:[ \t]*null')
_S, _I = pa.string(), pa.int64()
# Every field some kind reads, with the only JSON type taken for it here.
_FIELDS = [
    ("kind", _S),
    ("thread_id", _S),
    ("run_id", _S),
    ("assistant_id", _S),
    ("owner_id", _S),
    ("user_id", _S),
    ("display_name", _S),
    ("status", _S),
    ("metadata", pa.struct([])),
    ("created_at", _S),
    ("updated_at", _S),
    ("model_name", _S),
    ("error", _S),
    ("message_count", _I),
    ("first_human_message", _S),
    ("last_ai_message", _S),
    ("total_input_tokens", _I),
    ("total_output_tokens", _I),
    ("total_tokens", _I),
    ("llm_call_count", _I),
    ("follow_up_to_run_id", _S),
    ("seq", _I),
    ("event_type", _S),
    ("category", _S),
    ("feedback_id", _S),
    ("message_id", _S),
    ("rating", _I),
    ("comment", _S),
    ("tags", pa.list_(_S)),
    ("source", _S),
    ("judge", _S),
    ("rationale", _S),
]
_CONTENT_TYPES = (pa.struct([(name, _S) for name in CONTENT_KEYS]), _S)


def _lines(data: bytes) -> tuple[pa.Array, pa.Array] | None:
    """The non-empty lines (as Arrow strings) and their numbers, if each is one `{...}` and nothing else."""
    raw = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(raw == 10)
    if len(raw) and raw[-1] != 10:
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    ends = ends - ((ends > starts) & (raw[np.maximum(ends - 1, 0)] == 13))
    filled = ends > starts
    starts, ends = starts[filled], ends[filled]
    # Each line holds one whole object: no object spans lines, so as many rows as lines means one a line.
    # (This also turns away a byte order mark, which pyarrow would skip and Python's decoder refuses.)
    if not len(starts) or (raw[starts] != ord("{")).any() or (raw[ends - 1] != ord("}")).any():
        return None
    # Each string runs from its line to the next one, so it ends with newlines that change nothing here.
    offsets = np.append(starts, len(data)).astype(np.int32)
    try:
        lines = pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(data))
        lines.validate(full=True)
    except pa.ArrowInvalid:
        return None
    # From the buffer: `pa.array` of a numpy array imports pandas on first use (0.1 s).
    numbers = (np.flatnonzero(filled) + 1).astype(np.int64)
    return lines, pa.Array.from_buffers(pa.int64(), len(numbers), [None, pa.py_buffer(numbers)])


def _read(data, content: pa.DataType) -> pa.Table | None:
    schema = pa.schema([*_FIELDS, ("content", content)])
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    try:
        return pj.read_json(pa.BufferReader(data), parse_options=options)
    except pa.ArrowInvalid:
        return None


def _with_lines(records: pa.Table, lines: pa.Array, numbers: pa.Array) -> pa.Table:
    """The records with `metadata` as a flag (given or not), their line numbers (`line`) and texts (`j`)."""
    metadata = pc.if_else(pc.is_valid(records.column("metadata")), pa.scalar(True), pa.scalar(None, pa.bool_()))
    records = records.set_column(records.schema.get_field_index("metadata"), "metadata", metadata)
    return records.append_column("line", numbers).append_column("j", lines)


def _groups(data: bytes, lines: pa.Array, numbers: pa.Array) -> list[tuple[pa.Table, bool]] | None:
    """The records, read in one group per shape of content (objects, or strings and null), each with
    its lines (`line`, `j`) and whether its content holds objects."""
    # Most files hold one shape: the whole file is read as the likelier one, then as the other. Only a
    # file holding both is split, which needs three passes over its lines.
    likely = b'"content": {' in data
    for shape in (likely, not likely):
        records = _read(data, _CONTENT_TYPES[0] if shape else _CONTENT_TYPES[1])
        if records is not None and records.num_rows == len(lines):
            return [(_with_lines(records, lines, numbers), shape)]
    # A line naming "content" but not as `"content": {` goes with the strings, every other with the
    # objects; a wrong guess only fails the read.
    strings = pc.and_(pc.match_substring(lines, '"content"'), pc.invert(pc.match_substring(lines, '"content": {')))
    groups = []
    for mask, shape in ((pc.invert(strings), True), (strings, False)):
        part = lines.filter(mask)
        if not len(part):
            return None
        offsets = np.frombuffer(part.buffers()[1], np.int32)[part.offset : part.offset + len(part) + 1]
        text = part.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        records = _read(text, _CONTENT_TYPES[0] if shape else _CONTENT_TYPES[1])
        if records is None or records.num_rows != len(part):
            return None
        groups.append((_with_lines(records, part, numbers.filter(mask)), shape))
    return groups


def stage_file(path: str, schemas: dict[str, pa.Schema]) -> Staged | None:
    """The staged rows of a JSONL file, or None when the file needs the per-record path."""
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError:
        return None
    if len(data.translate(None, _CONTROL)) != len(data):
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None
    if _NULL_SOURCE.search(data):
        return None
    split = _lines(data)
    if split is None:
        return None
    lines, numbers = split
    groups = _groups(data, lines, numbers)
    del data
    if groups is None:
        return None
    tasks = [(records, kind, objects) for records, objects in groups for kind in _KINDS]
    try:
        if any(_scalar(records, ODD_KINDS) for records, _ in groups):
            return None
        # Each query reads fewer rows than DuckDB splits among its threads: two run side by side instead.
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda task: _stage_rows(*task), tasks))
    except duckdb.Error:
        return None
    if any(result.num_rows and not pc.all(result.column("ok")).as_py() for result in results):
        return None
    tables = {}
    for kind in ("thread", "run", "event", "feedback", "judge"):
        found = [
            result.drop_columns(["ok"]).cast(schemas[kind]) for result, task in zip(results, tasks) if task[1] == kind
        ]
        # One group comes out in line order already; two are interleaved by line.
        tables[kind] = found[0] if len(found) == 1 else pa.concat_tables(found).sort_by("line")
    if not tables["judge"].num_rows:
        del tables["judge"]  # judges' verdicts are staged apart, and only when a file holds some
    return Staged(tables=tables, lines=numbers.to_pylist())


# The events first: the longest query starts first.
_KINDS = ("event", "thread", "run", "feedback", "judge")
_DATABASE: duckdb.DuckDBPyConnection | None = None
_DATABASE_GUARD = threading.Lock()


def _cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own to the process's private in-memory DuckDB (made once: 15 ms each)."""
    global _DATABASE
    with _DATABASE_GUARD:
        if _DATABASE is None:
            _DATABASE = duckdb.connect(":memory:")
            _DATABASE.execute("SET GLOBAL TimeZone = 'UTC'")
        return _DATABASE.cursor()


def _scalar(records: pa.Table, sql: str):
    with _cursor() as conn:
        conn.register("records", records)
        return conn.execute(sql).fetchall()[0][0]


def _stage_rows(records: pa.Table, kind: str, objects: bool) -> pa.Table:
    """The rows of one kind to stage, with `ok` saying whether each record keeps every rule."""
    with _cursor() as conn:
        conn.register("records", records)
        return conn.sql(EVENT_SQL[objects] if kind == "event" else STAGE_SQL[kind]).to_arrow_table()
