"""Notifications, delivered at least once: destinations admins configure, events written with their change
(`outbox.py`), and the sender that delivers them (`sender.py`, run by the dashboard in `service.py` and by
`python -m data_layer notify run`).

Every method of `NotifyRepo` takes the `manage_notifications` action (admins and the system). A webhook's
secret (`whsec_...`) is returned once, by `add_webhook`, and never listed again.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

from data_layer import auth, rules
from data_layer.errors import InvalidInput, NotFound
from data_layer.notify import guard, outbox, sender
from data_layer.notify.settings import Settings
from data_layer.rows import plain, plain_all

__all__ = ["EVENT_KINDS", "NotifyRepo"]

EVENT_KINDS = outbox.KINDS
# The events a chat or mail target takes: alerts, for people to read.
APPRISE_KINDS = (outbox.ALERT_RAISED,)
MAX_PAGE = 1000

_DESTINATION = """destination_id, kind, url, events, assistant_id, model_name, source, allow_private, created_at,
    created_by, removed_at"""

_ADD = f"""
INSERT INTO notify_destinations (kind, url, secret, events, assistant_id, model_name, source, allow_private,
                                 created_at, created_by)
VALUES ($kind, $url, $secret, $events, $assistant_id, $model_name, $source, $allow_private, $now, $created_by)
RETURNING {_DESTINATION}
"""

_LIST = f"SELECT {_DESTINATION} FROM notify_destinations WHERE removed_at IS NULL ORDER BY destination_id"

_REMOVE = f"""
UPDATE notify_destinations SET removed_at = $now WHERE destination_id = $destination_id AND removed_at IS NULL
RETURNING {_DESTINATION}
"""

_GIVE_UP_REMOVED = """
UPDATE deliveries SET status = 'failed', last_error = 'the destination was removed'
WHERE destination_id = $destination_id AND status = 'pending'
"""

_DELIVERIES = """
SELECT d.delivery_id, d.event_id, e.kind, d.destination_id, x.kind AS destination_kind, d.status, d.attempts,
       d.last_status, d.last_error, d.next_attempt_at, d.retry_until, d.delivered_at, d.created_at
FROM deliveries d JOIN outbox e ON e.event_id = d.event_id
JOIN notify_destinations x ON x.destination_id = d.destination_id
WHERE {where}
ORDER BY d.created_at DESC, d.delivery_id DESC
LIMIT $limit OFFSET $offset
"""

_ATTEMPTS = """
SELECT attempt_id, delivery_id, attempted_at, sender, status_code, error, duration_ms
FROM delivery_attempts WHERE delivery_id = $delivery_id ORDER BY attempted_at, attempt_id
"""

_EVENT = "SELECT event_id, kind, payload, created_at FROM outbox WHERE event_id = $event_id"

_SEND_AGAIN = """
UPDATE deliveries SET status = 'pending', next_attempt_at = $now, retry_until = $retry_until
WHERE delivery_id = $delivery_id
RETURNING delivery_id
"""

_DESTINATION_OF = "SELECT removed_at FROM notify_destinations WHERE destination_id = $destination_id"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _events(events, allowed: tuple[str, ...]) -> str:
    """The event kinds as stored (`,a,b,`); `InvalidInput` naming one not allowed."""
    chosen = [events] if isinstance(events, str) else list(events or ())
    chosen = [kind.strip() for item in chosen for kind in str(item).split(",") if kind.strip()]
    if not chosen:
        raise InvalidInput(f"a destination takes at least one event kind of {', '.join(allowed)}")
    for kind in chosen:
        if kind not in allowed:
            raise InvalidInput(f"event kind {kind[:40]!r} is not one of {', '.join(allowed)}")
    return "," + ",".join(dict.fromkeys(chosen)) + ","


def _destination(row: dict) -> dict:
    found = plain(row)
    found["events"] = [kind for kind in found["events"].split(",") if kind]
    if found["kind"] == "apprise":
        found["url"] = _private_apprise(found["url"])
    return found


def _private_apprise(url: str) -> str:
    """An apprise URL with its tokens and passwords masked, as apprise itself shows it."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    return plugin.url(privacy=True) if plugin is not None else "(not an apprise URL)"


class NotifyRepo:
    def __init__(self, store):
        # The store, for the alert check's read of the insights (which reads through a store).
        self._store = store
        self._engine = store.engine

    def _add(self, row: dict, actor: auth.Actor) -> dict:
        row = {**row, "now": datetime.now(UTC), "created_by": actor.user_id}
        return plain(self._engine.write(lambda conn: conn.one(_ADD, row)))

    @staticmethod
    def _filter(assistant_id, model_name, source) -> dict:
        return {
            "assistant_id": rules.optional_identifier(assistant_id, "assistant_id") if assistant_id else None,
            "model_name": rules.optional_identifier(model_name, "model_name") if model_name else None,
            "source": rules.source(source) if source else None,
        }

    def add_webhook(
        self,
        url: str,
        *,
        events=EVENT_KINDS,
        assistant_id: str | None = None,
        model_name: str | None = None,
        source: str | None = None,
        allow_private: bool = False,
        actor: auth.Actor,
    ) -> dict:
        """A webhook destination, with its new signing secret (shown this once). `InvalidInput` for a URL that
        is not http(s), does not resolve, or resolves to a refused address without `allow_private`."""
        auth.authorize(actor, "manage_notifications")
        _, host, port, _ = guard.webhook_target(url)
        guard.resolve(host, port, allow_private=bool(allow_private))
        secret = new_secret()
        row = {
            "kind": "webhook",
            "url": url,
            "secret": secret,
            "events": _events(events, EVENT_KINDS),
            "allow_private": bool(allow_private),
            **self._filter(assistant_id, model_name, source),
        }
        return {**_destination(self._add(row, actor)), "secret": secret}

    def add_apprise(
        self, url: str, *, assistant_id: str | None = None, allow_private: bool = False, actor: auth.Actor
    ) -> dict:
        """A chat or mail destination through apprise (Slack, Teams, Mattermost, email...), for alerts only."""
        auth.authorize(actor, "manage_notifications")
        if not isinstance(url, str) or not url.strip() or len(url) > 2000:
            raise InvalidInput("an apprise destination needs its URL (at most 2,000 characters)")
        guard.check_apprise(url, allow_private=bool(allow_private))
        row = {
            "kind": "apprise",
            "url": url,
            "secret": None,
            "events": _events(APPRISE_KINDS, APPRISE_KINDS),
            "allow_private": bool(allow_private),
            **self._filter(assistant_id, None, None),
        }
        return _destination(self._add(row, actor))

    def destinations(self, *, actor: auth.Actor) -> list[dict]:
        """The destinations in use, oldest first, without their secrets."""
        auth.authorize(actor, "manage_notifications")
        with self._engine.read() as conn:
            return [_destination(row) for row in conn.all(_LIST)]

    def remove(self, destination_id, *, actor: auth.Actor) -> dict:
        """Stop sending to a destination: its pending deliveries are failed; its log stays."""
        auth.authorize(actor, "manage_notifications")
        params = {"destination_id": rules.integer(destination_id, "destination id", low=1), "now": datetime.now(UTC)}

        def write(conn):
            row = conn.one(_REMOVE, params)
            if row is None:
                raise NotFound(f"destination {params['destination_id']} not found")
            conn.execute(_GIVE_UP_REMOVED, params)
            return row

        return _destination(self._engine.write(write))

    def deliveries(
        self, *, actor: auth.Actor, destination_id=None, status: str | None = None, limit=100, offset=0
    ) -> list[dict]:
        """The delivery log, newest first: each event to each destination, its status and attempts."""
        auth.authorize(actor, "manage_notifications")
        where: list[str] = ["TRUE"]
        params: dict[str, object] = {}
        if destination_id is not None:
            where.append("d.destination_id = $destination_id")
            params["destination_id"] = rules.integer(destination_id, "destination id", low=1)
        if status is not None:
            if status not in ("pending", "delivered", "failed"):
                raise InvalidInput(f"status {str(status)[:40]!r} is not pending, delivered or failed")
            where.append("d.status = $status")
            params["status"] = status
        params["limit"] = rules.integer(limit, "limit", low=1, high=MAX_PAGE)
        params["offset"] = rules.integer(offset, "offset", high=2**62)
        with self._engine.read() as conn:
            return plain_all(conn.all(_DELIVERIES.format(where=" AND ".join(where)), params))

    def attempts(self, delivery_id, *, actor: auth.Actor) -> list[dict]:
        """Every attempt of one delivery, oldest first."""
        auth.authorize(actor, "manage_notifications")
        params = {"delivery_id": rules.integer(delivery_id, "delivery id", low=1)}
        with self._engine.read() as conn:
            return plain_all(conn.all(_ATTEMPTS, params))

    def event(self, event_id: str, *, actor: auth.Actor) -> dict:
        """One event as stored: its kind, data and time."""
        auth.authorize(actor, "manage_notifications")
        with self._engine.read() as conn:
            row = conn.one(_EVENT, {"event_id": rules.identifier(event_id, "event id")})
        if row is None:
            raise NotFound(f"event {event_id} not found")
        return plain(row)

    def send_again(self, delivery_id, *, actor: auth.Actor) -> dict:
        """Put a delivery back in line now, with a fresh retry window: a failed one, or a delivered one the
        receiver lost."""
        auth.authorize(actor, "manage_notifications")
        now = datetime.now(UTC)
        params = {
            "delivery_id": rules.integer(delivery_id, "delivery id", low=1),
            "now": now,
            "retry_until": now + timedelta(seconds=Settings.current().give_up),
        }

        def write(conn):
            found = conn.one("SELECT destination_id FROM deliveries WHERE delivery_id = $delivery_id", params)
            if found is None:
                raise NotFound(f"delivery {params['delivery_id']} not found")
            if conn.one(_DESTINATION_OF, found)["removed_at"] is not None:
                raise InvalidInput(f"delivery {params['delivery_id']} goes to a removed destination")
            conn.execute(_SEND_AGAIN, params)

        self._engine.write(write)
        return self.delivery(params["delivery_id"], actor=actor)

    def delivery(self, delivery_id, *, actor: auth.Actor) -> dict:
        """One delivery of the log, as `deliveries` lists it."""
        auth.authorize(actor, "manage_notifications")
        params = {"delivery_id": rules.integer(delivery_id, "delivery id", low=1), "limit": 1, "offset": 0}
        with self._engine.read() as conn:
            row = conn.one(_DELIVERIES.format(where="d.delivery_id = $delivery_id"), params)
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return plain(row)

    def run(self, *, actor: auth.Actor, limit: int = 100) -> dict:
        """Deliver what is due now, up to `limit` attempts, in the sender's batches, as cron runs it:
        `{"delivered", "retrying", "failed"}`."""
        auth.authorize(actor, "manage_notifications")
        left = rules.integer(limit, "limit", low=1, high=10_000)
        settings = Settings.current()
        total = {"delivered": 0, "retrying": 0, "failed": 0}
        while left > 0:
            counts = sender.deliver_due(self._engine, settings, limit=min(sender.BATCH, left))
            if not any(counts.values()):
                break
            total = {name: total[name] + counts[name] for name in total}
            left -= sum(counts.values())
        return total

    def check_alerts(self, *, actor: auth.Actor) -> list[dict]:
        """Raise each alert of the last 28 days (`insights.alerts`) not raised before: the alerts raised now.
        While no destination takes alerts nothing is raised, so the first one added gets the current alerts."""
        auth.authorize(actor, "manage_notifications")
        from data_layer import insights

        with self._engine.read() as conn:
            if outbox.ALERT_RAISED not in outbox.wanted(conn):
                return []
        found = insights.alerts(self._store)
        now = datetime.now(UTC)
        return self._engine.write(lambda conn: [alert for alert in found if outbox.alert_raised(conn, alert, now)])
