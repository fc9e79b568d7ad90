"""Database engines: the few things DuckDB and PostgreSQL do differently, behind one small interface.

Every query in the data layer is written once, with named `$name` parameters; `bind()` turns
them into the positional `$1` form that both DuckDB and psycopg's RawCursor accept, so the
very same SQL text runs on both engines. `Engine` and `Conn` below are that interface; `duck.py`
and `pg.py` implement it. Whatever else differs between the engines is an attribute or method here,
never a test of the engine's name outside this package.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Protocol, TypeVar

import pyarrow as pa

from data_layer.errors import StoreUnavailable

T = TypeVar("T")


class Conn(Protocol):
    """A connection inside `Engine.read()` or a transaction of `Engine.write()`."""

    # Whether no other writer can run meanwhile (DuckDB: one write lock per process), so that a write may
    # read and then write without locking rows.
    writes_serialized: bool

    def all(self, sql: str, params: dict | None = None) -> list[dict]: ...

    def one(self, sql: str, params: dict | None = None) -> dict | None: ...

    def scalar(self, sql: str, params: dict | None = None): ...

    def execute(self, sql: str, params: dict | None = None) -> None: ...

    def arrow_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        """Stream a query's result as Arrow record batches."""
        ...

    def bulk_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        """`arrow_batches` for a large read taken whole at once (an export's): PostgreSQL copies it out in one
        statement, to be read through within the statement timeout."""
        ...

    def load(self, table: str, data: pa.Table) -> None:
        """Bulk-append an Arrow table to an existing table, columns matched by name."""
        ...

    def lock_threads(self, ids: str, params: dict | None = None) -> None:
        """Hold the threads named by the query `ids` until the transaction ends (a no-op where writes are
        serialized)."""
        ...

    def snapshot(self) -> None:
        """Make every read of the rest of this transaction see one snapshot of the database (called first)."""
        ...


class Engine(Protocol):
    """One database: reads, writes in one transaction each (retried on conflicts), and the engine's SQL dialect
    where the two differ."""

    name: str
    url: str
    matches_regex: str
    narrows_phrases: bool
    # A posting's word id (`{column}`) among the ids a search's word matches (`{ids}`, a subquery).
    among_words: str
    json_object: str
    iso_time: str
    # An integer from 8 hex digits (`{hex}`, an SQL text expression): the queues' sample point.
    hex32_to_int: str
    # What a query claiming rows for this process adds so that other processes skip them (PostgreSQL's
    # `FOR UPDATE SKIP LOCKED`); empty where one process holds the database (the notification sender).
    skip_locked: str
    # A column naming a table's row for a second read of it within one statement (DuckDB's `rowid`), so a page
    # can be ordered on its keys before its other columns are read; None where a page is read in one pass.
    row_id: str | None
    # Whether a table with an index built on it cannot be altered (a migration drops and rebuilds the index).
    alters_only_unindexed: bool
    # What opening the store recovered (an interrupted checkpoint undone), in words; None when nothing was.
    recovered: str | None

    @property
    def migration_sql(self) -> Mapping[int, str]:
        """The engine's own statements of migration steps (data_layer/schema.py), by step version."""
        ...

    def read(self) -> AbstractContextManager[Conn]: ...

    def stale_read(self) -> AbstractContextManager[Conn]:
        """A read that may lag the last writes by a moment (lists, counts, aggregates, exports): PostgreSQL's
        goes to the hot standby of `FEEDBACK_DB_READ` while it answers; elsewhere it is `read()`. A read
        that must show the reader's own latest writes uses `read()`."""
        ...

    def write(self, fn: Callable[[Conn], T]) -> T: ...

    def importing(self) -> AbstractContextManager[None]: ...

    def index_terms(self, conn: Conn, source: str) -> None: ...

    def index_terms_sql(self, source: str) -> list[str]: ...

    def bulk_fill(self, script: str) -> str:
        """The script of a migration filling a large table, under the settings the engine needs for it."""
        ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Held while migrating, so that processes sharing the database migrate one at a time."""
        ...

    def start_index_terms(self, conn: Conn, source: str) -> Callable[[Conn], None]: ...

    def settle(self) -> None: ...

    def close(self) -> None: ...


_NAMED = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=1024)
def _compile(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, sql), tuple(names)


def bind(sql: str, params: dict | None) -> tuple[str, list]:
    """Turn `$name` placeholders into `$1..$n` and the dict into the matching list."""
    text, names = _compile(sql)
    if not names:
        return text, []
    if params is None:
        raise KeyError(f"query needs parameters {names}")
    return text, [params[name] for name in names]


def inline(sql: str, params: dict | None, literal: Callable[[object], str]) -> str:
    """`sql` with each `$name` placeholder replaced by `literal(value)`, for a statement that takes no
    parameters; the placeholders are the ones `bind` finds."""
    return _NAMED.sub(lambda match: literal((params or {})[match.group(1)]), sql)


# Where a word ends for the message-search index (data_layer/search_index.py): ASCII whitespace and punctuation,
# nothing else, so that DuckDB, PostgreSQL and Python (threads.search_words) split text the same way.
WORD_SEPARATORS = " \t\n\r\f\v" + string.punctuation
# The same characters as SQL expressions, built from chr() so that no quote or semicolon is in the text.
SEPARATORS_SQL = " || ".join(f"chr({ord(char)})" for char in WORD_SEPARATORS)
SPACES_SQL = f"repeat(' ', {len(WORD_SEPARATORS)})"


def open_engine(url: str, read_url: str | None = None) -> Engine:
    """Pick the engine for a `FEEDBACK_DB` value: a PostgreSQL URL, else a DuckDB path. `read_url` names a
    hot standby of a PostgreSQL database (`FEEDBACK_DB_READ`); a DuckDB file has none."""
    if url.startswith(("postgresql://", "postgres://")):
        from data_layer.engines.pg import PostgresEngine

        return PostgresEngine(url, read_url)
    if read_url:
        raise StoreUnavailable(
            "FEEDBACK_DB_READ names a PostgreSQL standby, but FEEDBACK_DB is a DuckDB file, which has none: "
            "unset FEEDBACK_DB_READ, or set FEEDBACK_DB to the standby's primary"
        )
    from data_layer.engines.duck import DuckEngine

    return DuckEngine(url)
