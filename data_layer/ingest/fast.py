"""The fast reader of JSONL import files: all lines parsed, checked and turned into staged rows at once.

The per-record path (`records.parse_record` over `readers.read_jsonl`) costs about 13 µs of Python per
record. Here pyarrow's JSON reader parses the whole file against a fixed schema of the fields the
record kinds read (strict: a value of another JSON type, an unknown key or a key given twice at any
depth fails the read), and SQL over the Arrow columns, in a private in-memory DuckDB, applies the
record rules and builds the rows to stage.

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
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from data_layer import messages, rules
from data_layer.ingest.records import Staged
from data_layer.schema import FEEDBACK_SOURCES, REASON_TAGS, RUN_STATUSES

# Bigger files take the per-record path, which streams; this one holds the whole file in memory.
MAX_BYTES = 256 * 1024 * 1024
# Control bytes a file may hold here: JSON whitespace only (\r only as part of \r\n).
_CONTROL = bytes(set(range(32)) - {9, 10, 13})
# `"source": null` is an error where a missing source is not; the Arrow column cannot tell them apart.
_NULL_SOURCE = re.compile(rb'"source"[ \t]*:[ \t]*null')
# A regular expression class of what `str.strip()` strips.
_SPACE = "[" + "".join(f"\\x{{{code:x}}}" for code in range(sys.maxunicode + 1) if chr(code).isspace()) + "]"
_ID = rules.ID_PATTERN
_TIME = r"\d{4}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?"
_NAMESPACE_BLOB = "".join(f"\\x{byte:02X}" for byte in rules.FEEDBACK_NAMESPACE.bytes)

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
]
# The keys of a content object taken here, in the order the object must list them.
CONTENT_KEYS = ("type", "content", "id", "tool_call_id", "name")
_CONTENT_TYPES = (pa.struct([(name, _S) for name in CONTENT_KEYS]), _S)


def _list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _case(expression: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{key}' THEN '{value}'" for key, value in mapping.items())
    return f"(CASE {expression} {whens} END)"


def _pystr(expression: str) -> str:
    """`json.dumps` of a string holding no control characters other than \\n, \\r, \\t."""
    escaped = f"replace(replace({expression}, '\\', '\\\\'), '\"', '\\\"')"
    escaped = f"replace(replace(replace({escaped}, chr(10), '\\n'), chr(13), '\\r'), chr(9), '\\t')"
    # Most strings need no escape; finding that out is cheaper than five replacements.
    plain = f"NOT regexp_matches({expression}, '[\"\\\\\\x00-\\x1f]')"
    return f"('\"' || CASE WHEN {plain} THEN {expression} ELSE {escaped} END || '\"')"


def _id(column: str) -> str:
    return f"regexp_full_match({column}, '{_ID}')"


def _opt_id(column: str) -> str:
    return f"({column} IS NULL OR {_id(column)})"


def _text(column: str, limit: int) -> str:
    return f"(length({column}) <= {limit} AND strpos({column}, chr(0)) = 0)"


def _opt_text(column: str, limit: int = rules.MAX_TEXT) -> str:
    return f"({column} IS NULL OR {_text(column, limit)})"


def _opt_int(column: str) -> str:
    return f"({column} IS NULL OR {column} BETWEEN 0 AND {2**62})"


def _time(column: str) -> str:
    """The time of a string of the one accepted ISO-8601 shape (naive means UTC), else NULL."""
    return (
        f"CASE WHEN regexp_full_match({column}, '{_TIME}') THEN "
        f"TRY_CAST(CASE WHEN regexp_matches({column}, '(Z|[+-]\\d\\d:\\d\\d)$') THEN {column} "
        f"ELSE {column} || '+00:00' END AS TIMESTAMPTZ) END"
    )


def _opt_time(column: str) -> str:
    return (
        f"({column} IS NULL OR ({column}_ts >= TIMESTAMPTZ '{rules.EARLIEST.isoformat()}'"
        f" AND {column}_ts < TIMESTAMPTZ '{rules.LATEST.isoformat()}'))"
    )


_OWNER = "(CASE WHEN owner_id IS NOT NULL THEN owner_id ELSE user_id END)"
_OWNER_OK = f"(CASE WHEN owner_id IS NOT NULL THEN {_id('owner_id')} ELSE {_opt_id('user_id')} END)"
_METADATA = "CASE WHEN metadata IS NOT NULL THEN '{}' END"


def _records(kind: str) -> str:
    """The records of one kind with their times parsed."""
    return (
        f"(SELECT *, {_time('created_at')} AS created_at_ts, {_time('updated_at')} AS updated_at_ts "
        f"FROM records WHERE kind = '{kind}')"
    )


def _thread_sql() -> str:
    ok = " AND ".join(
        [
            _id("thread_id"),
            _opt_id("assistant_id"),
            _OWNER_OK,
            _opt_text("display_name", 1000),
            _opt_text("status", 50),
            _opt_time("created_at"),
            _opt_time("updated_at"),
        ]
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, thread_id, assistant_id, {_OWNER} AS owner_id, display_name, status,
           {_METADATA} AS metadata, created_at_ts AS created_at, updated_at_ts AS updated_at
    FROM {_records("thread")}
    """


def _run_sql() -> str:
    ok = " AND ".join(
        [
            _id("run_id"),
            _id("thread_id"),
            _opt_id("assistant_id"),
            _OWNER_OK,
            f"(status IS NULL OR status IN ({_list(RUN_STATUSES)}))",
            _opt_text("model_name", 200),
            _opt_text("error"),
            _opt_int("message_count"),
            _opt_text("first_human_message", rules.MAX_CONTENT),
            _opt_text("last_ai_message", rules.MAX_CONTENT),
            _opt_int("total_input_tokens"),
            _opt_int("total_output_tokens"),
            _opt_int("total_tokens"),
            _opt_int("llm_call_count"),
            _opt_id("follow_up_to_run_id"),
            _opt_time("created_at"),
            _opt_time("updated_at"),
        ]
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, run_id, thread_id, assistant_id, {_OWNER} AS owner_id,
           coalesce(status, 'pending') AS status, model_name, error, message_count, first_human_message,
           last_ai_message, total_input_tokens, total_output_tokens, total_tokens, llm_call_count,
           follow_up_to_run_id, {_METADATA} AS metadata, created_at_ts AS created_at, updated_at_ts AS updated_at
    FROM {_records("run")}
    """


# Control characters that `json.dumps` writes as \uXXXX, \b or \f: content holding one goes the slow way.
_ODD_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def _event_sql(objects: bool) -> str:
    """Events whose content is a flat object in every line (`objects`) or a string or null in every line."""
    event_roles = _case("event_type", messages.MESSAGE_ROLES)
    category = (
        f"CASE WHEN event_type IN ({_list(messages.MESSAGE_ROLES)}) THEN 'message' "
        "WHEN category <> '' THEN category "
        "WHEN starts_with(event_type, 'middleware:') THEN 'middleware' "
        "WHEN starts_with(event_type, 'run_') OR starts_with(event_type, 'run.') THEN 'lifecycle' "
        "ELSE 'trace' END"
    )
    if objects:
        fields = [f"content.{name}" for name in CONTENT_KEYS]
        # `json.dumps(content, ensure_ascii=False)` if the object lists exactly its non-null keys in this
        # order; the line holding that very text at its top-level "content" key proves it does.
        parts = ", ".join(f"'\"{name}\": ' || {_pystr(field)}" for name, field in zip(CONTENT_KEYS, fields))
        columns = f"""
            CASE WHEN content IS NOT NULL THEN '{{' || concat_ws(', ', {parts}) || '}}' END AS content_text,
            coalesce({_case("lower(content.type)", messages._DUMP_ROLES)}, {event_roles}) AS p_role,
            coalesce(content.content, '') AS p_text,
            CASE WHEN {_id("content.id")} THEN content.id ELSE thread_id || ':' || CAST(seq AS VARCHAR) END
                AS p_message_id,
            content.tool_call_id AS p_tool_call_id, content.name AS p_name
        """
        content_ok = (
            "(content IS NULL OR (contains(j, '\"content\": ' || content_text)"
            f" AND length(content_text) <= {rules.MAX_CONTENT}"
            f" AND NOT regexp_matches(concat({', '.join(fields)}), '{_ODD_CONTROL}')"
            " AND (content.type IS NULL OR regexp_full_match(content.type, '[\\x00-\\x7f]*'))))"
        )
    else:
        columns = f"""
            content AS content_text, {event_roles} AS p_role, coalesce(content, '') AS p_text,
            thread_id || ':' || CAST(seq AS VARCHAR) AS p_message_id,
            CAST(NULL AS VARCHAR) AS p_tool_call_id, CAST(NULL AS VARCHAR) AS p_name
        """
        # A string that looks like a JSON dump is parsed by `messages.parse`: left to the per-record path.
        dump = f"regexp_matches(content, '^{_SPACE}*\\{{')"
        content_ok = f"(content IS NULL OR ({_text('content', rules.MAX_CONTENT)} AND NOT {dump}))"
    ok = " AND ".join(
        [
            _id("thread_id"),
            _id("run_id"),
            f"seq BETWEEN 0 AND {rules.MAX_SEQ}",
            _text("event_type", 100),
            f"regexp_matches(event_type, '[^{_SPACE[1:]}')",
            _opt_text("category", 100),
            content_ok,
            _opt_time("created_at"),
        ]
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, thread_id, run_id, seq, event_type, p_category AS category,
           CASE WHEN p_category = 'message' THEN p_role END AS role,
           CASE WHEN p_category = 'message' THEN p_message_id END AS message_id,
           content_text AS content, p_text AS text, CAST(NULL AS VARCHAR) AS tool_calls,
           p_tool_call_id AS tool_call_id, p_name AS name, {_METADATA} AS metadata, created_at_ts AS created_at
    FROM (SELECT *, {category} AS p_category, {columns} FROM {_records("event")})
    """


def _feedback_sql() -> str:
    comment = f"CASE WHEN regexp_matches(comment, '[^{_SPACE[1:]}') THEN comment END"
    # The id of a vote without one: uuid5 of `json.dumps([...])` (ASCII-escaped, so only for ASCII comments).
    key = (
        f"'[\"' || thread_id || '\", \"' || run_id || '\", ' || coalesce('\"' || {_OWNER} || '\"', 'null') "
        "|| ', ' || coalesce('\"' || message_id || '\"', 'null') || ', ' || CAST(rating AS VARCHAR) || ', ' "
        f"|| coalesce({_pystr('comment_v')}, 'null') || ', ' || coalesce('\"' || created_at || '\"', 'null') || ']'"
    )
    derived = (
        "substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-5' || substr(h, 14, 3) || '-' "
        "|| substr('89ab', (CAST(('0x' || substr(h, 17, 1)) AS INTEGER) & 3) + 1, 1) || substr(h, 18, 3) || '-' "
        "|| substr(h, 21, 12)"
    )
    ok = " AND ".join(
        [
            _id("thread_id"),
            _id("run_id"),
            "rating IN (1, -1)",
            _OWNER_OK,
            _opt_id("message_id"),
            _opt_text("comment", rules.MAX_COMMENT),
            _opt_time("created_at"),
            _opt_id("feedback_id"),
            "(feedback_id IS NOT NULL OR comment_v IS NULL OR regexp_full_match(comment_v, '[\\x20-\\x7e\\n\\r\\t]*'))",
            f"(tags IS NULL OR len(list_filter(tags, lambda t: coalesce(t NOT IN ({_list(REASON_TAGS)}), true))) = 0)",
            f"(source IS NULL OR source IN ({_list(FEEDBACK_SOURCES)}))",
            _opt_time("updated_at"),
        ]
    )
    tags = (
        "CASE WHEN tags IS NULL THEN CAST([] AS VARCHAR[]) "
        "ELSE list_filter(tags, lambda t, i: list_position(tags, t) = i) END"
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, coalesce(feedback_id, {derived}) AS feedback_id, thread_id, run_id,
           {_OWNER} AS owner_id, message_id, coalesce(message_id, '') AS scope, rating, comment_v AS comment,
           {tags} AS tags, coalesce(source, 'end_user') AS source, created_at_ts AS created_at,
           updated_at_ts AS updated_at, feedback_id IS NOT NULL AS given_id
    FROM (
        SELECT *, CASE WHEN feedback_id IS NULL THEN sha1('{_NAMESPACE_BLOB}'::BLOB || encode({key})) END AS h
        FROM (SELECT *, {comment} AS comment_v FROM {_records("feedback")})
    )
    """


_STAGE_SQL = {
    "thread": _thread_sql(),
    "run": _run_sql(),
    "feedback": _feedback_sql(),
}
_EVENT_SQL = {True: _event_sql(objects=True), False: _event_sql(objects=False)}
_ODD_KINDS = f"SELECT count(*) FROM records WHERE kind IS NULL OR kind NOT IN ({_list((*_STAGE_SQL, 'event'))})"


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
        if any(_scalar(records, _ODD_KINDS) for records, _ in groups):
            return None
        # Each query reads fewer rows than DuckDB splits among its threads: two run side by side instead.
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda task: _stage_rows(*task), tasks))
    except duckdb.Error:
        return None
    if any(result.num_rows and not pc.all(result.column("ok")).as_py() for result in results):
        return None
    tables = {}
    for kind in ("thread", "run", "event", "feedback"):
        found = [
            result.drop_columns(["ok"]).cast(schemas[kind]) for result, task in zip(results, tasks) if task[1] == kind
        ]
        # One group comes out in line order already; two are interleaved by line.
        tables[kind] = found[0] if len(found) == 1 else pa.concat_tables(found).sort_by("line")
    return Staged(tables=tables, lines=numbers.to_pylist())


# The events first: the longest query starts first.
_KINDS = ("event", "thread", "run", "feedback")
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
        return conn.sql(_EVENT_SQL[objects] if kind == "event" else _STAGE_SQL[kind]).to_arrow_table()
