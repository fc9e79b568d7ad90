"""Reads that may lag a moment, on a hot standby (`FEEDBACK_DB_READ`), with the primary as the fall-back.

The PostgreSQL engine's `stale_read()` hands out a `StaleConn`: its statements go to the standby while it
answers. When the standby is down, unreachable, or busy past `CHECKOUT_S`, the statement runs again on the
primary, the log says so once, and every stale read goes to the primary until the standby is tried again
`Standby.retry_s` later (a connection attempt; no request waits on a dead standby meanwhile). A standby that
cancels a query in conflict with replay, or has not replayed a migration yet, hands that one statement to
the primary and stays in use. A statement timeout is the query's own and is not retried on the primary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from data_layer.config import redact
from data_layer.errors import StoreUnavailable

log = logging.getLogger(__name__)
POOL_NAME = "feedback-standby"

# Seconds the primary takes every stale read after the standby failed, before the standby is tried again.
RETRY_S = 30.0
# Seconds a stale read waits for a standby connection (connecting, or a free one) before the primary answers.
CHECKOUT_S = 2.0
# The standby answered, but not this statement: replay cancelled it (40001, 40P01), or replay has not reached
# a migration's table or column yet. The primary answers it; the standby stays in use.
_PASSED_ON = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.UndefinedTable,
    pg_errors.UndefinedColumn,
    pg_errors.UndefinedFunction,
)


def _gone(error: Exception) -> bool:
    """Whether `error` says the standby cannot answer at all (so it rests for `retry_s`)."""
    if isinstance(error, PoolTimeout):
        return True
    return isinstance(error, psycopg.OperationalError) and not isinstance(error, pg_errors.QueryCanceled)


def _not_the_standby_pool(record: logging.LogRecord) -> bool:
    """psycopg's pool logs every failed connection to the standby as it goes down; the one warning of
    `Standby` says it instead."""
    return f"'{POOL_NAME}'" not in record.getMessage()


logging.getLogger("psycopg.pool").addFilter(_not_the_standby_pool)


class Standby:
    """The standby's connection pool while it answers; none from its failure until `retry_s` later."""

    def __init__(
        self,
        url: str,
        *,
        configure: Callable[[psycopg.Connection], None],
        describe: Callable[[str, Exception], str],
        max_size: int,
    ):
        """`describe(url, error)` says in words why a server did not answer (never with the password)."""
        self.url = url
        self._describe = describe
        self.retry_s = RETRY_S
        self._configure = configure
        self._max_size = max_size
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._retry_at = 0.0
        # Whether the log said the standby failed, and has not said since that it answers again.
        self._warned = False

    def pool(self) -> ConnectionPool | None:
        """The pool to read from now, or None when the primary must answer."""
        with self._lock:
            if self._pool is not None:
                return self._pool
            if time.monotonic() < self._retry_at:
                return None
            try:
                # A refused connection fails at once here, where the pool would wait out its timeout.
                with psycopg.connect(self.url, connect_timeout=int(CHECKOUT_S), autocommit=True) as probe:
                    probe.execute("SELECT 1")
            except psycopg.Error as error:
                self._rest(error)
                return None
            self._pool = ConnectionPool(
                self.url,
                min_size=1,
                max_size=self._max_size,
                kwargs={"autocommit": True, "connect_timeout": int(CHECKOUT_S)},
                configure=self._configure,
                name=POOL_NAME,
                open=False,
            )
            self._pool.open(wait=False)
            if self._warned:
                self._warned = False
                log.info("the read standby %s answers again: stale reads go to it", redact(self.url))
            return self._pool

    def failed(self, pool: ConnectionPool, error: Exception) -> None:
        """`pool`'s standby did not answer: the primary takes stale reads for `retry_s`."""
        with self._lock:
            if self._pool is not pool:
                return
            self._pool = None
            self._rest(error)
        # Its connections are broken: the ones out now close silently when given back to the closed pool.
        pool.close(timeout=CHECKOUT_S)

    def _rest(self, error: Exception) -> None:
        self._retry_at = time.monotonic() + self.retry_s
        if not self._warned:
            self._warned = True
            log.warning(
                "the read standby does not answer (%s): stale reads go to the primary; trying the standby again "
                "every %g s",
                self._describe(self.url, error),
                self.retry_s,
            )

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


@contextmanager
def stale_read(standby: Standby, read: Callable, wrap: Callable) -> Iterator[StaleConn]:
    """A `StaleConn` on `standby`, with the primary's `read()` opened for it when needed; `wrap(connection)`
    makes the engine's `Conn`. A statement timeout is `StoreUnavailable`, as on the primary."""
    with ExitStack() as primary:
        try:
            with StaleConn(standby, wrap, lambda: primary.enter_context(read())).opened() as conn:
                yield conn
        except pg_errors.QueryCanceled as error:
            first = str(error).strip().split("\n")[0]
            raise StoreUnavailable(f"the database took too long to answer: {first}") from error


class StaleConn:
    """A read connection whose statements go to the standby while it answers, else to the primary.

    Each statement is its own transaction (the pools are in autocommit), so a statement moved to the primary
    reads no less consistently than one read there from the start."""

    writes_serialized = False

    def __init__(self, standby: Standby, wrap: Callable, primary: Callable[[], object]):
        """`wrap(connection)` makes the engine's `Conn` of a psycopg connection; `primary()` opens (once) the
        primary's `Conn`, held until the read ends."""
        self._standby = standby
        self._wrap = wrap
        self._primary = primary
        self._pool: ConnectionPool | None = None
        self._held = None
        self._conn = None

    @contextmanager
    def opened(self) -> Iterator[StaleConn]:
        pool = self._standby.pool()
        connection = None
        if pool is not None:
            try:
                connection = pool.getconn(timeout=CHECKOUT_S)
            except PoolTimeout as error:
                self._standby.failed(pool, error)
        if pool is None or connection is None:
            yield self
            return
        self._pool, self._conn = pool, self._wrap(connection)
        try:
            yield self
        finally:
            self._conn = None
            pool.putconn(connection)

    def _primary_conn(self):
        if self._held is None:
            self._held = self._primary()
        return self._held

    def _passed(self, error: Exception) -> None:
        """The standby's error `error` hands the statement to the primary (raised again when it does not)."""
        if self._pool is not None and _gone(error):
            self._standby.failed(self._pool, error)
            self._conn = None
        elif not isinstance(error, _PASSED_ON):
            raise error

    def _call(self, method: str, *args):
        if self._conn is not None:
            try:
                return getattr(self._conn, method)(*args)
            except (psycopg.Error, PoolTimeout) as error:
                self._passed(error)
        return getattr(self._primary_conn(), method)(*args)

    def all(self, sql: str, params: dict | None = None) -> list[dict]:
        return self._call("all", sql, params)

    def one(self, sql: str, params: dict | None = None) -> dict | None:
        return self._call("one", sql, params)

    def scalar(self, sql: str, params: dict | None = None):
        return self._call("scalar", sql, params)

    def execute(self, sql: str, params: dict | None = None) -> None:
        self._call("execute", sql, params)

    def arrow_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536):
        return self._batches("arrow_batches", sql, params, batch_size)

    def bulk_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536):
        return self._batches("bulk_batches", sql, params, batch_size)

    def _batches(self, method: str, sql: str, params: dict | None, batch_size: int):
        """The query's batches from the standby; from the primary when the standby fails before the first batch.
        A standby failing partway is `StoreUnavailable`: the rows sent cannot be taken back."""
        if self._conn is not None:
            sent = False
            try:
                for batch in getattr(self._conn, method)(sql, params, batch_size):
                    sent = True
                    yield batch
                return
            except (psycopg.Error, PoolTimeout) as error:
                if sent:
                    raise StoreUnavailable("the read standby stopped answering partway through: try again") from error
                self._passed(error)
        yield from getattr(self._primary_conn(), method)(sql, params, batch_size)

    def snapshot(self) -> None:
        raise TypeError("a stale read reads no snapshot: use the engine's read()")

    def lock_threads(self, ids: str, params: dict | None = None) -> None:
        raise TypeError("a stale read takes no locks: use the engine's write()")

    def load(self, table: str, data) -> None:
        raise TypeError("a stale read writes nothing: use the engine's write()")
