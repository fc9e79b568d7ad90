"""Events written in the transaction of the change they tell of (the outbox), one delivery per destination.

A vote write (`vote_written`), an import's votes (`import_written`), a raised alert, a finished queue and a new
dataset each call in here with the caller's connection, so the event commits or rolls back with its change: a
vote is never stored without its event, and no event goes out for a change that did not happen. An event goes
to the destinations that exist when it is written, take its kind and match its filter; an event no destination
takes is not stored at all (the cost of a vote with nothing configured is one read of an empty table).
A finished queue is looked for only while some destination takes `queue.finished`. The sender (`sender.py`)
delivers the `deliveries` rows made here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from data_layer.notify.settings import Settings
from data_layer.rows import plain

VOTE_CREATED, VOTE_UPDATED, VOTE_DELETED = "vote.created", "vote.updated", "vote.deleted"
ALERT_RAISED, QUEUE_FINISHED, DATASET_CREATED = "alert.raised", "queue.finished", "dataset.created"
KINDS = (VOTE_CREATED, VOTE_UPDATED, VOTE_DELETED, ALERT_RAISED, QUEUE_FINISHED, DATASET_CREATED)
# A vote event's data: the vote as stored (as removed, for a deletion), and its run's assistant and model.
VOTE_FIELDS = (
    "feedback_id",
    "thread_id",
    "run_id",
    "owner_id",
    "message_id",
    "rating",
    "comment",
    "tags",
    "source",
    "created_at",
    "updated_at",
)

_LIVE = "SELECT events FROM notify_destinations WHERE removed_at IS NULL"

# A destination takes an event when it lists the event's kind and each filter it sets equals the event's value
# (an event without that attribute, such as a finished queue for a destination filtered by assistant, does not
# match).
MATCH = """
    d.removed_at IS NULL AND strpos(d.events, ',' || e.kind || ',') > 0
    AND (d.assistant_id IS NULL OR d.assistant_id = e.assistant_id)
    AND (d.model_name IS NULL OR d.model_name = e.model_name)
    AND (d.source IS NULL OR d.source = e.source)
"""

_EVENT = f"""
INSERT INTO outbox (event_id, kind, payload, created_at, assistant_id, model_name, source)
SELECT e.event_id, e.kind, e.payload, e.created_at, e.assistant_id, e.model_name, e.source
FROM (SELECT CAST($event_id AS TEXT) AS event_id, CAST($kind AS TEXT) AS kind, CAST($payload AS TEXT) AS payload,
             CAST($at AS TIMESTAMPTZ) AS created_at, CAST($assistant_id AS TEXT) AS assistant_id,
             CAST($model_name AS TEXT) AS model_name, CAST($source AS TEXT) AS source) e
WHERE EXISTS (SELECT 1 FROM notify_destinations d WHERE {MATCH})
"""

_FAN_OUT = f"""
INSERT INTO deliveries (event_id, destination_id, status, attempts, next_attempt_at, retry_until, created_at)
SELECT e.event_id, d.destination_id, 'pending', 0, e.created_at, $retry_until, e.created_at
FROM outbox e JOIN notify_destinations d ON {MATCH}
WHERE e.event_id {{which}}
"""

_RUN = "SELECT assistant_id, model_name FROM runs WHERE run_id = $run_id"

_RAISE = """
INSERT INTO notify_raised (kind, key, raised_at) VALUES ($kind, $key, $at)
ON CONFLICT DO NOTHING
RETURNING key
"""

# The open queues holding `run_id` whose every item now has the whole-run votes of named reviewers it asks for.
_FINISHED = """
SELECT x.name, x.reviewers_per_item, count(*) AS items
FROM queues x JOIN queue_items q ON q.queue_name = x.name JOIN runs r ON r.run_id = q.run_id
WHERE x.closed_at IS NULL AND x.name IN (SELECT queue_name FROM queue_items WHERE run_id IN ({runs}))
GROUP BY x.name, x.reviewers_per_item
HAVING count(*) FILTER (WHERE r.panel_positive + r.panel_negative < x.reviewers_per_item) = 0
ORDER BY x.name
"""


def wanted(conn) -> set[str]:
    """The event kinds some destination takes (a cheap look before an event is built or a queue checked)."""
    return {kind for row in conn.all(_LIVE) for kind in row["events"].split(",") if kind}


def record(
    conn,
    kind: str,
    data: dict,
    *,
    at: datetime | None = None,
    assistant_id: str | None = None,
    model_name: str | None = None,
    source: str | None = None,
) -> str | None:
    """Write the event `kind` with its `data` in the caller's transaction, and a pending delivery to each
    destination taking it. Returns the event's id, or None when no destination takes it (nothing is written)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    at = at or datetime.now(UTC)
    event_id = f"msg_{uuid.uuid4().hex}"
    params = {
        "event_id": event_id,
        "kind": kind,
        "payload": json.dumps(data, ensure_ascii=False, default=str),
        "at": at,
        "assistant_id": assistant_id,
        "model_name": model_name,
        "source": source,
    }
    conn.execute(_EVENT, params)
    if not conn.scalar("SELECT count(*) FROM outbox WHERE event_id = $event_id", params):
        return None
    retry_until = at + timedelta(seconds=Settings.current().give_up)
    conn.execute(_FAN_OUT.format(which="= $event_id"), {"event_id": event_id, "retry_until": retry_until})
    return event_id


def raise_once(conn, kind: str, key: str, at: datetime) -> bool:
    """Store that `kind` was raised for `key`; False when it was before (by any process)."""
    return conn.one(_RAISE, {"kind": kind, "key": key, "at": at}) is not None


def vote_data(vote: dict, run: dict | None) -> dict:
    """A vote event's data: the vote's fields, its rubric scores and its correction when it has them, and its
    run's assistant and model."""
    values = plain(vote)
    return {
        **{name: values.get(name) for name in VOTE_FIELDS},
        **({"scores": values["scores"]} if values.get("scores") else {}),
        **({"correction": values["correction"]} if values.get("correction") else {}),
        "assistant_id": (run or {}).get("assistant_id"),
        "model_name": (run or {}).get("model_name"),
    }


def vote_written(conn, old: dict | None, new: dict | None, at: datetime | None = None) -> None:
    """After a vote is created, changed or removed in `conn`'s transaction: its event, and the event of each
    queue it finished."""
    vote = new or old
    if vote is None:
        return
    at = at or datetime.now(UTC)
    if new is None:
        kind = VOTE_DELETED
    elif old is None or old["feedback_id"] != new["feedback_id"]:
        kind = VOTE_CREATED
    else:
        kind = VOTE_UPDATED
    taken = wanted(conn)
    if kind in taken:
        run = conn.one(_RUN, {"run_id": vote["run_id"]})
        record(
            conn,
            kind,
            vote_data(vote, run),
            at=at,
            assistant_id=(run or {}).get("assistant_id"),
            model_name=(run or {}).get("model_name"),
            source=vote["source"],
        )
    if new is None or QUEUE_FINISHED not in taken:
        return
    # Only a whole-run vote of a named reviewer counts towards a queue item's votes.
    if new["source"] == "reviewer" and new["message_id"] is None and new["owner_id"] is not None:
        queues_finished(conn, "SELECT CAST($voted AS TEXT)", {"voted": new["run_id"]}, at)


def queues_finished(conn, runs: str, params: dict, at: datetime) -> None:
    """Raise `queue.finished`, once per queue, for each open queue holding a run of the query `runs` whose
    every item has all its votes."""
    for row in conn.all(_FINISHED.format(runs=runs), params):
        if raise_once(conn, QUEUE_FINISHED, row["name"], at):
            data = {
                "queue": row["name"],
                "items": int(row["items"]),
                "reviewers_per_item": int(row["reviewers_per_item"]),
                "finished_at": at.isoformat(),
            }
            record(conn, QUEUE_FINISHED, data, at=at)


def alert_raised(conn, alert: dict, at: datetime) -> bool:
    """Raise the alert of one assistant's day once (by any process, on any check); False when it was raised
    before."""
    key = f"{alert['assistant_id']}|{alert['day']}"
    if not raise_once(conn, ALERT_RAISED, key, at):
        return False
    data = {name: alert.get(name) for name in ("assistant_id", "day", "votes", "positive", "rate", "expected", "low")}
    data["band"] = {"low": alert.get("low"), "high": alert.get("high")}
    record(conn, ALERT_RAISED, data, at=at, assistant_id=alert.get("assistant_id"))
    return True


def dataset_created(conn, dataset: dict, at: datetime | None = None) -> str | None:
    """The event of a new dataset snapshot (its name, version, item count...), in the transaction writing it."""
    return record(conn, DATASET_CREATED, dataset, at=at)


# An import's written votes (the temporary tables of data_layer/ingest/merge.py) as vote events, in one statement.
_IMPORTED = f"""
INSERT INTO outbox (event_id, kind, payload, created_at, assistant_id, model_name, source)
SELECT e.* FROM (
    SELECT 'msg_' || replace(CAST(gen_random_uuid() AS TEXT), '-', '') AS event_id,
           CASE WHEN c.created THEN '{VOTE_CREATED}' ELSE '{VOTE_UPDATED}' END AS kind,
           CAST({{payload}} AS TEXT) AS payload, CAST($at AS TIMESTAMPTZ) AS created_at,
           f.run_assistant_id AS assistant_id, f.run_model_name AS model_name, f.source
    FROM _changing c JOIN _written f ON f.feedback_id = c.feedback_id
) e
WHERE EXISTS (SELECT 1 FROM notify_destinations d WHERE {MATCH})
"""


def import_written(conn, engine, at: datetime) -> None:
    """An import's created and changed votes, one event each (the same data as a single vote's), and the
    queues they finished: called in the import's transaction after its audit rows."""
    taken = wanted(conn)
    if VOTE_CREATED in taken or VOTE_UPDATED in taken:
        pairs = [f"'{name}', " + _vote_column(engine, name) for name in VOTE_FIELDS]
        pairs += ["'assistant_id', f.run_assistant_id", "'model_name', f.run_model_name"]
        payload = engine.json_object.format(pairs=", ".join(pairs))
        conn.execute(_IMPORTED.format(payload=payload), {"at": at})
        retry_until = at + timedelta(seconds=Settings.current().give_up)
        which = "IN (SELECT event_id FROM outbox WHERE created_at = $at) AND NOT EXISTS " + (
            "(SELECT 1 FROM deliveries x WHERE x.event_id = e.event_id)"
        )
        conn.execute(_FAN_OUT.format(which=which), {"at": at, "retry_until": retry_until})
    if QUEUE_FINISHED in taken:
        voted = "SELECT run_id FROM _written WHERE source = 'reviewer' AND message_id IS NULL AND owner_id IS NOT NULL"
        queues_finished(conn, voted, {}, at)


def _vote_column(engine, name: str) -> str:
    column = f"f.{name}"
    return engine.iso_time.format(time=column) if name.endswith("_at") else column
