"""The PostgreSQL engine's bulk paths: `load` (COPY FROM, text built by Arrow), `arrow_batches` (a server-side
cursor) and `bulk_batches` (COPY TO parsed by Arrow) give back every value that went in, with the same types,
whatever the text holds."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from data_layer.engines import pg
from data_layer.errors import Conflict, InvalidInput

pytestmark = pytest.mark.postgres


def test_arrow_batches_stream_typed_batches_on_both_engines(demo_store):
    with demo_store.engine.read() as conn:
        batches = list(
            conn.arrow_batches(
                "SELECT run_id, total_tokens, follow_up_detected, metadata, created_at FROM runs ORDER BY run_id",
                batch_size=10,
            )
        )
        expected = conn.scalar("SELECT count(*) FROM runs")
    assert len(batches) > 1
    assert all(batch.num_rows <= 10 for batch in batches)
    assert sum(batch.num_rows for batch in batches) == expected
    schema = batches[0].schema
    assert str(schema.field("total_tokens").type) == "int64"
    assert str(schema.field("follow_up_detected").type) == "bool"
    assert str(schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    metadata = [value for batch in batches for value in batch.column("metadata").to_pylist() if value]
    assert metadata and all(isinstance(value, str) for value in metadata)
    with demo_store.engine.read() as conn:
        tags = list(conn.arrow_batches("SELECT tags FROM feedback ORDER BY feedback_id", batch_size=1000))
    assert str(tags[0].schema.field("tags").type).startswith("list<")
    assert any(value for batch in tags for value in batch.column("tags").to_pylist())


# Everything COPY's text format, array literals or CSV give a meaning to, and text beyond ASCII.
HOSTILE_TEXT = [
    'say "hi"',
    "back\\slash \\N \\t",
    "tab\there",
    "two\nlines\r\nand a return",
    "\\.",
    "before\n\\.\nafter",
    "NULL",
    "",
    None,
    "{a,b} (c) [d] 'e' ,;|",
    "ünïcödé 日本語 🎉 \u200b",
]
HOSTILE_TAGS = [
    [],
    None,
    ['a "quoted" tag', "back\\slash", "NULL", None, "", "{x,y}", "tab\t", "new\nline", "ü"],
    ["\\N"],
    [" spaced "],
]
_BULK_TABLE = """
CREATE TABLE bulk (n BIGINT, label TEXT, tags TEXT[], doc JSON, at TIMESTAMPTZ, naive TIMESTAMP, ok BOOLEAN,
                   small SMALLINT, x DOUBLE PRECISION, day DATE, amount NUMERIC)
"""


def _hostile_table() -> pa.Table:
    rows = max(len(HOSTILE_TEXT), len(HOSTILE_TAGS))
    docs = ['{"k": "v \\"q\\" \\\\ \\n ü"}', "[]", None, "null", '{"tab": "\\t"}']
    times = [datetime(2026, 11, 20, 10, 1, 2, 123456, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC), None]
    times.append(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    floats = [0.1, 1e300, -0.0, float("inf"), float("-inf"), None, 1 / 3, float("nan")]
    return pa.table(
        {
            "n": pa.array([2**63 - 1, -(2**63), 0, None] + list(range(rows - 4)), pa.int64()),
            "label": pa.array((HOSTILE_TEXT * 2)[:rows], pa.string()),
            "tags": pa.array((HOSTILE_TAGS * 3)[:rows], pa.list_(pa.string())),
            "doc": pa.array((docs * 3)[:rows], pa.string()),
            "at": pa.array((times * 3)[:rows], pa.timestamp("us", tz="UTC")),
            "naive": pa.array([datetime(2026, 1, 2, 3, 4, 5, 6), None] * (rows // 2) + [None] * (rows % 2)),
            "ok": pa.array(([True, False, None] * rows)[:rows]),
            "small": pa.array(([-1, 1, None] * rows)[:rows], pa.int16()),
            "x": pa.array((floats * 2)[:rows], pa.float64()),
            "day": pa.array(([date(2026, 2, 28), None] * rows)[:rows]),
            "amount": pa.array(([1.5, None, -2.25] * rows)[:rows], pa.float64()),
        }
    )


def _same(got: list, expected: list) -> bool:
    return len(got) == len(expected) and all(
        (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b
        for a, b in zip(got, expected)
    )


@pytest.mark.parametrize("read", ["arrow_batches", "bulk_batches"])
def test_load_and_arrow_batches_round_trip_hostile_values(pg_url, read):
    """Every import and restore goes through `load`, every backup through `arrow_batches`, every export's rows
    through `bulk_batches` (COPY's CSV parsed by Arrow): both give back what went in, with the same types."""
    engine = pg.PostgresEngine(pg_url)
    try:
        engine.write(lambda conn: conn.execute(_BULK_TABLE))
        data = _hostile_table()
        engine.write(lambda conn: conn.load("bulk", data))
        with engine.read() as conn:
            stored = conn.all("SELECT *, CAST(doc AS TEXT) AS doc_text FROM bulk ORDER BY n NULLS FIRST")
            batches = list(getattr(conn, read)("SELECT * FROM bulk ORDER BY n NULLS FIRST", batch_size=4))
        expected = sorted(data.to_pylist(), key=lambda row: (row["n"] is not None, row["n"] or 0))
        # What psycopg reads back, value by value, is what went in (JSON as the text stored).
        assert [row["label"] for row in stored] == [row["label"] for row in expected]
        assert [row["tags"] for row in stored] == [row["tags"] for row in expected]
        assert [row["at"] for row in stored] == [row["at"] for row in expected]
        assert [row["naive"] for row in stored] == [row["naive"] for row in expected]
        assert stored[0]["n"] is None and {row["n"] for row in stored} >= {2**63 - 1, -(2**63), 0}
        assert [row["ok"] for row in stored] == [row["ok"] for row in expected]
        assert _same([row["x"] for row in stored], [row["x"] for row in expected])
        assert [row["doc_text"] for row in stored] == [row["doc"] for row in expected]
        assert max(batch.num_rows for batch in batches) == 4
        back = pa.Table.from_batches(batches)
        assert back.schema.field("tags").type == pa.list_(pa.string())
        assert back.schema.field("at").type == pa.timestamp("us", tz="UTC")
        assert back.schema.field("naive").type == pa.timestamp("us")
        assert back.schema.field("amount").type == pa.float64()
        for name in data.column_names:
            assert _same(back.column(name).to_pylist(), [row[name] for row in expected]), name
    finally:
        engine.close()


def test_bulk_batches_inline_parameters_as_literals_and_keep_nulls_apart_from_empty_texts(pg_url):
    """COPY takes no bind parameters: the values are written in as literals, and a value that looks like SQL
    is only a value. A one-column result's NULL is an empty line of COPY's CSV."""
    engine = pg.PostgresEngine(pg_url)
    hostile = "x'); DROP TABLE words; -- \\ $other \" ünï"
    try:
        engine.write(lambda conn: conn.execute("CREATE TABLE words (w TEXT, at TIMESTAMPTZ, b BYTEA)"))
        rows = [hostile, "", None, "plain", "a,b", '"', "\n", "line\nbreak", "\\N", "tab\there"]
        for i, word in enumerate(rows):
            at = datetime(2026, 3, 2, 13, 0, i, tzinfo=UTC)
            engine.write(
                lambda conn, w=word, t=at: conn.execute(
                    "INSERT INTO words VALUES ($w, $t, $b)", {"w": w, "t": t, "b": b"\x00"}
                )
            )
        query = "SELECT w FROM words WHERE (w = $hostile OR w IS NULL OR w <> $hostile) AND at >= $since ORDER BY at"
        params = {"hostile": hostile, "since": datetime(2026, 3, 2, 13, tzinfo=UTC)}
        with engine.read() as conn:
            got = [w for batch in conn.bulk_batches(query, params, batch_size=3) for w in batch.column("w").to_pylist()]
            assert got == rows
            only = conn.bulk_batches("SELECT w FROM words WHERE w = $hostile", {"hostile": hostile})
            assert [batch.column("w").to_pylist() for batch in only] == [[hostile]]
            # Bytes are not copied out here: the cursor reads them.
            [batch] = conn.bulk_batches("SELECT b, w FROM words WHERE w = ''")
            assert batch.to_pylist() == [{"b": b"\x00", "w": ""}]
            # Stopped early, the copy leaves the connection usable.
            stream = conn.bulk_batches("SELECT g FROM generate_series(1, 200000) g", batch_size=10)
            assert next(stream).column("g").to_pylist() == list(range(1, 11))
            stream.close()
            assert conn.scalar("SELECT count(*) FROM words") == len(rows)
    finally:
        engine.close()


def test_load_keeps_error_mapping_and_stores_nothing_on_failure(pg_url):
    engine = pg.PostgresEngine(pg_url)
    try:
        engine.write(lambda conn: conn.execute("CREATE TABLE keyed (k TEXT PRIMARY KEY, n BIGINT NOT NULL)"))
        engine.write(lambda conn: conn.load("keyed", pa.table({"k": ["a"], "n": [1]})))
        cases = {
            Conflict: pa.table({"k": ["b", "a"], "n": [2, 3]}),
            InvalidInput: pa.table({"k": ["c"], "n": pa.array([None], pa.int64())}),
        }
        for error, table in cases.items():
            with pytest.raises(error):
                engine.write(lambda conn, table=table: conn.load("keyed", table))
        engine.write(lambda conn: conn.execute("CREATE TABLE texts (t TEXT, n BIGINT)"))
        # PostgreSQL text holds no NUL character; a number column no word.
        for table in (pa.table({"t": ["nul \x00 inside"], "n": [1]}), pa.table({"t": ["fine"], "n": ["12x"]})):
            with pytest.raises(InvalidInput):
                engine.write(lambda conn, table=table: conn.load("texts", table))
        with engine.read() as conn:
            assert conn.all("SELECT k, n FROM keyed") == [{"k": "a", "n": 1}]
            assert conn.scalar("SELECT count(*) FROM texts") == 0
    finally:
        engine.close()


def test_load_writes_other_types_row_by_row(pg_url):
    """A column COPY text is not built for here (bytes) still loads, through psycopg's own adapters."""
    engine = pg.PostgresEngine(pg_url)
    try:
        engine.write(lambda conn: conn.execute("CREATE TABLE blobs (b BYTEA, t TEXT)"))
        values = [b"\x00\xff\\\t", None, b""]
        engine.write(lambda conn: conn.load("blobs", pa.table({"b": pa.array(values), "t": ["x", None, "\\"]})))
        with engine.read() as conn:
            rows = conn.all("SELECT b, t FROM blobs ORDER BY t NULLS LAST")
        assert [(bytes(row["b"]) if row["b"] is not None else None, row["t"]) for row in rows] == [
            (b"", "\\"),
            (b"\x00\xff\\\t", "x"),
            (None, None),
        ]
    finally:
        engine.close()
