"""The tables of the review queues (schema step 11): queues, their items, and the adjudications.

Each statement may run again (IF NOT EXISTS), as a step re-applied after a rewind of the version does.
"""

TABLES_SQL = """
-- a queue as its admin defined it (data_layer/queues/spec.py), selection and assignees as JSON text
CREATE TABLE IF NOT EXISTS queues (
    name               TEXT PRIMARY KEY,
    instructions       TEXT NOT NULL,
    selection          TEXT NOT NULL,
    sample_rate        DOUBLE PRECISION NOT NULL,
    reviewers_per_item INTEGER NOT NULL,
    blind              BOOLEAN NOT NULL,
    seed               BIGINT NOT NULL,
    assignees          TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    created_by         TEXT NOT NULL,
    closed_at          TIMESTAMPTZ
);

-- the runs in each queue, why they entered and with what probability (data_layer/queues/membership.py)
CREATE TABLE IF NOT EXISTS queue_items (
    queue_name            TEXT NOT NULL,
    run_id                TEXT NOT NULL,
    thread_id             TEXT NOT NULL,
    reason                TEXT NOT NULL CHECK (reason IN ('sampled', 'selected', 'both')),
    inclusion_probability DOUBLE PRECISION,
    entered_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (queue_name, run_id)
);
CREATE INDEX IF NOT EXISTS queue_items_run ON queue_items (run_id);
CREATE INDEX IF NOT EXISTS queue_items_thread ON queue_items (thread_id);

-- a lead's final verdict on a run the reviewers split on, which every estimate takes over the
-- consensus, and the append-only log of every such decision (who, when, what it replaced)
CREATE TABLE IF NOT EXISTS adjudications (
    run_id     TEXT PRIMARY KEY,
    verdict    TEXT NOT NULL CHECK (verdict IN ('good', 'bad')),
    note       TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS adjudication_log_id_seq;
CREATE TABLE IF NOT EXISTS adjudication_log (
    id          BIGINT NOT NULL DEFAULT nextval('adjudication_log_id_seq') PRIMARY KEY,
    run_id      TEXT NOT NULL,
    queue_name  TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    old_verdict TEXT,
    note        TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL
)
"""

# Schema step 12: a queue's rubric (data_layer/queues/rubric.py, JSON text of its criteria) and the scores
# votes give its criteria, one row per vote and criterion (data_layer/scores.py). A vote's scores are
# replaced as a whole, deleted with the vote, and carry the kind so the stats need no rubric. No unique
# key: the one writer (scores.replace) deletes a vote's rows before inserting them, in the vote's
# transaction, and a DuckDB unique key refuses a key deleted and inserted again in one transaction.
SCORES_SQL = """
ALTER TABLE queues ADD COLUMN IF NOT EXISTS rubric TEXT;
CREATE TABLE IF NOT EXISTS vote_scores (
    feedback_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    criterion   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('binary', 'ordinal', 'categorical')),
    value       TEXT NOT NULL,
    number      DOUBLE PRECISION,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS vote_scores_vote ON vote_scores (feedback_id);
CREATE INDEX IF NOT EXISTS vote_scores_run ON vote_scores (run_id)
"""
