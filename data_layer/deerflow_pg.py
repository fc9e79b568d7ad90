"""Incremental import from a deer-flow gateway's live PostgreSQL database.

Each run reads, in one read-only snapshot of the source, only the rows changed since the last
import from that source: run events past the largest `id` seen, other tables past the largest
`updated_at` (or `created_at` where a table has no `updated_at`). Those high-water marks live in
our own database (`import_marks`), written in the import's own transaction: they advance exactly
when the rows they cover are stored.

Limits, said plainly: a row deleted upstream is not deleted here, and a row whose change time
is NULL or goes backwards is not seen again after the first run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from data_layer import ingest
from data_layer.deerflow import TABLES, _record
from data_layer.engines.pg import CONNECT_TIMEOUT_S, describe_failure
from data_layer.errors import InvalidInput, StoreUnavailable

_TEXT_TYPES = ("text", "character varying", "character")

_READ_MARKS = "SELECT table_name, mark FROM import_marks WHERE source = $source"

_SAVE_MARK = """
INSERT INTO import_marks (source, table_name, mark, imported_at) VALUES ($source, $table_name, $mark, $now)
ON CONFLICT (source, table_name) DO UPDATE SET mark = excluded.mark, imported_at = excluded.imported_at
"""


def source_key(url: str) -> str:
    """The name a source's marks are kept under: host, port and database, never the credentials."""
    info = conninfo_to_dict(url)
    return f"postgresql://{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class _Reader:
    """Streams the changed rows of every upstream table as numbered records, noting the largest mark."""

    def __init__(self, url: str, marks: dict[str, str]):
        self.url = url
        self.marks = marks
        self.seen: dict[str, str] = {}

    def _columns(self, conn) -> dict[str, dict[str, str]]:
        rows = conn.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = ANY(%s)""",
            ([table for table, _ in TABLES],),
        ).fetchall()
        found: dict[str, dict[str, str]] = {}
        for row in rows:
            found.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
        return found

    def __iter__(self) -> Iterator[tuple[int, object]]:
        try:
            conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, row_factory=dict_row)
        except (psycopg.Error, ValueError) as error:
            raise StoreUnavailable(f"deer-flow source: {describe_failure(self.url, error)}") from None
        line = 0
        with conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SET LOCAL TimeZone = 'UTC'")
            tables = self._columns(conn)
            if not tables:
                raise InvalidInput(
                    "the deer-flow source has no deer-flow tables (threads_meta, runs, run_events, feedback)"
                )
            for table, kind in TABLES:
                columns = tables.get(table)
                if not columns:
                    continue
                column = "id" if table == "run_events" else ("updated_at" if "updated_at" in columns else "created_at")
                if column not in columns:
                    raise InvalidInput(f"the deer-flow source's table {table} has no {column} column")
                mark = self.marks.get(table)
                where, params = "", []
                if mark is not None:
                    where = f" WHERE {column} > %s"
                    params = [_parse(mark, column, columns[column])]
                sql = f"SELECT * FROM {table}{where} ORDER BY {column}"
                with conn.cursor(name=f"deerflow_{table}") as cursor:
                    cursor.itersize = 5000
                    cursor.execute(sql, params)
                    for row in cursor:
                        line += 1
                        value = row.get(column)
                        if value is not None:
                            self.seen[table] = _text(value)
                        yield line, _record(kind, row)


def _parse(mark: str, column: str, data_type: str):
    """A stored mark as the value to compare with the upstream column (its type decides)."""
    if column == "id":
        return int(mark)
    if data_type in _TEXT_TYPES:
        return mark
    return datetime.fromisoformat(mark)


def _text(value) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def import_incremental(engine, url: str, *, actor, progress: Callable[[int], None] | None = None):
    """Import what changed upstream since the last run from `url`, its votes under `actor` in the audit
    trail; the marks advance only on success."""
    key = source_key(url)
    with engine.read() as conn:
        marks = {row["table_name"]: row["mark"] for row in conn.all(_READ_MARKS, {"source": key})}
    reader = _Reader(url, marks)

    def save(conn) -> None:
        # In the import's transaction, after the whole source was read: the marks advance exactly when
        # what they cover is stored.
        now = datetime.now(UTC)
        for table, mark in reader.seen.items():
            conn.execute(_SAVE_MARK, {"source": key, "table_name": table, "mark": mark, "now": now})

    return ingest.run_import(engine, iter(reader), progress=progress, actor=actor, also=save)
