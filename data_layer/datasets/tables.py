"""The tables of evaluation datasets (schema step 16): each snapshot's definition and counts, and its files' bytes.

A snapshot is a name and a version; both tables are only ever inserted into, in one transaction per
snapshot, so a name and version once written never changes and is never half there. The files are kept
in the database, cut in parts of at most `datasets.files.PART` bytes, rather than in a directory beside
it: every replica on a shared PostgreSQL serves the same bytes, a backup holds them with the rest, and no
file can outlive or miss its row.
"""

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS datasets (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    verdict    TEXT NOT NULL,
    filters    TEXT NOT NULL,
    queue_name TEXT,
    items      INTEGER NOT NULL,
    counts     TEXT NOT NULL,
    files      TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS dataset_files (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    format  TEXT NOT NULL CHECK (format IN ('jsonl', 'parquet', 'card')),
    part    INTEGER NOT NULL,
    bytes   BYTEA NOT NULL,
    PRIMARY KEY (name, version, format, part)
)
"""
