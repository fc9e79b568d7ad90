"""A journal of the blocks a DuckDB checkpoint overwrites in place, so that a process killed during one can be undone.

A checkpoint writes the new data to free blocks, then the new header, so a kill anywhere leaves the old header
and everything it points at, and the log DuckDB replays on the next open. Except for the metadata blocks: each
holds 64 small blocks, and the checkpoint writes its new metadata into the free small blocks of blocks the old
header still uses, then writes the whole 256 KiB block back in place (DuckDB 2.0.1, `MetadataManager::Flush`).
Linux ends a buffered write between two pages when the writer is killed (SIGKILL, the out-of-memory killer), so a
kill during that write leaves a block half old and half new, whose checksum no longer matches: the file does not
open ("Corrupt database file: computed checksum ... in block at location 12288", the first metadata block).

So before each checkpoint this process runs, the metadata blocks and the two database headers are copied to
`<file>.checkpoint-journal` (written whole, synced, renamed into place), and the journal is removed after. A
store that opens and finds a journal compares the headers: as the journal saw them, the checkpoint never
finished, so the blocks are written back (the file is again as it was before the checkpoint, and DuckDB replays
its log); changed, the checkpoint finished and the journal is dropped. This is InnoDB's doublewrite buffer for
the one place DuckDB overwrites what its last header points at (docs/reliability.md, "Crashes").
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
import threading
from pathlib import Path

if sys.platform == "win32":  # no journal (DuckDB's lock there is not one this module can test)
    fcntl = None
else:
    import fcntl

SUFFIX = ".checkpoint-journal"
_MAGIC = b"feedback-checkpoint-journal/1\n"
# DuckDB's file layout: a main header and two database headers of 4 KiB each, then block n at START + n * size.
_HEADERS = slice(4096, 12288)
START = 12288
_DIGEST = 32


def path_of(database: str) -> Path:
    return Path(database + SUFFIX)


class _File:
    """The one descriptor this process keeps on a database file while DuckDB has it open here. POSIX file locks
    belong to the process, and closing any descriptor of a file drops them all, DuckDB's among them: so the
    journal reads and writes the file only through this descriptor, closed after DuckDB closed the file."""

    def __init__(self, database: str):
        self.database = database
        self.descriptor: int | None = None
        self.users = 0

    def open(self) -> int:
        if self.descriptor is None:
            self.descriptor = os.open(self.database, os.O_RDWR)
        return self.descriptor


_FILES: dict[str, _File] = {}
_FILES_GUARD = threading.Lock()


def _key(database: str) -> str:
    return str(Path(database).resolve())


def attach(database: str) -> str | None:
    """Before DuckDB opens `database` in this process: the first to open it undoes a checkpoint a crash
    interrupted. Returns what was done (None: nothing). Every `attach` is paired with a `detach` after close."""
    with _FILES_GUARD:
        file = _FILES.setdefault(_key(database), _File(database))
        file.users += 1
        if file.users > 1 or fcntl is None or not path_of(database).exists():
            return None
        try:
            return _recover(file)
        except BaseException:
            file.users -= 1
            _close_unused(database)
            raise


def detach(database: str) -> None:
    """After DuckDB closed `database` here: the last user closes the descriptor."""
    with _FILES_GUARD:
        file = _FILES.get(_key(database))
        if file is not None:
            file.users -= 1
            _close_unused(database)


def _close_unused(database: str) -> None:
    file = _FILES[_key(database)]
    if file.users <= 0:
        if file.descriptor is not None:
            os.close(file.descriptor)
        del _FILES[_key(database)]


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _metadata_blocks(cursor) -> tuple[int, list[int]]:
    size = cursor.execute(
        "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()[0][0]
    blocks = [row[0] for row in cursor.execute("SELECT block_id FROM pragma_metadata_info() ORDER BY 1").fetchall()]
    return int(size), [int(block) for block in blocks]


def write(database: str, cursor) -> None:
    """Copy the metadata blocks and headers of `database` (open on `cursor`, under the write lock) to its journal."""
    size, blocks = _metadata_blocks(cursor)
    with _FILES_GUARD:
        descriptor = _FILES[_key(database)].open()
    headers = os.pread(descriptor, START, 0)[_HEADERS]
    copies = []
    for block in blocks:
        copy = os.pread(descriptor, size, START + block * size)
        if len(copy) != size:
            raise OSError(f"{database}: metadata block {block} lies past the end of the file")
        copies.append(copy)
    body = b"".join([_MAGIC, json.dumps({"block_size": size, "blocks": blocks}).encode() + b"\n", headers, *copies])
    journal = path_of(database)
    partial = journal.with_name(journal.name + ".partial")
    try:
        with open(partial, "wb") as out:
            out.write(body + hashlib.sha256(body).digest())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, journal)
    except OSError:
        # A full disk: no checkpoint without its journal, and no half journal taking the space.
        partial.unlink(missing_ok=True)
        raise
    _sync_directory(journal)


def remove(database: str) -> None:
    path_of(database).unlink(missing_ok=True)


def enabled() -> bool:
    """Whether checkpoints are journaled here (not on Windows)."""
    return fcntl is not None


def _read(journal: Path) -> tuple[dict, bytes, list[bytes]] | None:
    """The journal's layout, saved headers and blocks; None when it is incomplete or damaged (written before the
    checkpoint began, so then nothing needs undoing)."""
    data = journal.read_bytes()
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if not body.startswith(_MAGIC) or hashlib.sha256(body).digest() != digest:
        return None
    line_end = body.index(b"\n", len(_MAGIC))
    layout = json.loads(body[len(_MAGIC) : line_end])
    rest = body[line_end + 1 :]
    headers_size = _HEADERS.stop - _HEADERS.start
    size = layout["block_size"]
    blocks = [rest[headers_size + n * size : headers_size + (n + 1) * size] for n in range(len(layout["blocks"]))]
    return layout, rest[:headers_size], blocks


def _lock(descriptor: int, kind: int) -> bool:
    """Take (F_WRLCK) or release (F_UNLCK) a lock on the whole file; False when another process holds one (a
    DuckDB there). An open-file-description lock where Linux has them, which also meets a lock this process
    holds through another descriptor."""
    if hasattr(fcntl, "F_OFD_SETLK"):
        request = struct.pack("hh4xqqi4x", kind, os.SEEK_SET, 0, 0, 0)
        try:
            fcntl.fcntl(descriptor, fcntl.F_OFD_SETLK, request)
        except OSError:
            return False
        return True
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB if kind == fcntl.F_WRLCK else fcntl.LOCK_UN)
    except OSError:
        return False
    return True


def _recover(file: _File) -> str | None:
    database = file.database
    if not os.path.exists(database):
        remove(database)
        return "dropped a journal without its database"
    descriptor = file.open()
    if not _lock(descriptor, fcntl.F_WRLCK):
        # Another process has the file open, mid-checkpoint perhaps: DuckDB's open reports the lock.
        return None
    try:
        saved = _read(path_of(database))
        if saved is None:
            remove(database)
            return "dropped an incomplete journal (its checkpoint had not begun)"
        layout, headers, blocks = saved
        if os.pread(descriptor, len(headers), _HEADERS.start) != headers:
            remove(database)
            return "dropped the journal of a checkpoint that finished"
        for block, content in zip(layout["blocks"], blocks, strict=True):
            os.pwrite(descriptor, content, START + block * layout["block_size"])
        os.fsync(descriptor)
        remove(database)
        return f"wrote back {len(blocks)} metadata blocks of a checkpoint that a crash interrupted"
    finally:
        _lock(descriptor, fcntl.F_UNLCK)
