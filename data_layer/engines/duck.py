"""DuckDB engine: one root connection per process, a cursor per call, one writer at a time.

DuckDB connections are not safe to share between threads, and concurrent transactions that
touch the same row fail with a conflict at commit. Streamlit runs each browser session in its
own thread, so every call takes its own cursor, and writes go through one process-wide lock
(with a bounded retry as the safety net), as the engineering notes measured.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import cast

import duckdb

from data_layer import search_index
from data_layer.engines import Conn, duck_journal, duck_search
from data_layer.engines.duck_conn import DuckConn, short
from data_layer.engines.faults import FaultPlan, step
from data_layer.errors import Conflict, StoreDamaged, StoreInUse, StoreUnavailable, Unavailable

log = logging.getLogger(__name__)

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
_RETRIES = 8


def _write_lock(key: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def lock_message(path: str, error: Exception) -> str:
    """Explain a DuckDB file lock held by another process, in the words a user can act on."""
    text = str(error)
    pid = re.search(r"PID (\d+)", text)
    holder = re.search(r"held in (\S+)", text)
    who = "another process"
    if pid:
        who = f"process {pid.group(1)}" + (f" ({os.path.basename(holder.group(1))})" if holder else "")
    return (
        f"database {path} is in use by {who}. DuckDB lets one process open a file at a time: "
        "stop that process, point FEEDBACK_DB or --db at another file, "
        "or use the running dashboard's REST API (or a PostgreSQL store) to share the data."
    )


# What DuckDB says when another process holds the file, and when the file's content is broken (rather than
# missing, unreadable or of another storage version).
_LOCKED = re.compile(r"Could not set lock|Conflicting lock")
_DAMAGED = re.compile(
    r"corrupt|checksum|replaying WAL|MetadataReader|not a valid DuckDB database|Could not read enough bytes", re.I
)


def _open_error(path: str, error: Exception) -> StoreUnavailable:
    if _LOCKED.search(str(error)):
        return StoreInUse(lock_message(path, error))
    if _DAMAGED.search(str(error)):
        return StoreDamaged(f"database {path} is damaged and does not open ({short(error)}).")
    return StoreUnavailable(f"cannot open database {path}: {short(error)}")


def _is_conflict(error: duckdb.TransactionException) -> bool:
    """A write-write conflict between transactions ("Conflict on update!", "Catalog write-write conflict"),
    which a retry can resolve. DuckDB raises the same class when a commit cannot be written ("Failed to
    commit: Could not write file ...: No space left on device"): that is no conflict, and a retry of it
    only delays the error the caller must see."""
    text = str(error)
    return "onflict" in text and "Could not write" not in text and "No space" not in text


def unavailable(error: Exception) -> Unavailable:
    """The write was not stored because the database could not write: out of space, an I/O error, memory."""
    text = short(error)
    if "No space left" in text:
        return Unavailable(f"not stored: the disk holding the database is full ({text})")
    return Unavailable(f"not stored: the database could not write ({text})")


# DuckDB checkpoints in the committing thread once its write-ahead log passes `checkpoint_threshold`, so
# the write that crosses it waits for the whole checkpoint (0.2 to 0.4 s after an import of 100,000
# records at the large scale). Here a write that leaves the log past CHECKPOINT_BYTES (DuckDB's default
# threshold) returns once committed to the log (as durable as a checkpointed write), and the checkpoint runs on a thread
# of its own under the write lock, while reads go on (DuckDB 2.0 checkpoints beside readers). If the next
# write takes the lock first, it runs the checkpoint before its own work, as DuckDB would have: updates
# not yet checkpointed stay in memory (a fill of the search index after the rollups of a million runs ran
# out of its 1 GB otherwise). DuckDB's own threshold, raised, stays as the backstop.
CHECKPOINT_BYTES = 16 * 1024 * 1024
_BACKSTOP = "1GB"
_FILL_MEMORY = "1GB"


class DuckEngine:
    name = "duckdb"
    # A regular expression found anywhere in a text: DuckDB's `~` is a full match, 2.4 times slower with `.*` around.
    matches_regex = "regexp_matches({text}, {pattern})"
    # A search of three words or more matches only the texts of the threads holding its first and last word
    # pairs (data_layer/threads.py).
    narrows_phrases = True
    among_words = "{column} IN {ids}"
    # A JSON object from `'key', value` pairs, and a time as the text `rows.plain` gives it (Python's
    # `isoformat()` in UTC: no fraction when it is zero), for values built in SQL (the import's audit rows).
    json_object = "json_object({pairs})"
    hex32_to_int = "CAST(('0x' || {hex}) AS BIGINT)"
    # One process holds the file and its writes are serialized: a claim has no other claimer to skip.
    skip_locked = ""
    # A page whose filter joins another table (run status, model, "not reviewed by") reads every column of each
    # thread the filter keeps before its top-N: 100,000 threads' 16 columns at the large scale. Ordered by rowid
    # first, only the page's rows are read whole (docs/benchmarks.md).
    row_id: str | None = "rowid"
    iso_time = (
        "CASE WHEN strftime({time}, '%f') = '000000' THEN strftime({time}, '%Y-%m-%dT%H:%M:%S+00:00') "
        "ELSE strftime({time}, '%Y-%m-%dT%H:%M:%S.%f+00:00') END"
    )
    index_terms = staticmethod(duck_search.index_terms)
    index_terms_sql = staticmethod(duck_search.index_terms_sql)
    # DuckDB's own statements of the migration steps (data_layer/schema.py), by step version. Step 4: DuckDB
    # answers `col = $x` from a single-column ART index only; the composite UNIQUE keys (run_id, owner_id,
    # scope) and (thread_id, seq) are scanned, which cost 30 to 60 ms per vote and per opened thread at a
    # million rows (docs/benchmarks.md). PostgreSQL already uses the leading column of those keys.
    migration_sql = {
        4: """
            CREATE INDEX feedback_run ON feedback (run_id);
            CREATE INDEX run_events_thread ON run_events (thread_id);
            """
    }
    # DuckDB alters no table that a CREATE INDEX depends on: a migration drops those indexes and builds them again.
    alters_only_unindexed = True
    # A test's fault plan (data_layer/engines/faults.py); None outside the fault-injection tests.
    faults: FaultPlan | None = None
    # The side connection's thread of `start_index_terms`, started on first use.
    _side: ThreadPoolExecutor | None

    @contextmanager
    def importing(self):
        """The settings of an import's write (ingest.run_import): one thread per query, for the database.

        An import's statements each read fewer rows than DuckDB hands a thread at once (a row group of
        122,880), and the search index is worked out beside them on a second connection: with DuckDB's
        worker thread as well, three threads contended for two cores (0.88 to 0.98 s per 100,000
        records at the large scale, against 0.84 to 0.88 s with one thread per query). Reads running
        meanwhile get one thread each too, for about a second.
        """
        with self._lock, self.read() as conn:
            threads = int(conn.scalar("SELECT current_setting('threads')"))
            conn.execute("SET GLOBAL threads = 1")
            try:
                yield
            finally:
                conn.execute(f"SET GLOBAL threads = {threads}")

    def start_index_terms(self, conn: Conn, source: str) -> Callable[[Conn], None]:
        """Start adding the message events of table `source` to the search index; the function returned,
        called later in the same transaction, finishes it.

        The words are worked out on a connection of its own, on the second core, while the writer goes on
        (0.15 s of an import of 100,000 records at the large scale). It only reads the index, which no
        one else writes meanwhile: writes are serialized, and the writer's own go in when it finishes.
        """
        # This engine's writes hand it only its own connections.
        messages = (
            cast(DuckConn, conn)
            .cursor.sql(f"SELECT thread_id, category, text FROM {source} WHERE category = 'message' AND text <> ''")
            .to_arrow_table()
        )
        computing = self._aside().submit(duck_search.compute, self.read, messages)

        def finish(conn: Conn) -> None:
            cursor = cast(DuckConn, conn).cursor
            computed = computing.result()
            for name, table in computed.items():
                cursor.register(name, table)
            try:
                # In the order the side sorted them.
                for statement in search_index.store_statements(*(f"SELECT * FROM {name}" for name in computed)):
                    conn.execute(statement)
            finally:
                for name in computed:
                    cursor.unregister(name)

        return finish

    @staticmethod
    def bulk_fill(script: str) -> str:
        """A script filling a large table (a migration's), under a memory limit: left to itself DuckDB took
        4.2 GiB for the fill of the search index from 5 million events; with a limit it spills."""
        return f"SET memory_limit = '{_FILL_MEMORY}';\n{script};\nRESET memory_limit"

    def exclusive(self):
        """Nothing to hold while migrating: one process opens a DuckDB file at a time."""
        return nullcontext()

    def _aside(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._side is None:
                self._side = ThreadPoolExecutor(1, thread_name_prefix="duckdb-index")
            return self._side

    def __init__(self, path: str):
        self.url = path
        self.recovered: str | None = None
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self.recovered = duck_journal.attach(path)
            except OSError as error:
                raise StoreUnavailable(f"cannot open database {path}: {error}") from error
            if self.recovered:
                log.warning("database %s: %s", path, self.recovered)
        try:
            self._root = duckdb.connect(path)
        except duckdb.Error as error:
            if path != ":memory:":
                duck_journal.detach(path)
            raise _open_error(path, error) from error
        self._root.execute("SET GLOBAL TimeZone = 'UTC'")
        # Stores on one file in one process share DuckDB's database instance, so they share a lock.
        self._lock = threading.RLock() if path == ":memory:" else _write_lock(str(Path(path).resolve()))
        self._wal = None if path == ":memory:" else f"{path}.wal"
        self._checkpointer: threading.Thread | None = None
        self._due = False
        self._side = None
        if self._wal:
            self._root.execute(f"SET GLOBAL checkpoint_threshold = '{_BACKSTOP}'")
            # Every checkpoint of this process is journaled (engines/duck_journal.py), the last one at close too;
            # DuckDB's own at shutdown is not, so it is off (whatever the close leaves in the log is replayed).
            self._root.execute("PRAGMA disable_checkpoint_on_shutdown")

    @contextmanager
    def read(self):
        cursor = self._root.cursor()
        try:
            yield DuckConn(cursor)
        finally:
            cursor.close()

    def stale_read(self):
        """A read that may lag a moment is a read: the one process holding the file has no standby."""
        return self.read()

    def write(self, fn):
        """Run `fn(conn)` in one transaction; retry conflicts, then report them as `Conflict`.

        `fn` may run more than once, so it must read nothing it consumes (an iterator): every attempt
        sees the same input. An error writing the database (a full disk, I/O) is `Unavailable`, never
        retried and never a `Conflict`.
        """
        with self._lock:
            # A checkpoint due and not yet taken up by its thread goes first: the next write meets the
            # database as folded, as it would after DuckDB's own checkpoint at commit.
            self._checkpoint_pending()
            for attempt in range(_RETRIES):
                cursor = self._root.cursor()
                try:
                    cursor.begin()
                    result = fn(DuckConn(cursor, self.faults))
                    step(self.faults, "commit")
                    cursor.commit()
                    self._checkpoint_if_due()
                    return result
                except duckdb.TransactionException as error:
                    _rollback(cursor)
                    if not _is_conflict(error):
                        raise unavailable(error) from error
                    if attempt == _RETRIES - 1:
                        raise Conflict(f"write conflict, try again: {short(error)}") from error
                    time.sleep(0.005 * (attempt + 1))
                except (duckdb.IOException, duckdb.OutOfMemoryException) as error:
                    _rollback(cursor)
                    raise unavailable(error) from error
                except BaseException:
                    _rollback(cursor)
                    raise
                finally:
                    cursor.close()
        raise AssertionError("unreachable")

    def checkpoint(self) -> None:
        """Fold the log into the database file, journaled so that a kill during it can be undone."""
        with self._lock, self.read() as conn:
            if self._wal is None or not duck_journal.enabled():
                conn.execute("CHECKPOINT")
                return
            duck_journal.write(self.url, conn.cursor)
            conn.execute("CHECKPOINT")
            # A checkpoint that failed leaves its journal: the next open decides whether it is needed.
            duck_journal.remove(self.url)

    def _checkpoint_if_due(self) -> None:
        """Mark a checkpoint due if the log has grown past CHECKPOINT_BYTES, and start its thread (under the
        write lock); whichever takes the lock next, that thread or a write, runs it."""
        try:
            due = self._wal is not None and os.path.getsize(self._wal) >= CHECKPOINT_BYTES
        except OSError:
            due = False
        if due and not self._due:
            self._due = True
            # Not a daemon: the interpreter waits for it at exit rather than unloading DuckDB beneath it.
            self._checkpointer = threading.Thread(target=self._checkpoint_pending, name="duckdb-checkpoint")
            self._checkpointer.start()

    def _checkpoint_pending(self) -> None:
        with self._lock:
            if not self._due:
                return
            self._due = False
            try:
                self.checkpoint()
            except (duckdb.Error, OSError):
                # The log stays as it is (a journal that could not be written, on a full disk, stops the
                # checkpoint before it begins): the next write past the size tries again, and DuckDB's own
                # threshold is the backstop.
                pass

    def settle(self) -> None:
        """Wait for a checkpoint started by a write to finish."""
        if self._checkpointer:
            self._checkpointer.join()

    def close(self) -> None:
        self.settle()
        if self._side:
            self._side.shutdown()
        if self._wal and os.path.exists(self._wal) and os.path.getsize(self._wal):
            self._due = True
            self._checkpoint_pending()
        self._root.close()
        if self._wal:
            duck_journal.detach(self.url)


def _rollback(cursor) -> None:
    try:
        cursor.rollback()
    except duckdb.Error:
        pass
