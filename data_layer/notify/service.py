"""The dashboard's sender: a thread of the process holding the shared store that delivers due notifications
every `FEEDBACK_NOTIFY_EVERY` and checks for new alerts every `FEEDBACK_NOTIFY_ALERTS_EVERY`
(data_layer/notify/settings.py). It never stops on an error: a store that cannot be read now, or a receiver
that is down, is tried again at the next round, and the error is logged and kept in `last_error`.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

from data_layer import auth
from data_layer.errors import DataLayerError
from data_layer.notify import sender
from data_layer.notify.settings import FIRST_ALERT_CHECK, Settings

log = logging.getLogger(__name__)
# Passes of one round at most, so that a backlog does not keep the thread from its alert check for long.
_PASSES = 50


class Notifier:
    def __init__(self, store, settings: Settings):
        self.store = store
        self.settings = settings
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feedback-notify", daemon=True)
        self._next_alert_check = (
            time.monotonic() + min(FIRST_ALERT_CHECK, settings.alerts_every) if settings.alerts_every else None
        )

    def start(self) -> Notifier:
        self._thread.start()
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        atexit.unregister(self.stop)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.every):
            self.round()

    def round(self) -> None:
        """Check for alerts when due, then deliver until nothing is due (or `_PASSES` passes)."""
        try:
            if self._next_alert_check is not None and time.monotonic() >= self._next_alert_check:
                self._next_alert_check = time.monotonic() + self.settings.alerts_every
                self.store.notify.check_alerts(actor=auth.SYSTEM)
            for _ in range(_PASSES):
                counts = sender.deliver_due(self.store.engine, self.settings)
                if not any(counts.values()) or self._stop.is_set():
                    break
            self.last_error = None
        except (DataLayerError, OSError) as error:
            self.last_error = f"notifications: {error}"
            log.warning(self.last_error)
        except Exception as error:  # noqa: BLE001 - the thread outlives any one round's failure
            self.last_error = f"notifications: {type(error).__name__}: {error}"
            log.exception(self.last_error)


def start(store) -> Notifier | None:
    """Start the sender of `store` as configured; None when `FEEDBACK_NOTIFY_EVERY` is 0."""
    settings = Settings.current()
    if not settings.every:
        return None
    return Notifier(store, settings).start()
