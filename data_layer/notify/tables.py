"""The tables of notifications (schema step 14): destinations, the outbox of events, one delivery per event and
destination, the log of every attempt, and the keys of what was raised once (alerts, finished queues).

Each statement may run again (IF NOT EXISTS), as a step re-applied after a rewind of the version does.
"""

TABLES_SQL = """
-- where events go: a signed webhook or an apprise URL, the event kinds it takes as a comma-framed list,
-- an optional filter, and whether a private or loopback address is allowed for it
CREATE SEQUENCE IF NOT EXISTS notify_destination_id_seq;
CREATE TABLE IF NOT EXISTS notify_destinations (
    destination_id BIGINT NOT NULL DEFAULT nextval('notify_destination_id_seq') PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('webhook', 'apprise')),
    url            TEXT NOT NULL,
    secret         TEXT,
    events         TEXT NOT NULL,
    assistant_id   TEXT,
    model_name     TEXT,
    source         TEXT,
    allow_private  BOOLEAN NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    created_by     TEXT NOT NULL,
    removed_at     TIMESTAMPTZ
);

-- an event, written in the transaction of the change it tells of, with the attributes destinations filter on
CREATE TABLE IF NOT EXISTS outbox (
    event_id     TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    assistant_id TEXT,
    model_name   TEXT,
    source       TEXT
);

-- one event to one destination: pending until delivered, or failed once its retries ran out
CREATE SEQUENCE IF NOT EXISTS delivery_id_seq;
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id     BIGINT NOT NULL DEFAULT nextval('delivery_id_seq') PRIMARY KEY,
    event_id        TEXT NOT NULL,
    destination_id  BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    retry_until     TIMESTAMPTZ NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, destination_id)
);

-- every attempt of a delivery: when, by which sender, the answer or the error, and how long it took
CREATE SEQUENCE IF NOT EXISTS delivery_attempt_id_seq;
CREATE TABLE IF NOT EXISTS delivery_attempts (
    attempt_id   BIGINT NOT NULL DEFAULT nextval('delivery_attempt_id_seq') PRIMARY KEY,
    delivery_id  BIGINT NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL,
    sender       TEXT NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_attempts_delivery ON delivery_attempts (delivery_id);

-- what is raised once: an alert by its assistant and day, a finished queue by its name
CREATE TABLE IF NOT EXISTS notify_raised (
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    raised_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);
"""

# The ids drawn from a sequence, as (sequence, table, column). A restore loads the rows with their ids (deliveries
# and attempts refer to them), so it moves each sequence past them with `ADVANCE` (DuckDB has no setval).
SEQUENCES = (
    ("notify_destination_id_seq", "notify_destinations", "destination_id"),
    ("delivery_id_seq", "deliveries", "delivery_id"),
    ("delivery_attempt_id_seq", "delivery_attempts", "attempt_id"),
)
ADVANCE = [
    f"SELECT count(nextval('{sequence}')) FROM generate_series(1, (SELECT coalesce(max({column}), 0) FROM {table}))"
    for sequence, table, column in SEQUENCES
]
