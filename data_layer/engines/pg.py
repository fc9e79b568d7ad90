"""PostgreSQL engine: a bounded connection pool per process, transactions retried on serialization failures.

The SQL is the data layer's own, shared with DuckDB: `$name` parameters become `$1..$n` and go
through psycopg's RawCursor unchanged. What differs lives here: bulk loading through `COPY`,
exports copied out through `COPY ... TO STDOUT` (`pg_arrow.py`), other streamed reads through a
server-side cursor, and PostgreSQL's error classes mapped onto the data layer's.
Every session runs in UTC with a statement timeout. No message ever carries the password.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager, nullcontext

import psycopg
import pyarrow as pa
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from data_layer.config import redact
from data_layer.engines import bind, pg_arrow, pg_copy, pg_schema, pg_search
from data_layer.engines.faults import FaultPlan, step
from data_layer.engines.pg_standby import Standby, stale_read
from data_layer.errors import Conflict, InvalidInput, StoreUnavailable, Unavailable

_RETRIES = 8
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = int(os.environ.get("FEEDBACK_PG_STATEMENT_TIMEOUT_MS", "30000"))
POOL_SIZE = int(os.environ.get("FEEDBACK_PG_POOL_SIZE", "10"))
# Any lock key of our own; every process migrating one database takes it, so only one migrates at a time.
_MIGRATION_LOCK = 7_410_553_001
# Rows of an Arrow table sent to COPY at a time.
_COPY_ROWS = 65_536


def _column(values: tuple, kind: pa.DataType, parsed: str | None, is_array: bool) -> pa.Array:
    if parsed is None:
        return pa.array(values, type=kind)
    if not is_array:
        return pg_arrow.parse(pa.array(values, type=pa.string()), parsed)
    return pg_arrow.parsed_lists(pa.array(values, type=pa.list_(pa.string())), parsed)


def _short(error: Exception) -> str:
    return str(error).strip().split("\n")[0]


def _duplicate(error: pg_errors.UniqueViolation) -> Conflict:
    """A unique key taken, with the key's value (PostgreSQL names it in the detail, DuckDB in the message)."""
    detail = error.diag.message_detail
    return Conflict(_short(error) + (f": {detail}" if detail else ""))


class PgConn:
    """A connection with the small query vocabulary the data layer uses."""

    # Writers of several processes meet here: every write of votes or runs first locks its threads.
    writes_serialized = False

    def lock_threads(self, ids: str, params: dict | None = None) -> None:
        """Hold the threads named by the query `ids` (a `thread_id` column) until commit.

        Every vote write and every import takes these locks first, in one global order (by key), so two
        writers on overlapping threads wait for each other instead of deadlocking: an import's row locks,
        taken in whatever order its UPDATE met them, deadlocked with another import's. Advisory locks also
        cover threads not stored yet, which two imports may both be creating.
        """
        self.execute(_LOCK_THREADS.format(ids=ids), params)

    def snapshot(self) -> None:
        """Read one snapshot for the rest of this transaction (REPEATABLE READ), as DuckDB's transactions always
        do; it must come before the transaction's first query."""
        self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def __init__(self, conn: psycopg.Connection, faults: FaultPlan | None = None):
        self.conn = conn
        self.faults = faults

    def _cursor(self):
        return psycopg.RawCursor(self.conn)

    def _run(self, cursor, sql: str, params: dict | None):
        text, args = bind(sql, params)
        step(self.faults, "statement")
        try:
            return cursor.execute(text, args)
        except pg_errors.UniqueViolation as error:
            raise _duplicate(error) from error
        except (pg_errors.CheckViolation, pg_errors.NotNullViolation, pg_errors.DataError) as error:
            raise InvalidInput(_short(error)) from error

    def all(self, sql: str, params: dict | None = None) -> list[dict]:
        with self._cursor() as cursor:
            self._run(cursor, sql, params)
            if cursor.description is None:
                return []
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def one(self, sql: str, params: dict | None = None) -> dict | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: dict | None = None):
        with self._cursor() as cursor:
            self._run(cursor, sql, params)
            row = cursor.fetchone()
            return row[0] if row else None

    def execute(self, sql: str, params: dict | None = None) -> None:
        with self._cursor() as cursor:
            self._run(cursor, sql, params)

    def arrow_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536):
        """Stream a query's result as Arrow record batches through a server-side cursor.

        A server-side cursor lives in a transaction; JSON columns come back as their text, as from DuckDB.
        Numbers, times and booleans come back as the text PostgreSQL writes and are parsed by Arrow a
        column at a time: no Python object per value but the string.
        """
        text, args = bind(sql, params)
        with self.conn.transaction():
            cursor = psycopg.RawServerCursor(self.conn, "feedback_export")
            for name in ("json", "jsonb", *pg_arrow.PARSED):
                cursor.adapters.register_loader(name, TextLoader)
            try:
                cursor.execute(text, args)
                # A query always describes its columns (only a command does not).
                columns = cursor.description or []
                kinds = [pg_arrow.result_kind(self.conn, column.type_code) for column in columns]
                schema = pa.schema([(column.name, kind[0]) for column, kind in zip(columns, kinds)])
                while rows := cursor.fetchmany(batch_size):
                    yield pa.RecordBatch.from_arrays(
                        [_column(values, *kind) for values, kind in zip(zip(*rows), kinds)], schema=schema
                    )
            finally:
                cursor.close()

    def bulk_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536):
        """Stream a large query's whole result as Arrow record batches typed as `arrow_batches` types them,
        copied out in one `COPY ... TO STDOUT` and parsed by Arrow (`engines/pg_arrow.py`): psycopg makes no
        Python object per value, which took half of an export's time. The copy is one statement, so the
        caller reads it through within the statement timeout. A query with bytes among its columns is read
        by `arrow_batches`.
        """
        with self._cursor() as cursor:
            # Only the result's columns: a LIMIT 0 stops before the first row is computed.
            self._run(cursor, f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
            columns = cursor.description or []
        kinds = [pg_arrow.result_kind(self.conn, column.type_code) for column in columns]
        if not all(pg_arrow.copyable(kind) for kind, _, _ in kinds):
            yield from self.arrow_batches(sql, params, batch_size)
            return
        schema = pa.schema([(column.name, kind) for column, (kind, _, _) in zip(columns, kinds)])
        arrays = [is_array for _, _, is_array in kinds]
        statement = pg_arrow.copy_statement(self.conn, sql, params, arrays)
        yield from pg_arrow.copy_batches(self.conn, statement, kinds, schema, batch_size)

    def load(self, table: str, data: pa.Table) -> None:
        """Append an Arrow table to an existing table with `COPY`, columns matched by name.

        The rows go as COPY text built by Arrow compute kernels, a block of rows at a time; a table
        holding a type that `pg_copy` does not write (bytes, times, nested lists) goes row by row.
        """
        columns = ", ".join(data.column_names)
        by_blocks = pg_copy.copy_block(data.schema.empty_table()) is not None
        # Arrow strings are UTF-8 whatever the connection's client encoding is.
        options = " (ENCODING 'UTF8')" if by_blocks else ""
        step(self.faults, "load")
        with self.conn.cursor() as cursor:
            try:
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN{options}") as copy:
                    for batch in data.to_batches(max_chunksize=_COPY_ROWS):
                        block = pg_copy.copy_block(batch) if by_blocks else None
                        if block is not None:
                            copy.write(block)
                        else:
                            for row in zip(*(column.to_pylist() for column in batch.columns)):
                                copy.write_row(row)
            except pg_errors.UniqueViolation as error:
                raise _duplicate(error) from error
            except (pg_errors.CheckViolation, pg_errors.NotNullViolation, pg_errors.DataError) as error:
                raise InvalidInput(_short(error)) from error


# Thread locks: the two-key advisory locks of class _THREAD_LOCKS (apart from the one-key locks above),
# keyed by the thread id's hash and taken in the order of the keys. Two ids of one hash share a lock,
# which only makes their writers take turns.
_THREAD_LOCKS = 7_410_553
_LOCK_THREADS = f"""
    SELECT count(pg_advisory_xact_lock({_THREAD_LOCKS}, k))
    FROM (SELECT DISTINCT hashtext(thread_id) AS k FROM ({{ids}}) AS i ORDER BY k) AS keys
    """


def describe_failure(url: str, error: Exception) -> str:
    """One line saying why the server refused us, in words a user can act on; never the password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return f"{redact(url)} is not a valid PostgreSQL URL"
    where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}"
    database = info.get("dbname", info.get("user", ""))
    text = str(error)
    password = info.get("password")
    if password:
        text = text.replace(str(password), "***")
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return f"PostgreSQL at {where} refused the credentials of user {info.get('user')}: check the user and password"
    if "does not exist" in lowered and "database" in lowered:
        return f"PostgreSQL database {database!r} does not exist at {where}: create it (createdb) or fix the URL"
    if "role" in lowered and "does not exist" in lowered:
        return f"PostgreSQL at {where} has no user {info.get('user')!r}: check the user in the URL"
    if any(word in lowered for word in ("connection refused", "could not connect", "timeout", "timed out", "resolve")):
        return f"cannot reach PostgreSQL at {where}: is the server running, and are the host and port right?"
    return f"cannot open PostgreSQL database {redact(url)}: {_short(Exception(text))}"


class PostgresEngine:
    name = "postgresql"
    # A regular expression found anywhere in a text (a pg_trgm index answers it).
    matches_regex = "{text} ~ {pattern}"
    # A search of three words or more matches every text: the trigram index answers the expression alone
    # (data_layer/threads.py).
    narrows_phrases = False
    # The ids a search's word matches as an array, computed before the postings are planned: PostgreSQL
    # cannot estimate `word LIKE '%w%'` below 1 in 10,000 of the 3.2 million words, so as `IN (SELECT ...)`
    # it plans a scan of all 35 million pairs for a pair of words that are one id each (2.3 s for
    # `outdated pricing`); an array of unknown length lets it probe the postings' index (docs/benchmarks.md).
    among_words = "{column} = ANY(ARRAY{ids})"
    # A JSON object from `'key', value` pairs, and a time as the text `rows.plain` gives it (Python's
    # `isoformat()` in UTC: no fraction when it is zero), for values built in SQL (the import's audit rows).
    json_object = "json_build_object({pairs})"
    hex32_to_int = "CAST(CAST(('x' || {hex}) AS BIT(32)) AS BIGINT)"
    # Replicas claim deliveries beside each other: a row another one holds is skipped, not waited for.
    skip_locked = "FOR UPDATE SKIP LOCKED"
    # A page walks an index in its order and reads only its own rows (engines/pg_schema.py).
    row_id: str | None = None
    iso_time = (
        "to_char({time} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        "|| CASE WHEN extract(microseconds FROM {time}) % 1000000 = 0 THEN '' "
        "ELSE to_char({time} AT TIME ZONE 'UTC', '.US') END || '+00:00'"
    )
    index_terms = staticmethod(pg_search.index_terms)
    index_terms_sql = staticmethod(pg_search.index_terms_sql)
    # PostgreSQL's own statements of the migration steps (data_layer/schema.py), by step version.
    migration_sql = pg_schema.STEP_SQL
    # PostgreSQL alters indexed tables: a migration keeps their indexes.
    alters_only_unindexed = False
    # A test's fault plan (data_layer/engines/faults.py); None outside the fault-injection tests.
    faults: FaultPlan | None = None

    def importing(self):
        """The settings of an import's write: PostgreSQL's own (the DuckDB engine narrows its threads)."""
        return nullcontext()

    @staticmethod
    def bulk_fill(script: str) -> str:
        """A script filling a large table (a migration's) runs under PostgreSQL's own settings."""
        return script

    def settle(self) -> None:
        """Nothing runs on after a write here (the DuckDB engine's checkpoint does)."""

    def start_index_terms(self, conn, source: str):
        """Add the message events of table `source` to the search index now (`pg_search.index_import`; the
        DuckDB engine works the words out beside the writer); the function returned has nothing left to do."""
        pg_search.index_import(conn, source)
        return lambda conn: None

    def __init__(self, url: str, read_url: str | None = None):
        """`read_url`: a hot standby of this database, for `stale_read()` (`FEEDBACK_DB_READ`)."""
        self.url = url
        # Recovery after a crash is the server's own.
        self.recovered: str | None = None
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S):
                pass
        except (psycopg.Error, ValueError) as error:
            raise StoreUnavailable(describe_failure(url, error)) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            check=ConnectionPool.check_connection,
            # a request waits this long for a free connection, or for the server to come back
            timeout=10,
            name="feedback",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
        except PoolTimeout as error:
            self._pool.close()
            raise StoreUnavailable(f"cannot open a connection pool to {redact(url)}") from error
        self.standby = (
            Standby(read_url, configure=_configure, describe=describe_failure, max_size=POOL_SIZE) if read_url else None
        )

    @contextmanager
    def _connection(self):
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as error:
            raise StoreUnavailable(f"no database connection free or reachable at {redact(self.url)}") from error
        except pg_errors.QueryCanceled as error:
            raise StoreUnavailable(f"the database took too long to answer: {_short(error)}") from error
        except psycopg.OperationalError as error:
            raise StoreUnavailable(describe_failure(self.url, error)) from None

    @contextmanager
    def read(self):
        with self._connection() as conn:
            yield PgConn(conn)

    def stale_read(self):
        """A read that may lag the primary by a moment: on the standby while it answers (`engines/pg_standby.py`),
        else on the primary."""
        if self.standby is None:
            return self.read()
        return stale_read(self.standby, self.read, PgConn)

    def write(self, fn):
        """Run `fn(conn)` in one transaction; retry serialization failures and deadlocks, then `Conflict`.

        `fn` may run more than once, so it must read nothing it consumes (an iterator): every attempt
        sees the same input. A server out of disk or memory, or failing I/O, is `Unavailable`, never
        retried and never a `Conflict`.
        """
        with self._connection() as conn:
            for attempt in range(_RETRIES):
                try:
                    with conn.transaction():
                        result = fn(PgConn(conn, self.faults))
                        step(self.faults, "commit")
                    return result
                except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected) as error:
                    if attempt == _RETRIES - 1:
                        raise Conflict(f"write conflict, try again: {_short(error)}") from error
                    time.sleep(0.005 * (attempt + 1))
                except pg_errors.DiskFull as error:
                    raise Unavailable(f"not stored: the database server's disk is full ({_short(error)})") from error
                except (pg_errors.InsufficientResources, pg_errors.IoError, pg_errors.DataCorrupted) as error:
                    raise Unavailable(f"not stored: the database server could not write ({_short(error)})") from error
        raise AssertionError("unreachable")

    @contextmanager
    def exclusive(self):
        """Hold the database-wide migration lock (other processes migrating the same database wait)."""
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    def close(self) -> None:
        if self.standby is not None:
            self.standby.close()
        self._pool.close()


def _configure(conn: psycopg.Connection) -> None:
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    conn.execute("SET TimeZone = 'UTC'")
    # The queries here are point reads, pages and scans of a few columns: JIT compiling costs more than it saves,
    # 30 to 50 ms on each stats aggregate and 2.6 s on each slice of an export (docs/benchmarks.md).
    conn.execute("SET jit = off")
    # The output `arrow_batches` parses, whatever the server's default.
    conn.execute("SET DateStyle = 'ISO'")
