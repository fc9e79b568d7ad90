"""Backups: a consistent, engine-neutral copy of every table as Parquet, and its restore.

A backup is a directory holding `manifest.json` (schema version, row counts, time) and one
Parquet file per table. It is read in one transaction, so it is a single point-in-time copy
even while reviewers keep voting; and because it is plain Parquet it restores into either
engine (a DuckDB backup can seed a PostgreSQL store and back).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_layer import rollups, search_index
from data_layer.errors import Conflict, InvalidInput, Unavailable
from data_layer.notify import tables as notify_tables

MANIFEST = "manifest.json"
BACKUP_DIR_VARIABLE = "FEEDBACK_BACKUP_DIR"
FORMAT = "feedback-backup/1"
# A backup being written: `.NAME.partial-XXXXXXXX` beside where it goes.
PARTIAL = ".partial-"
# Restore order: parents before children (no foreign keys, but readers expect it).
_BASE_TABLES = ("threads", "runs", "run_events", "feedback")


def _tables(conn) -> list[str]:
    rows = conn.all(
        """
        SELECT table_name FROM information_schema.tables
        WHERE table_schema IN ('main', 'public') AND table_type = 'BASE TABLE' AND table_name <> 'schema_version'
        """
    )
    names = sorted(row["table_name"] for row in rows)
    return [name for name in _BASE_TABLES if name in names] + [name for name in names if name not in _BASE_TABLES]


def backup_dir(store) -> Path:
    """Where backups requested through the running dashboard, and scheduled ones, go."""
    return directory_for(store.engine.url)


def directory_for(url: str) -> Path:
    """`FEEDBACK_BACKUP_DIR`, else a `backups` folder beside a DuckDB file, else `data/backups`."""
    configured = os.environ.get(BACKUP_DIR_VARIABLE)
    if configured:
        return Path(configured)
    if url != ":memory:" and not url.startswith(("postgresql://", "postgres://")):
        return Path(url).resolve().parent / "backups"
    return Path("data/backups")


def listed(directory: Path) -> list[dict]:
    """The complete backups in `directory` (those with a readable manifest), oldest first: name, path, created_at."""
    found = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return []
    for path in entries:
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            created = datetime.fromisoformat(manifest["created_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append({"name": path.name, "path": path, "created_at": created})
    return sorted(found, key=lambda entry: entry["created_at"])


def restore_hint(url: str) -> str:
    """One sentence for a database that does not open: its newest backup, when it was taken, how to restore it."""
    directory = directory_for(url)
    backups = listed(directory)
    if not backups:
        return f"No backup was found in {directory}."
    newest = backups[-1]
    taken = newest["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Newest backup: {newest['path']}, taken {taken}. To restore it, move {url} and {url}.wal aside, then run: "
        f"python -m data_layer restore {newest['path']} --db {url}"
    )


def default_name() -> str:
    return datetime.now(UTC).strftime("backup-%Y%m%dT%H%M%S.%fZ")


def backup(store, dest) -> dict:
    """Write every table of `store` to the new directory `dest` (absent or empty); returns the manifest.

    The copy is written beside `dest` under a temporary name and renamed into place when complete and synced,
    so `dest` is either a whole backup or absent: a failed backup leaves nothing, and its name can be used again.
    Out of space or an I/O error while writing is `Unavailable`.
    """
    target = Path(dest)
    if target.exists() and any(target.iterdir()):
        raise Conflict(f"{target} is not empty; choose a new directory for the backup")
    partial = target.parent / f".{target.name}{PARTIAL}{uuid.uuid4().hex[:8]}"
    try:
        partial.mkdir(parents=True)
        manifest = _write(store, partial)
        _rename_into_place(partial, target)
    except BaseException as error:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(error, OSError):
            raise Unavailable(f"backup {target.name} not written ({_reason(error)}); nothing was kept") from error
        raise
    return manifest


def _write(store, partial: Path) -> dict:
    def copy(conn):
        # One snapshot for every table.
        conn.snapshot()
        counts = {}
        for table in _tables(conn):
            counts[table] = _write_table(conn, table, partial / f"{table}.parquet")
        return counts

    counts = store.engine.write(copy)
    manifest = {
        "format": FORMAT,
        "schema_version": store.schema_version,
        "engine": store.engine.name,
        "created_at": datetime.now(UTC).isoformat(),
        "counts": counts,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _write_table(conn, table: str, path: Path) -> int:
    """Write one table to a Parquet file; the number of rows. The file is closed also when a write fails, so
    that nothing of a failed backup stays open (a disk that cannot unmount, space not given back)."""
    writer = None
    rows = 0
    try:
        for batch in conn.arrow_batches(f"SELECT * FROM {table}"):
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
    except BaseException:
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass
        raise
    if writer is None:
        columns = conn.all(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $table ORDER BY ordinal_position",
            {"table": table},
        )
        pq.write_table(pa.table({column["column_name"]: pa.array([], pa.null()) for column in columns}), path)
    else:
        writer.close()
    return rows


def _rename_into_place(partial: Path, target: Path) -> None:
    """Sync every file of the finished copy, then give it its name (an empty directory of that name is replaced;
    a backup that got there first is a `Conflict`)."""
    for path in partial.iterdir():
        with open(path, "rb") as written:
            os.fsync(written.fileno())
    _sync(partial)
    try:
        os.replace(partial, target)
    except OSError as error:
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise Conflict(f"{target} is not empty; choose a new directory for the backup") from error
        raise
    _sync(target.parent)


def _sync(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _reason(error: OSError) -> str:
    if error.errno is not None:
        return os.strerror(error.errno).lower()
    # Arrow's errors carry the errno only in their text ("... [errno 28] No space left on device").
    text = str(error)
    return text.rsplit("] ", 1)[-1].strip() if "[errno" in text else text


def restore(store, src) -> dict:
    """Load a backup directory into an empty `store`, in one transaction; returns the manifest."""
    source = Path(src)
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise InvalidInput(f"{source} is not a backup directory (no readable {MANIFEST})") from error
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"{source}: unknown backup format {manifest.get('format')!r}")
    if manifest.get("schema_version", 0) > store.schema_version:
        raise InvalidInput(
            f"{source} was written by a newer schema (version {manifest['schema_version']}, "
            f"this store has {store.schema_version}); upgrade first"
        )
    if not store.is_empty():
        raise Conflict("the target database is not empty; restore into a new database")

    # The search index is derived from the messages: a backup holding all of its tables (of this index's
    # form, step 9 on) restores them as they are, any other is rebuilt from the restored messages.
    whole_index = manifest.get("schema_version", 0) >= 9 and all(
        table in manifest["counts"] for table in search_index.TABLES
    )

    def load(conn):
        known = set(_tables(conn))
        for table in manifest["counts"]:
            if table in search_index.TABLES and not whole_index:
                continue
            if table not in known:
                raise InvalidInput(f"{source}: table {table} does not exist in this schema")
            data = pq.read_table(source / f"{table}.parquet")
            if data.num_rows != manifest["counts"][table]:
                raise InvalidInput(
                    f"{source}: {table}.parquet holds {data.num_rows} rows, manifest says {manifest['counts'][table]}"
                )
            if table in ("run_events", "feedback_audit"):
                # Nothing refers to event or audit ids (votes name message ids; the audit trail is read in
                # time order), so these rows take fresh ids from the target's own sequence rather than
                # colliding with it.
                data = data.drop_columns(["id"])
            for batch in data.to_batches(max_chunksize=100_000):
                conn.load(table, pa.Table.from_batches([batch]))
        if not whole_index:
            store.engine.index_terms(conn, "run_events")
        for statement in notify_tables.ADVANCE:
            conn.execute(statement)
        # A backup from before the stats rollups holds none of them (cheap when it does: only what differs is written).
        rollups.refresh(conn)

    store.engine.write(load)
    return manifest
