"""The sender: delivers pending deliveries, at least once, with retries and exponential backoff.

One pass (`deliver_due`) claims a batch of the deliveries that are due, in a short transaction that moves
their next attempt past a lease (`Settings.lease`, covering the batch's attempts) so no other sender takes
them meanwhile; on PostgreSQL the claim skips the rows another replica is claiming (`engine.skip_locked`),
so several replicas deliver each event once per destination. The requests go out with no transaction open
and no lock held, so a slow receiver never holds up a vote. Each attempt is logged (`delivery_attempts`); a
2xx answer marks the delivery delivered, anything else schedules the next attempt after `Settings.backoff`,
until `retry_until` (24 hours after the event by default) has passed: then it is failed. A sender that dies
mid-attempt leaves its claim to expire, and the delivery is attempted again: a receiver may see an event
twice, and tells by its `webhook-id`.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from data_layer.errors import DataLayerError
from data_layer.notify import guard
from data_layer.notify.settings import Settings

_CLAIM = """
UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $lease_until
WHERE delivery_id IN (
    SELECT delivery_id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= $now
    ORDER BY next_attempt_at, delivery_id
    LIMIT $limit {skip_locked}
)
RETURNING delivery_id
"""

_DUE = "SELECT EXISTS (SELECT 1 FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $now)"

_CLAIMED = """
SELECT d.delivery_id, d.attempts, d.retry_until, e.event_id, e.kind, e.payload, e.created_at AS event_at,
       x.destination_id, x.kind AS destination_kind, x.url, x.secret, x.allow_private, x.removed_at
FROM deliveries d JOIN outbox e ON e.event_id = d.event_id
JOIN notify_destinations x ON x.destination_id = d.destination_id
WHERE d.delivery_id = $delivery_id
"""

_ATTEMPT = """
INSERT INTO delivery_attempts (delivery_id, attempted_at, sender, status_code, error, duration_ms)
VALUES ($delivery_id, $attempted_at, $sender, $status_code, $error, $duration_ms)
"""

_RESULT = """
UPDATE deliveries SET status = $status, last_status = $status_code, last_error = $error,
       delivered_at = $delivered_at, next_attempt_at = $next_attempt_at
WHERE delivery_id = $delivery_id AND status = 'pending'
"""

# What a receiver's answer is cut to in the log.
_ERROR_CHARS = 300
USER_AGENT = "feedback-review-notifications"


def sender_name() -> str:
    """Who attempted a delivery, in the log: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def envelope(kind: str, at, payload: str) -> str:
    """The body of a webhook: the Standard Webhooks shape `{type, timestamp, data}`."""
    when = at if isinstance(at, str) else at.astimezone(UTC).isoformat()
    return json.dumps({"type": kind, "timestamp": when, "data": json.loads(payload)}, ensure_ascii=False)


class _Pinned(http.client.HTTPConnection):
    """A connection to `address`, the address `guard.resolve` checked, for the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post_webhook(row: dict, settings: Settings) -> tuple[int | None, str | None]:
    """POST the event of `row` to its webhook, signed; `(status, error)`: error None on a 2xx answer."""
    scheme, host, port, path = guard.webhook_target(row["url"])
    try:
        addresses = guard.resolve(host, port, allow_private=bool(row["allow_private"]))
    except DataLayerError as error:
        return None, f"refused: {error}"
    body = envelope(row["kind"], row["event_at"], row["payload"])
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": row["event_id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(row["secret"]).sign(row["event_id"], now, body),
    }
    connection_class = _PinnedTLS if scheme == "https" else _Pinned
    connection = connection_class(host, port, addresses[0], settings.timeout)
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        answer = response.read(_ERROR_CHARS).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return None, f"{type(error).__name__}: {error}"[:_ERROR_CHARS]
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status, None
    return response.status, f"HTTP {response.status} {response.reason}: {answer}"[:_ERROR_CHARS]


def alert_text(payload: str) -> tuple[str, str]:
    """The title and body of an alert in a chat or mail message."""
    alert = json.loads(payload)
    title = f"Feedback alert: {alert['assistant_id']} on {alert['day']}"
    body = (
        f"{alert['assistant_id']} had {alert['rate']:.0%} positive of {alert['votes']} whole-run votes on "
        f"{alert['day']}, expected {alert['expected']:.0%} (band from {alert['low']:.0%})."
    )
    return title, body


def send_apprise(row: dict, settings: Settings) -> tuple[int | None, str | None]:
    """Send an alert through apprise; `(None, error)` when apprise could not."""
    import apprise

    try:
        guard.check_apprise(row["url"], allow_private=bool(row["allow_private"]))
    except DataLayerError as error:
        return None, f"refused: {error}"
    sender = apprise.Apprise()
    if not sender.add(row["url"]):
        return None, "apprise does not accept this URL"
    title, body = alert_text(row["payload"])
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
        sent = sender.notify(title=title, body=body)
    if sent:
        return None, None
    said = " ".join(captured.getvalue().split())
    return None, f"apprise could not deliver: {said}"[:_ERROR_CHARS] if said else "apprise could not deliver"


def attempt(row: dict, settings: Settings) -> tuple[int | None, str | None]:
    """One delivery attempt of `row` (a claimed delivery with its event and destination)."""
    if row["removed_at"] is not None:
        return None, "the destination was removed"
    if row["destination_kind"] == "apprise":
        return send_apprise(row, settings)
    return post_webhook(row, settings)


# Deliveries claimed at once: the lease of a claim covers the attempts of its batch, so a small batch keeps
# the wait short after a sender dies.
BATCH = 5


def deliver_due(engine, settings: Settings | None = None, *, limit: int = BATCH) -> dict:
    """One pass: claim up to `limit` due deliveries and attempt each once. Returns the counts
    `{"delivered", "retrying", "failed"}`."""
    settings = settings or Settings.current()
    now = datetime.now(UTC)
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    # A read first: the sender's idle rounds take no write lock from the votes.
    with engine.read() as conn:
        if not conn.scalar(_DUE, {"now": now}):
            return counts
    claim = _CLAIM.format(skip_locked=engine.skip_locked)
    params = {"now": now, "lease_until": now + timedelta(seconds=settings.lease(limit)), "limit": limit}
    claimed = engine.write(lambda conn: [row["delivery_id"] for row in conn.all(claim, params)])
    for delivery_id in claimed:
        with engine.read() as conn:
            row = conn.one(_CLAIMED, {"delivery_id": delivery_id})
        if row is None:
            continue
        started = time.monotonic()
        attempted_at = datetime.now(UTC)
        try:
            status_code, error = attempt(row, settings)
        except Exception as failure:  # noqa: BLE001 - a plugin or a receiver's bytes: logged as the attempt's error
            status_code, error = None, f"{type(failure).__name__}: {failure}"[:_ERROR_CHARS]
        outcome = _record(engine, row, settings, attempted_at, status_code, error, time.monotonic() - started)
        counts[outcome] += 1
    return counts


def _record(engine, row: dict, settings: Settings, at: datetime, status_code, error, took: float) -> str:
    """Log the attempt and move the delivery on: delivered, retried after the backoff, or failed."""
    done = datetime.now(UTC)
    retry_at = done + timedelta(seconds=settings.backoff(int(row["attempts"])))
    if error is None:
        status, next_at = "delivered", done
    elif row["removed_at"] is not None or retry_at > row["retry_until"]:
        status, next_at = "failed", done
    else:
        status, next_at = "pending", retry_at

    def write(conn):
        conn.execute(
            _ATTEMPT,
            {
                "delivery_id": row["delivery_id"],
                "attempted_at": at,
                "sender": sender_name(),
                "status_code": status_code,
                "error": error,
                "duration_ms": took * 1000,
            },
        )
        conn.execute(
            _RESULT,
            {
                "delivery_id": row["delivery_id"],
                "status": status,
                "status_code": status_code,
                "error": error,
                "delivered_at": done if status == "delivered" else None,
                "next_attempt_at": next_at,
            },
        )

    engine.write(write)
    return {"delivered": "delivered", "pending": "retrying", "failed": "failed"}[status]
