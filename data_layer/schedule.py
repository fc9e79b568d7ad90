"""Scheduled backups, taken by the running dashboard: a recent consistent copy of its store, the last few kept.

An embedded DuckDB file is the only copy of its votes for most users, so the process holding it keeps a backup
(data_layer/backup.py: Parquet, restorable into either engine) at most `FEEDBACK_BACKUP_EVERY` old in the backup
directory, named `auto-<time>` (the first a minute after the dashboard starts), and removes all but the newest
`FEEDBACK_BACKUP_KEEP` of them; backups named by people are never removed. The default is every hour, the last
5, for a DuckDB file; PostgreSQL has backups of its own (and every replica would take one), so there it runs
only when `FEEDBACK_BACKUP_EVERY` is set. `0` turns it off.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import threading
import time
from datetime import UTC, datetime

from data_layer import backup, config
from data_layer.errors import DataLayerError, InvalidInput

EVERY_VARIABLE = "FEEDBACK_BACKUP_EVERY"
KEEP_VARIABLE = "FEEDBACK_BACKUP_KEEP"
DEFAULT_EVERY = 3600.0
DEFAULT_KEEP = 5
PREFIX = "auto-"
# The first look comes this long after the dashboard starts, so that a backup due then does not compete with the
# start (the demo data, the first pages); so the newest backup is at most the interval and this old.
START_DELAY = 60.0
# After a failed backup (a full disk), the next attempt comes this much later, or at the interval if sooner.
RETRY_AFTER = 300.0
# A scheduled backup's temporary folder older than this was left by a process that died while writing it.
_STALE = 3600.0

log = logging.getLogger(__name__)


def parse_every(text: str) -> float:
    """`90s`, `30m`, `1h`, `1d`, or seconds; `0` or `off` for never. `InvalidInput` for anything else."""
    return config.duration(text, EVERY_VARIABLE)


def configured(url: str) -> tuple[float, int]:
    """The interval in seconds (0: no scheduled backups) and how many to keep, for a store at `url`."""
    raw = os.environ.get(EVERY_VARIABLE)
    if raw is not None and raw.strip():
        every = parse_every(raw)
    elif url == ":memory:" or url.startswith(("postgresql://", "postgres://")):
        every = 0.0
    else:
        every = DEFAULT_EVERY
    keep_text = os.environ.get(KEEP_VARIABLE, str(DEFAULT_KEEP)).strip()
    if not keep_text.isdigit() or int(keep_text) < 1:
        raise InvalidInput(f"{KEEP_VARIABLE}={keep_text!r} is not a whole number of at least 1")
    return every, int(keep_text)


class Schedule:
    """A thread that keeps the newest scheduled backup of `store` at most `every` seconds old."""

    def __init__(self, store, every: float, keep: int):
        self.store = store
        self.every = every
        self.keep = keep
        self.directory = backup.backup_dir(store)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feedback-backup", daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        # A daemon thread, so that it never keeps a server from exiting; stopped before the store closes.
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        atexit.unregister(self.stop)

    def scheduled(self) -> list[dict]:
        return [entry for entry in backup.listed(self.directory) if entry["name"].startswith(PREFIX)]

    def due_in(self) -> float:
        """Seconds until the next backup is due (0: now)."""
        taken = self.scheduled()
        if not taken:
            return 0.0
        age = (datetime.now(UTC) - taken[-1]["created_at"]).total_seconds()
        return max(0.0, self.every - age)

    def _run(self) -> None:
        if self._stop.wait(START_DELAY):
            return
        wait = self.due_in()
        while not self._stop.wait(wait):
            wait = self.every if self.take() else min(self.every, RETRY_AFTER)

    def take(self) -> bool:
        """Take a backup now and prune the old ones; False (and `last_error`, and a log line) when it failed."""
        name = PREFIX + datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        try:
            backup.backup(self.store, self.directory / name)
        except (DataLayerError, OSError) as error:
            self.last_error = f"scheduled backup {name} failed: {error}"
            log.warning(self.last_error)
            return False
        self.last_error = None
        self.prune()
        return True

    def prune(self) -> None:
        """Remove all but the newest `keep` scheduled backups, and the folders of ones a dead process left."""
        for entry in self.scheduled()[: -self.keep]:
            shutil.rmtree(entry["path"], ignore_errors=True)
        for partial in self.directory.glob(f".{PREFIX}*{backup.PARTIAL}*"):
            try:
                if time.time() - partial.stat().st_mtime > _STALE:
                    shutil.rmtree(partial, ignore_errors=True)
            except OSError:
                continue


def start(store) -> Schedule | None:
    """Start the scheduled backups of `store` as configured; None when they are off."""
    every, keep = configured(store.engine.url)
    if not every:
        return None
    return Schedule(store, every, keep).start()
