"""The feedback store: threads, runs, run events and feedback, on DuckDB or PostgreSQL.

    from data_layer import open_store
    from data_layer.auth import SYSTEM, Actor
    with open_store("data/feedback.duckdb") as store:
        store.import_file("runs.jsonl", actor=SYSTEM)
        store.feedback.upsert(thread_id=..., run_id=..., rating=1, actor=Actor("ana"))

Everything the pages, the REST API and the CLI do goes through this package; none of them
writes SQL. Returned records are plain dicts with JSON-friendly values. Every operation on
people's data (votes, queue claims, the audit trail, imports, exports, the aggregates that name
reviewers or quote comments) takes the `actor` asking and checks it with `auth.authorize`
(docs/identity.md, "Who may do what"). Lists, counts and aggregates narrow their rows by one
`data_layer.filters.Filters`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from data_layer import auth, backup, config, ingest, schedule
from data_layer.audit import AuditLog
from data_layer.engines import open_engine
from data_layer.errors import DataLayerError, InvalidInput, StoreDamaged, StoreUnavailable
from data_layer.events import EventRepo
from data_layer.feedback import FeedbackRepo
from data_layer.ingest import ImportReport
from data_layer.judges import JudgeRepo
from data_layer.notify import NotifyRepo, service
from data_layer.queue import ReviewQueue
from data_layer.queues import QueueRepo
from data_layer.runs import RunRepo
from data_layer.schema import migrate
from data_layer.threads import ThreadRepo

__all__ = ["ImportReport", "Store", "open_shared_quietly", "open_store", "shared_store"]


class Store:
    """One database, opened and migrated; the repositories hang off it."""

    def __init__(self, engine):
        self.engine = engine
        self.schema_version = migrate(engine)
        self.seeded_demo = None
        # Scheduled backups (data_layer/schedule.py), which the dashboard's shared store starts.
        self.schedule = None
        self.threads = ThreadRepo(engine)
        self.runs = RunRepo(engine)
        self.events = EventRepo(engine)
        self.feedback = FeedbackRepo(engine)
        self.queue = ReviewQueue(engine)
        self.queues = QueueRepo(engine, self.feedback)
        self.judges = JudgeRepo(engine)
        self.audit = AuditLog(engine)
        self.notify = NotifyRepo(self)
        # The notification sender and alert check (data_layer/notify/service.py), which the dashboard's shared
        # store starts.
        self.notifier = None

    @property
    def url(self) -> str:
        return config.redact(self.engine.url)

    def ingest(
        self, records: Iterable[dict], *, actor: auth.Actor, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import records in the import record format; atomic, idempotent, every bad record reported.
        The votes it writes enter the audit trail under `actor`, which must be allowed to ingest."""
        auth.authorize(actor, "ingest")
        return ingest.run_import(self.engine, enumerate(records, start=1), progress=progress, actor=actor)

    def ingest_numbered(
        self, numbered, *, actor: auth.Actor, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Like `ingest`, for `(line, record)` pairs from a reader that numbers its own lines."""
        auth.authorize(actor, "ingest")
        return ingest.run_import(self.engine, numbered, progress=progress, actor=actor)

    def import_file(self, path, *, actor: auth.Actor, progress: Callable[[int], None] | None = None) -> ImportReport:
        """Import a `.jsonl`, `.jsonl.gz`, `.json` or `.parquet` file as one transaction."""
        auth.authorize(actor, "ingest")
        return ingest.run_import(self.engine, ingest.read_file(str(path)), progress=progress, actor=actor)

    def import_deerflow(
        self, source, *, actor: auth.Actor, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import a deer-flow gateway database: its SQLite file, or its live PostgreSQL database by URL
        (incrementally: only what changed since the last import from that database)."""
        auth.authorize(actor, "ingest")
        source = str(source)
        if source.startswith(("postgresql://", "postgres://")):
            from data_layer import deerflow_pg

            return deerflow_pg.import_incremental(self.engine, source, actor=actor, progress=progress)
        from data_layer import deerflow

        return ingest.run_import(self.engine, deerflow.read(source), progress=progress, actor=actor)

    def is_empty(self) -> bool:
        with self.engine.read() as conn:
            return not conn.scalar("SELECT count(*) FROM (SELECT 1 FROM threads LIMIT 1) AS t")

    def close(self) -> None:
        if self.schedule:
            self.schedule.stop()
        if self.notifier:
            self.notifier.stop()
        self.engine.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(url: str | None = None, *, read_url: str | None = None) -> Store:
    """Open (creating or migrating) the store at a DuckDB path, `:memory:` or a PostgreSQL URL.

    Without an argument, `FEEDBACK_DB` or the default `data/feedback.duckdb` is used. The reads that may lag
    a moment go to `read_url`, a hot standby of a PostgreSQL `url`, when given (docs/deploy.md).
    """
    url = config.database_url(url)
    try:
        engine = open_engine(url, read_url)
    except StoreDamaged as error:
        raise StoreDamaged(f"{error} {backup.restore_hint(url)}") from error
    try:
        return Store(engine)
    except BaseException:
        engine.close()
        raise


_SHARED: dict[str, Store] = {}
_SHARED_LOCK = threading.Lock()


def shared_store(url: str | None = None) -> Store:
    """The process's one store for a database, shared by every page session and the REST API.

    DuckDB lets one process hold a file, and `:memory:` exists once per connection, so the
    dashboard and the API must use the same object. On first open, an empty database is seeded
    with demo data unless `FEEDBACK_DEMO=0`; `store.seeded_demo` then holds the import report; and
    the scheduled backups start (data_layer/schedule.py). The dashboard's and the API's reads that may lag
    a moment go to `FEEDBACK_DB_READ` when it is set (the command line's, which scripts chain with their
    writes, stay on the primary).
    """
    key = config.database_url(url)
    with _SHARED_LOCK:
        store = _SHARED.get(key)
        if store is None:
            try:
                read_url = config.read_database_url(key)
            except InvalidInput as error:
                raise StoreUnavailable(str(error)) from error
            store = open_store(key, read_url=read_url)
            if config.demo_enabled() and store.is_empty():
                from data_layer import demo

                store.seeded_demo = demo.seed(store, actor=auth.SYSTEM)
            try:
                store.schedule = schedule.start(store)
            except InvalidInput as error:
                store.close()
                raise StoreUnavailable(f"the backup schedule is misconfigured: {error}") from error
            try:
                store.notifier = service.start(store)
            except InvalidInput as error:
                store.close()
                raise StoreUnavailable(f"the notification settings are wrong: {error}") from error
            _SHARED[key] = store
        return store


def open_shared_quietly() -> None:
    """Open the shared store (and so start its sender and schedules) for a server starting; a store that
    cannot be opened now is logged, and each page or API call reports it as it does anyway."""
    try:
        shared_store()
    except DataLayerError as error:
        logging.getLogger(__name__).warning("the store did not open at start: %s", error)


def release_shared() -> None:
    """Close every shared store (tests, and a server shutting down)."""
    with _SHARED_LOCK:
        for store in _SHARED.values():
            store.close()
        _SHARED.clear()
