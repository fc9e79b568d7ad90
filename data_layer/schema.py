"""The schema, created and migrated by code: a version table and ordered migration steps.

Each step is SQL both engines accept; what an engine adds to a step (index types, full-text search)
lives with the engine (`Engine.migration_sql`, by step version). `migrate()` applies the missing steps in
order, each in its own transaction, and records them in `schema_version`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from data_layer import cubes, search_index
from data_layer.corrections import TABLES_SQL as CORRECTION_TABLES_SQL
from data_layer.datasets.tables import TABLES_SQL as DATASET_TABLES_SQL
from data_layer.judges.tables import TABLES_SQL as JUDGE_TABLES_SQL
from data_layer.notify.tables import TABLES_SQL as NOTIFY_TABLES_SQL
from data_layer.queues.tables import SCORES_SQL, TABLES_SQL

if TYPE_CHECKING:
    from data_layer.engines import Engine

RUN_STATUSES = ("pending", "running", "success", "error", "timeout", "interrupted")
ReasonTag = Literal["incorrect", "not_as_expected", "slow", "style_tone", "safety_legal", "other"]
FeedbackSource = Literal["reviewer", "end_user"]
REASON_TAGS: tuple[ReasonTag, ...] = get_args(ReasonTag)
FEEDBACK_SOURCES: tuple[FeedbackSource, ...] = get_args(FeedbackSource)


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    sql: str

    def for_engine(self, engine: Engine) -> str:
        """The step's script on `engine`: the shared SQL, then the engine's own statements of this step."""
        return self.sql + "\n" + engine.migration_sql.get(self.version, "")


_STATUS_LIST = ", ".join(f"'{status}'" for status in RUN_STATUSES)
_SOURCE_LIST = ", ".join(f"'{source}'" for source in FEEDBACK_SOURCES)


STEPS: tuple[Step, ...] = (
    Step(
        1,
        "threads, runs, run events, feedback",
        f"""
        CREATE TABLE threads (
            thread_id        TEXT PRIMARY KEY,
            assistant_id     TEXT,
            owner_id         TEXT,
            display_name     TEXT,
            status           TEXT NOT NULL DEFAULT 'idle',
            metadata         JSON,
            created_at       TIMESTAMPTZ NOT NULL,
            updated_at       TIMESTAMPTZ NOT NULL,
            -- rollups, kept current by every write that changes them (threads page sorts on them)
            title            TEXT,
            run_count        INTEGER NOT NULL DEFAULT 0,
            last_activity_at TIMESTAMPTZ,
            positive         INTEGER NOT NULL DEFAULT 0,
            negative         INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE runs (
            run_id              TEXT PRIMARY KEY,
            thread_id           TEXT NOT NULL,
            assistant_id        TEXT,
            owner_id            TEXT,
            status              TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
            model_name          TEXT,
            error               TEXT,
            message_count       INTEGER,
            first_human_message TEXT,
            last_ai_message     TEXT,
            total_input_tokens  BIGINT,
            total_output_tokens BIGINT,
            total_tokens        BIGINT,
            llm_call_count      INTEGER,
            follow_up_to_run_id TEXT,
            follow_up_detected  BOOLEAN NOT NULL DEFAULT false,
            metadata            JSON,
            created_at          TIMESTAMPTZ NOT NULL,
            updated_at          TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX runs_thread ON runs (thread_id);

        CREATE SEQUENCE run_events_id_seq;
        CREATE TABLE run_events (
            id           BIGINT NOT NULL DEFAULT nextval('run_events_id_seq'),
            thread_id    TEXT NOT NULL,
            run_id       TEXT NOT NULL,
            seq          BIGINT NOT NULL,
            event_type   TEXT NOT NULL,
            category     TEXT NOT NULL,
            role         TEXT,
            message_id   TEXT,
            content      TEXT,
            text         TEXT,
            tool_calls   JSON,
            tool_call_id TEXT,
            name         TEXT,
            metadata     JSON,
            created_at   TIMESTAMPTZ,
            UNIQUE (thread_id, seq)
        );
        CREATE INDEX run_events_run ON run_events (run_id);

        CREATE TABLE feedback (
            feedback_id TEXT PRIMARY KEY,
            thread_id   TEXT NOT NULL,
            run_id      TEXT NOT NULL,
            owner_id    TEXT,
            message_id  TEXT,
            -- '' for a vote on the whole run, else the message id: NULLs in a UNIQUE
            -- constraint are distinct, so the scope must never be NULL
            scope       TEXT NOT NULL,
            rating      SMALLINT NOT NULL CHECK (rating IN (1, -1)),
            comment     TEXT,
            tags        TEXT[] NOT NULL,
            source      TEXT NOT NULL CHECK (source IN ({_SOURCE_LIST})),
            created_at  TIMESTAMPTZ NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL,
            -- owner_id NULL (anonymous) never collides, so anonymous votes may repeat
            UNIQUE (run_id, owner_id, scope)
        );
        CREATE INDEX feedback_thread ON feedback (thread_id);
        """,
    ),
    Step(
        2,
        "review queue claims and skips",
        """
        -- one reviewer holds a run for a few minutes so two reviewers are not handed the same run
        CREATE TABLE review_claims (
            run_id     TEXT PRIMARY KEY,
            owner_id   TEXT NOT NULL,
            claimed_at TIMESTAMPTZ NOT NULL
        );

        -- a skipped run goes to the back of that reviewer's queue
        CREATE TABLE review_skips (
            run_id     TEXT NOT NULL,
            owner_id   TEXT NOT NULL,
            skipped_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (run_id, owner_id)
        );
        """,
    ),
    Step(
        3,
        "import high-water marks",
        """
        -- how far an incremental import from a live source (a deer-flow gateway database) has read:
        -- per source and upstream table, the largest change time or id seen, as text
        CREATE TABLE import_marks (
            source      TEXT NOT NULL,
            table_name  TEXT NOT NULL,
            mark        TEXT NOT NULL,
            imported_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (source, table_name)
        );
        """,
    ),
    Step(
        4,
        "single-column lookup indexes for DuckDB",
        "",
    ),
    Step(
        5,
        "trigram indexes for message search on PostgreSQL",
        "",
    ),
    Step(
        6,
        "feedback audit trail",
        """
        -- append-only: one row per create, update, retract or delete of a vote, written in the same
        -- transaction as the change. Nothing refers to the vote, so a deleted vote keeps its history.
        CREATE SEQUENCE feedback_audit_id_seq;
        CREATE TABLE feedback_audit (
            id          BIGINT NOT NULL DEFAULT nextval('feedback_audit_id_seq') PRIMARY KEY,
            changed_at  TIMESTAMPTZ NOT NULL,
            actor_id    TEXT,
            actor_role  TEXT,
            action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'retract', 'delete')),
            feedback_id TEXT NOT NULL,
            thread_id   TEXT NOT NULL,
            run_id      TEXT NOT NULL,
            old_value   JSON,
            new_value   JSON
        );
        CREATE INDEX feedback_audit_feedback ON feedback_audit (feedback_id);
        CREATE INDEX feedback_audit_thread ON feedback_audit (thread_id);
        CREATE INDEX feedback_audit_changed_at ON feedback_audit (changed_at);
        """,
    ),
    Step(
        7,
        "message search index",
        """
        -- the lower-cased words of every message, one row per (word, thread) and import. Replaced by step 9,
        -- which drops it: a store still on this step fills the new index there, so nothing fills this one.
        CREATE TABLE message_terms (
            term      TEXT NOT NULL,
            thread_id TEXT NOT NULL
        );
        """,
    ),
)


@dataclass(frozen=True)
class _RollupsStep(Step):
    """Step 8: the precomputed columns of `data_layer.rollups`, filled from the stored rows with its
    `REFRESH` statements (imported only when the step runs). An engine that alters no table a CREATE INDEX
    depends on (DuckDB: `Engine.alters_only_unindexed`) has those indexes dropped first and built again
    after the fill."""

    indexes: tuple[str, ...] = ()

    def for_engine(self, engine: Engine) -> str:
        rollups = importlib.import_module("data_layer.rollups")
        fill = ";\n".join(rollups.REFRESH)
        if not engine.alters_only_unindexed:
            return f"{self.sql};\n{fill}"
        drop = ";\n".join(f"DROP INDEX IF EXISTS {index.split()[0]}" for index in self.indexes)
        create = ";\n".join(f"CREATE INDEX IF NOT EXISTS {index}" for index in self.indexes)
        return f"{drop};\n{self.sql};\n{fill};\n{create}"


STEPS += (
    _RollupsStep(
        8,
        "stats rollups: run copies on votes, vote tallies and follow-up flag on runs",
        """
        -- each stats aggregate scans one table instead of joining a million votes with a million runs
        -- (docs/benchmarks.md), and data_layer/rollups.py says what keeps each column current.
        -- IF NOT EXISTS so that the step can run again, and so no NOT NULL (DuckDB refuses the two together).
        ALTER TABLE feedback ADD COLUMN IF NOT EXISTS run_at TIMESTAMPTZ;
        ALTER TABLE feedback ADD COLUMN IF NOT EXISTS run_assistant_id TEXT;
        ALTER TABLE feedback ADD COLUMN IF NOT EXISTS run_model_name TEXT;
        ALTER TABLE feedback ADD COLUMN IF NOT EXISTS run_status TEXT;
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS reviewer_positive INTEGER DEFAULT 0;
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS reviewer_negative INTEGER DEFAULT 0;
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS end_user_positive INTEGER DEFAULT 0;
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS end_user_negative INTEGER DEFAULT 0;
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS panel_positive INTEGER DEFAULT 0;
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS panel_negative INTEGER DEFAULT 0;
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS followed_up BOOLEAN DEFAULT false
        """,
        indexes=(
            "runs_thread ON runs (thread_id)",
            "feedback_thread ON feedback (thread_id)",
            "feedback_run ON feedback (run_id)",
        ),
    ),
)


@dataclass(frozen=True)
class _SearchStep(Step):
    """Step 9: the search index of `data_layer.search_index`, filled from the stored messages with the
    engine's own statements (`Engine.index_terms_sql`) under the engine's settings for a bulk fill; the
    engine's own statements of the step (PostgreSQL's indexes) run after the fill."""

    def for_engine(self, engine: Engine) -> str:
        fill = ";\n".join(engine.index_terms_sql("run_events"))
        script = f"{self.sql};\n{search_index.TABLES_SQL};\n{fill};\n{engine.migration_sql.get(self.version, '')}"
        return engine.bulk_fill(script)


STEPS += (
    _SearchStep(
        9,
        "message search index by word id, with adjacent word pairs",
        """
        -- a one-word search scanned 21 million (word, thread) rows and a phrase every text: the new index
        -- scans the vocabulary once and reads the postings of the few matching ids (docs/benchmarks.md)
        DROP TABLE IF EXISTS message_terms
        """,
    ),
)

STEPS += (
    Step(
        10,
        "vote tallies by source on threads",
        """
        -- the threads list shows and filters end users' and reviewers' votes apart, and data_layer/rollups.py
        -- keeps these columns current. The fill is written out here, not taken from rollups, so the step
        -- stays as it shipped.
        ALTER TABLE threads ADD COLUMN IF NOT EXISTS reviewer_positive INTEGER DEFAULT 0;
        ALTER TABLE threads ADD COLUMN IF NOT EXISTS reviewer_negative INTEGER DEFAULT 0;
        ALTER TABLE threads ADD COLUMN IF NOT EXISTS end_user_positive INTEGER DEFAULT 0;
        ALTER TABLE threads ADD COLUMN IF NOT EXISTS end_user_negative INTEGER DEFAULT 0;
        UPDATE threads SET
            reviewer_positive = f.reviewer_positive,
            reviewer_negative = f.reviewer_negative,
            end_user_positive = f.end_user_positive,
            end_user_negative = f.end_user_negative
        FROM (
            SELECT thread_id,
                   count(*) FILTER (WHERE source = 'reviewer' AND rating = 1) AS reviewer_positive,
                   count(*) FILTER (WHERE source = 'reviewer' AND rating = -1) AS reviewer_negative,
                   count(*) FILTER (WHERE source = 'end_user' AND rating = 1) AS end_user_positive,
                   count(*) FILTER (WHERE source = 'end_user' AND rating = -1) AS end_user_negative
            FROM feedback GROUP BY thread_id
        ) f
        WHERE threads.thread_id = f.thread_id
        """,
    ),
    Step(
        11,
        "review queues, their items and adjudications",
        TABLES_SQL,
    ),
    Step(
        12,
        "rubrics on queues, and the scores of votes",
        SCORES_SQL,
    ),
    Step(13, "LLM judges' verdicts", JUDGE_TABLES_SQL),
    Step(
        14,
        "notifications: destinations, outbox, deliveries and their attempts",
        NOTIFY_TABLES_SQL,
    ),
    Step(15, "corrected answers written beside votes", CORRECTION_TABLES_SQL),
    Step(16, "evaluation datasets: snapshots and their files", DATASET_TABLES_SQL),
    Step(17, "indexes for the threads page and the stats at the large scale on PostgreSQL", ""),
    Step(18, "stats counts kept on write: votes, negative tags and runs per day", cubes.STEP_SQL),
)

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def _statements(script: str) -> list[str]:
    """The statements of a script, split at semicolons outside `$$`-quoted bodies (PostgreSQL's DO blocks)."""
    statements: list[str] = []
    current: list[str] = []
    quoted = False
    for piece in re.split(r"(\$\$|;)", script):
        if piece == "$$":
            quoted = not quoted
        if piece == ";" and not quoted:
            statements.append("".join(current))
            current = []
        else:
            current.append(piece)
    statements.append("".join(current))
    # A piece holding only comments is no statement (DuckDB would answer it with no result at all).
    return [statement.strip() for statement in statements if _without_comments(statement).strip()]


def _without_comments(statement: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in statement.splitlines())


def current_version(engine: Engine) -> int:
    def read(conn):
        conn.execute(_VERSION_TABLE)
        return conn.scalar("SELECT coalesce(max(version), 0) FROM schema_version")

    return engine.write(read)


def migrate(engine: Engine) -> int:
    """Apply every step newer than the stored version; return the version reached.

    On a shared server several processes may start at once: the engine's `exclusive()` (PostgreSQL's
    advisory lock) lets one migrate while the others wait.
    """
    with engine.exclusive():
        return _migrate(engine)


def _migrate(engine: Engine) -> int:
    version = current_version(engine)
    for step in STEPS:
        if step.version <= version:
            continue

        def apply(conn, step=step):
            if conn.scalar("SELECT count(*) FROM schema_version WHERE version = $v", {"v": step.version}):
                return  # another process applied it first
            for statement in _statements(step.for_engine(engine)):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES ($v, $name)",
                {"v": step.version, "name": step.name},
            )

        engine.write(apply)
        version = step.version
    return version
