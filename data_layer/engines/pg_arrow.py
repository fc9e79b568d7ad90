"""PostgreSQL results as Arrow: each result column's Arrow type, and a query's whole result copied out
(`COPY (query) TO STDOUT`) and parsed by Arrow's CSV reader, without a Python object per value.

`PgConn.arrow_batches` (a server-side cursor) and `PgConn.bulk_batches` (the copy here) give the same
types: numbers, times, dates and booleans are parsed by Arrow from the text PostgreSQL writes (ISO
DateStyle, set for every session), JSON is its text, an array a list. The copy is in COPY's CSV format,
which Arrow reads as it is: a NULL is an empty field and an empty text a quoted one (`""`), so the two stay
apart, and quoting keeps commas, quotes and line breaks inside a value (COPY's text format would need its
backslash escapes undone, a pass over every text). Arrays are turned into JSON text in the query
(`array_to_json`), which Arrow's JSON reader parses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
from psycopg import sql as pg_sql

from data_layer.engines import inline

ARROW_TYPES = {
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "numeric": pa.float64(),
    "bool": pa.bool_(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "bytea": pa.binary(),
}
# Read as text and parsed by Arrow (`parse`): PostgreSQL's ISO output with the session's DateStyle.
PARSED = ("int2", "int4", "int8", "float4", "float8", "numeric", "bool", "timestamptz", "timestamp", "date")

# A piece of the copy is parsed once it holds this many bytes (or the batch size in rows): the memory
# of one piece, whatever the length of the texts.
_PIECE_BYTES = 32 << 20
# COPY's CSV format as Arrow's CSV reader reads it: NULL is an empty field, an empty text `""` (a
# quoted field is never NULL), values may hold line breaks; a row of one NULL is an empty line.
_CSV = pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
_LIST = pa.schema([("v", pa.list_(pa.string()))])


def result_kind(conn: psycopg.Connection, oid: int) -> tuple[pa.DataType, str | None, bool]:
    """A result column's Arrow type, its PostgreSQL element type name when read as text to be parsed
    by Arrow, and whether it is an array (a list of its element type)."""
    info = conn.adapters.types.get(oid)
    if info is None:
        return pa.string(), None, False
    element = ARROW_TYPES.get(info.name, pa.string())
    parsed = info.name if info.name in PARSED else None
    if oid == info.array_oid:
        return pa.list_(element), parsed, True
    return element, parsed, False


def parse(text: pa.Array, name: str) -> pa.Array:
    """Values PostgreSQL wrote as text (its ISO dates and times, `t`/`f`, `NaN`) as Arrow values of their type."""
    if name == "bool":
        return pc.equal(text, "t")
    return text.cast(ARROW_TYPES[name])


def parsed_lists(lists: pa.ListArray, parsed: str | None) -> pa.Array:
    """Lists of texts as lists of the values they write (`parse`); NULL lists and elements kept."""
    if parsed is None:
        return lists
    return pa.ListArray.from_arrays(lists.offsets, parse(lists.values, parsed), mask=lists.is_null())


def copyable(kind: pa.DataType) -> bool:
    """Whether a column of this type can be copied out (bytes are written in hex, which is not parsed here)."""
    element = kind.value_type if pa.types.is_list(kind) else kind
    return not pa.types.is_binary(element)


def copy_statement(conn: psycopg.Connection, sql: str, params: dict | None, arrays: list[bool]) -> pg_sql.Composed:
    """`COPY (sql) TO STDOUT` with the query's columns renamed `c0, c1, ...` (its own names may repeat) and
    each array (`arrays[i]`) as the JSON text of its elements' texts. The outer query only renames and
    converts, so the rows keep the order of `sql`'s ORDER BY (a subquery that sorts is planned on its own).

    COPY takes no bind parameters, and a prepared statement cannot be its query (`COPY (EXECUTE ...)` is no
    SQL), so the values are written into the statement as literals by psycopg's `sql.Literal`: quoted and
    escaped by libpq for this connection's encoding and `standard_conforming_strings`, times with their
    type named, never formatted into the text by us. The placeholders are the very ones `bind` numbers."""
    query = inline(sql, params, lambda value: pg_sql.Literal(value).as_string(conn))
    names = [pg_sql.Identifier(f"c{i}") for i in range(len(arrays))]
    select = pg_sql.SQL(", ").join(
        pg_sql.SQL("array_to_json(CAST({} AS TEXT[]))").format(name) if array else name
        for name, array in zip(names, arrays)
    )
    return pg_sql.SQL("COPY (SELECT {} FROM ({}) AS q ({})) TO STDOUT (FORMAT csv, ENCODING 'UTF8')").format(
        select, pg_sql.SQL(query), pg_sql.SQL(", ").join(names)
    )


def _pieces(messages: Iterable, rows: int) -> Iterator[pa.Buffer]:
    """The copied rows in pieces of at most `rows` rows or about `_PIECE_BYTES`: every message PostgreSQL
    sends in a copy out is one whole row (its protocol says so), so a piece never cuts a row."""
    held: list = []
    size = 0
    for message in messages:
        held.append(message)
        size += len(message)
        if len(held) >= rows or size >= _PIECE_BYTES:
            yield pa.py_buffer(b"".join(held))
            held, size = [], 0
    if held:
        yield pa.py_buffer(b"".join(held))


def _lists(text: pa.Array) -> pa.ListArray:
    """JSON arrays of texts (NULL: no list) as lists, by Arrow's JSON reader over one line per value."""
    lines = pc.binary_join_element_wise('{"v":', text.fill_null("null"), "}\n", "")
    offsets = memoryview(lines.buffers()[1]).cast("i")
    document = pa.py_buffer(memoryview(lines.buffers()[2])[offsets[lines.offset] : offsets[lines.offset + len(lines)]])
    table = pa_json.read_json(
        pa.BufferReader(document),
        read_options=pa_json.ReadOptions(use_threads=False, block_size=max(len(document), 1)),
        parse_options=pa_json.ParseOptions(explicit_schema=_LIST, unexpected_field_behavior="error"),
    )
    return table.column("v").combine_chunks()


def _table(piece: pa.Buffer, kinds: list[tuple[pa.DataType, str | None, bool]], schema: pa.Schema) -> pa.Table:
    names = [f"c{i}" for i in range(len(kinds))]
    text = pa_csv.read_csv(
        pa.BufferReader(piece),
        read_options=pa_csv.ReadOptions(column_names=names, block_size=max(len(piece), 1), use_threads=False),
        parse_options=_CSV,
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    columns = []
    for name, (kind, parsed, is_array) in zip(names, kinds):
        values = text.column(name).combine_chunks()
        if is_array:
            columns.append(parsed_lists(_lists(values), parsed).cast(kind))
        elif parsed is not None:
            columns.append(parse(values, parsed))
        else:
            columns.append(values.cast(kind))
    return pa.Table.from_arrays(columns, schema=schema)


def copy_batches(
    conn: psycopg.Connection,
    statement: pg_sql.Composed,
    kinds: list[tuple[pa.DataType, str | None, bool]],
    schema: pa.Schema,
    batch_size: int,
) -> Iterator[pa.RecordBatch]:
    """The rows of `statement` (from `copy_statement`) as record batches of `schema`, at most `batch_size` rows each."""
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for piece in _pieces(copy, batch_size):
            yield from _table(piece, kinds, schema).to_batches(max_chunksize=batch_size)
