"""The sender's settings, from the environment (README, "Notifications").

- `FEEDBACK_NOTIFY_EVERY`: how often the dashboard's sender looks for due deliveries (default 5s; 0 turns the
  sender and the alert check off in the dashboard, for a deployment that runs `notify run` from cron);
- `FEEDBACK_NOTIFY_RETRY`: the wait before the first retry (default 30s), doubled at each failure up to an hour;
- `FEEDBACK_NOTIFY_GIVE_UP`: how long a delivery is retried before it is marked failed (default 24h);
- `FEEDBACK_NOTIFY_TIMEOUT`: how long one attempt may take (default 10s);
- `FEEDBACK_NOTIFY_ALERTS_EVERY`: how often the dashboard checks for new alerts (default 1d, the first check a
  minute after it starts, or sooner when this is shorter; 0 turns it off).

Durations are written as the backup schedule's are: `90s`, `30m`, `1h`, `1d`, or seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from data_layer.config import duration
from data_layer.errors import InvalidInput

_DEFAULTS = {
    "FEEDBACK_NOTIFY_EVERY": "5s",
    "FEEDBACK_NOTIFY_RETRY": "30s",
    "FEEDBACK_NOTIFY_GIVE_UP": "24h",
    "FEEDBACK_NOTIFY_TIMEOUT": "10s",
    "FEEDBACK_NOTIFY_ALERTS_EVERY": "1d",
}
# The longest wait between two retries, and the first alert check after a start.
MAX_BACKOFF = 3600.0
FIRST_ALERT_CHECK = 60.0


def _seconds(variable: str) -> float:
    return duration(os.environ.get(variable, "").strip() or _DEFAULTS[variable], variable)


@dataclass(frozen=True)
class Settings:
    every: float
    retry: float
    give_up: float
    timeout: float
    alerts_every: float

    @classmethod
    def current(cls) -> Settings:
        """The settings as the environment says now (`InvalidInput` naming a bad value)."""
        timeout = _seconds("FEEDBACK_NOTIFY_TIMEOUT")
        if timeout <= 0:
            raise InvalidInput("FEEDBACK_NOTIFY_TIMEOUT must be more than 0")
        return cls(
            every=_seconds("FEEDBACK_NOTIFY_EVERY"),
            retry=_seconds("FEEDBACK_NOTIFY_RETRY"),
            give_up=_seconds("FEEDBACK_NOTIFY_GIVE_UP"),
            timeout=timeout,
            alerts_every=_seconds("FEEDBACK_NOTIFY_ALERTS_EVERY"),
        )

    def lease(self, batch: int) -> float:
        """How long a claimed delivery is held by its sender before another may take it: past the attempts of
        its whole batch, each within the timeout, so that only a sender that died mid-batch leaves one to be
        taken again."""
        return self.timeout * (batch + 2)

    def backoff(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt: the retry wait, doubled each time, at most an hour."""
        return min(MAX_BACKOFF, self.retry * 2 ** max(0, attempts - 1))
