"""The import's transaction, as named steps: stage the rows, check them, merge them.

The rows of a file are staged in temporary tables (`_stage_thread`, `_stage_run`, `_stage_event`,
`_stage_feedback`, `_stage_judge`, in `records.STAGES`' columns: `stages.py`). `checks.PREPARE` finds
the threads they touch and what of them is stored, `checks.CHECKS` each name the lines that break a
rule between records or against the store, and `MERGE` writes: keyed (thread_id, run_id, (thread_id,
seq), feedback_id or (run, owner, scope); a judge's verdict by (judge, run, scope), `verdicts.py`), so
importing the same file twice changes nothing. Each step is a `Step` with a name, its SQL (a variant
for engines whose writers meet, PostgreSQL) and its flags; tests replace or observe steps by name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from data_layer import audit, cubes, rollups
from data_layer.errors import DataLayerError
from data_layer.ingest import checks, scores, stages, verdicts, votes
from data_layer.ingest.step import Step
from data_layer.notify import outbox
from data_layer.queues import enter_open_queues

MAX_ERRORS = 1000

# Within a file, the last record of a key wins; for votes, the newest vote of an owner on a target.
_LATEST_THREAD = """(SELECT * FROM (SELECT s.*, row_number() OVER (PARTITION BY thread_id ORDER BY line DESC)
    AS pick FROM _stage_thread s) q WHERE pick = 1)"""
_LATEST_RUN = """(SELECT * FROM (SELECT s.*, row_number() OVER (PARTITION BY run_id ORDER BY line DESC)
    AS pick FROM _stage_run s) q WHERE pick = 1)"""
_LATEST_EVENT = """(SELECT * FROM (SELECT s.*, row_number() OVER (PARTITION BY thread_id, seq ORDER BY line DESC)
    AS pick FROM _stage_event s) q WHERE pick = 1)"""

# The new events. Their messages' words go into the search index (data_layer/search_index.py) with the
# engine's own statements, started just before (`start_index_terms`) and finished before the audit rows:
# only the words of events stored now, so importing a file twice adds none.
_INSERT_EVENTS = """
    INSERT INTO run_events (thread_id, run_id, seq, event_type, category, role, message_id, content, text,
                            tool_calls, tool_call_id, name, metadata, created_at)
    SELECT thread_id, run_id, seq, event_type, category, role, message_id, content, text,
           CAST(tool_calls AS JSON), tool_call_id, name, CAST(metadata AS JSON), created_at
    FROM _new_events
    """
# `_new_events` holds only keys not stored, but two PostgreSQL sessions may import one new thread at
# once. Where writes are serialized (DuckDB) nothing can come between, and the clause, which DuckDB 2.0
# runs as a MERGE with a grouping, would cost 70 ms per 60,000 events for nothing.
_CONCURRENT_EVENTS = " ON CONFLICT DO NOTHING"


def _stored(table: str, columns: str, key: str, keys: str) -> str:
    """A CTE `stored` of the `columns` of the rows of `table` whose `key` is one of `keys` (a query).

    Each NOT EXISTS against a stored table reads it rather than the table: DuckDB runs NOT EXISTS (and
    `IN (SELECT ...)` into a big table) as a join that builds its hash table on the big side, which for
    `run_events` meant all five million events (0.3 s of a 100,000-record import); a join with the
    file's keys builds on the small side.
    """
    selected = ", ".join(f"x.{column}" for column in columns.split(", "))
    return f"""WITH stored AS MATERIALIZED (
        SELECT {selected} FROM {table} x JOIN ({keys}) k ON k.{key} = x.{key}
    )"""


# The file's runs and event threads that may be stored: those of stored threads.
_STORED_RUNS = "SELECT DISTINCT run_id FROM _stage_run WHERE thread_id IN (SELECT thread_id FROM _stored_threads)"
_STORED_EVENT_THREADS = (
    "SELECT DISTINCT thread_id FROM _stage_event WHERE thread_id IN (SELECT thread_id FROM _stored_threads)"
)


MERGE = (
    # The stats cubes' cells of every run the merge may change, before it writes (data_layer/cubes.py).
    Step("cube runs", cubes.MERGE_RUNS),
    *(Step(f"old cells of {cube.table}", sql) for cube, sql in zip(cubes.CUBES, cubes.OLD, strict=True)),
    # Where re-imported runs pointed before: their `followed_up` flag may have to go. (A stored run of the
    # file is in its thread, which is stored: the "run moved" check.)
    Step(
        "old follow-ups",
        f"""
        CREATE TEMP TABLE _follow_old AS
        SELECT follow_up_to_run_id AS run_id FROM runs
        WHERE run_id IN ({_STORED_RUNS}) AND follow_up_to_run_id IS NOT NULL
        """,
    ),
    Step(
        "update threads",
        f"""
        UPDATE threads SET
            assistant_id = coalesce(s.assistant_id, threads.assistant_id),
            owner_id = coalesce(s.owner_id, threads.owner_id),
            display_name = coalesce(s.display_name, threads.display_name),
            status = coalesce(s.status, threads.status),
            metadata = coalesce(CAST(s.metadata AS JSON), threads.metadata),
            created_at = coalesce(s.created_at, threads.created_at),
            updated_at = coalesce(s.updated_at, threads.updated_at)
        FROM {_LATEST_THREAD} s
        WHERE threads.thread_id = s.thread_id
        """,
    ),
    Step(
        "insert threads",
        f"""
        INSERT INTO threads (thread_id, assistant_id, owner_id, display_name, status, metadata, created_at,
                             updated_at)
        {_stored("threads", "thread_id", "thread_id", "SELECT DISTINCT thread_id FROM _stage_thread")}
        SELECT s.thread_id, s.assistant_id, s.owner_id, s.display_name, coalesce(s.status, 'idle'),
               CAST(s.metadata AS JSON),
               coalesce(s.created_at, r.first_run_at, $now),
               coalesce(s.updated_at, r.last_run_at, s.created_at, $now)
        FROM {_LATEST_THREAD} s
        -- a join, not a subquery per thread: PostgreSQL runs a correlated subquery once per row
        LEFT JOIN (SELECT thread_id, min(created_at) AS first_run_at,
                          max(coalesce(updated_at, created_at)) AS last_run_at
                   FROM _stage_run GROUP BY thread_id) r ON r.thread_id = s.thread_id
        WHERE NOT EXISTS (SELECT 1 FROM stored t WHERE t.thread_id = s.thread_id)
        ON CONFLICT DO NOTHING
        """,
    ),
    Step(
        "update runs",
        f"""
        UPDATE runs SET
            assistant_id = coalesce(s.assistant_id, runs.assistant_id),
            owner_id = coalesce(s.owner_id, runs.owner_id),
            status = s.status,
            model_name = coalesce(s.model_name, runs.model_name),
            error = coalesce(s.error, runs.error),
            message_count = coalesce(s.message_count, runs.message_count),
            first_human_message = coalesce(s.first_human_message, runs.first_human_message),
            last_ai_message = coalesce(s.last_ai_message, runs.last_ai_message),
            total_input_tokens = coalesce(s.total_input_tokens, runs.total_input_tokens),
            total_output_tokens = coalesce(s.total_output_tokens, runs.total_output_tokens),
            total_tokens = coalesce(s.total_tokens, runs.total_tokens),
            llm_call_count = coalesce(s.llm_call_count, runs.llm_call_count),
            follow_up_to_run_id = coalesce(s.follow_up_to_run_id, runs.follow_up_to_run_id),
            follow_up_detected = CASE WHEN s.follow_up_to_run_id IS NULL THEN runs.follow_up_detected
                                      ELSE false END,
            metadata = coalesce(CAST(s.metadata AS JSON), runs.metadata),
            created_at = coalesce(s.created_at, runs.created_at),
            updated_at = coalesce(s.updated_at, runs.updated_at)
        FROM (SELECT * FROM {_LATEST_RUN} l WHERE l.thread_id IN (SELECT thread_id FROM _stored_threads)) s
        WHERE runs.run_id = s.run_id
        """,
    ),
    # A re-imported run's votes follow its new status, model, assistant or time (data_layer/rollups.py).
    Step(
        "run copies on votes",
        rollups.copies(_STORED_RUNS),
    ),
    Step(
        "insert runs",
        f"""
        INSERT INTO runs (run_id, thread_id, assistant_id, owner_id, status, model_name, error, message_count,
                          first_human_message, last_ai_message, total_input_tokens, total_output_tokens,
                          total_tokens, llm_call_count, follow_up_to_run_id, metadata, created_at, updated_at)
        {_stored("runs", "run_id", "run_id", _STORED_RUNS)}
        SELECT run_id, thread_id, assistant_id, owner_id, status, model_name, error, message_count,
               first_human_message, last_ai_message, total_input_tokens, total_output_tokens, total_tokens,
               llm_call_count, follow_up_to_run_id, CAST(metadata AS JSON), coalesce(created_at, $now),
               coalesce(updated_at, created_at, $now)
        FROM {_LATEST_RUN} s
        WHERE NOT EXISTS (SELECT 1 FROM stored r WHERE r.run_id = s.run_id)
        ON CONFLICT DO NOTHING
        """,
    ),
    Step(
        "new events",
        f"""
        CREATE TEMP TABLE _new_events AS
        {_stored("run_events", "thread_id, seq", "thread_id", _STORED_EVENT_THREADS)}
        SELECT * FROM {_LATEST_EVENT} s
        WHERE NOT EXISTS (SELECT 1 FROM stored x WHERE x.thread_id = s.thread_id AND x.seq = s.seq)
        """,
    ),
    Step(
        "insert events",
        _INSERT_EVENTS,
        concurrent_sql=_INSERT_EVENTS + _CONCURRENT_EVENTS,
        starts_index=True,
    ),
    # Votes: newest per (run, owner, scope) in the file; a stored vote of the same owner on the same
    # target is updated in place (its id kept), as a second vote upstream replaces the first.
    Step(
        "votes",
        votes.CREATE_VOTES,
    ),
    Step(
        "changing votes",
        votes.CHANGING_VOTES,
    ),
    Step(
        "update votes",
        votes.UPDATE_VOTES,
        when_votes_change=True,
    ),
    # One row per id instead of ON CONFLICT DO NOTHING: on DuckDB that clause takes 52 s for 25,000
    # votes against a million stored ones (0.6 s without), see docs/benchmarks.md.
    # A new vote takes its run's copies (the runs are merged above).
    Step(
        "written votes",
        """
        CREATE TEMP TABLE _written AS
        SELECT v.target_id AS feedback_id, v.thread_id, v.run_id, v.owner_id, v.message_id, v.scope, v.rating,
               v.comment, v.tags, v.source, coalesce(v.created_at, $now) AS created_at,
               coalesce(v.updated_at, v.created_at, $now) AS updated_at, r.created_at AS run_at,
               r.assistant_id AS run_assistant_id, r.model_name AS run_model_name, r.status AS run_status
        FROM (SELECT v.*, row_number() OVER (PARTITION BY target_id ORDER BY line DESC) AS once FROM _votes v) v
        JOIN runs r ON r.run_id = v.run_id
        WHERE v.once = 1 AND NOT EXISTS (SELECT 1 FROM _stored_votes f WHERE f.feedback_id = v.target_id)
        """,
    ),
    Step(
        "insert votes",
        f"INSERT INTO feedback ({votes.WRITTEN}) SELECT {votes.WRITTEN} FROM _written",
    ),
    Step(
        "written updates",
        votes.WRITTEN_UPDATES,
        when_votes_change=True,
    ),
    Step(
        "run tallies",
        rollups.tallies("SELECT DISTINCT run_id FROM _stage_feedback"),
    ),
    Step(
        "touched runs",
        """
        CREATE TEMP TABLE _touched_runs AS
        SELECT run_id FROM _stage_run UNION SELECT run_id FROM _stage_event
        """,
    ),
    # Threads named only by their runs get a row of their own, so that every run can be browsed.
    Step(
        "threads of runs",
        f"""
        INSERT INTO threads (thread_id, assistant_id, status, created_at, updated_at)
        {_stored("threads", "thread_id", "thread_id", "SELECT thread_id FROM _touched")}
        SELECT t.thread_id, min(r.assistant_id), 'idle', coalesce(min(r.created_at), $now),
               coalesce(max(r.updated_at), $now)
        FROM _touched t LEFT JOIN runs r ON r.thread_id = t.thread_id
        WHERE NOT EXISTS (SELECT 1 FROM stored x WHERE x.thread_id = t.thread_id)
        GROUP BY t.thread_id
        ON CONFLICT DO NOTHING
        """,
    ),
    # Follow-up detection, after every run of the file is stored (upstream ran it too early).
    Step(
        "detect follow-ups",
        """
        UPDATE runs SET follow_up_to_run_id = d.detected, follow_up_detected = d.detected IS NOT NULL
        FROM (
            SELECT run_id,
                   CASE WHEN lag(status) OVER w = 'success' THEN lag(run_id) OVER w END AS detected
            FROM runs
            WHERE thread_id IN (SELECT thread_id FROM _touched)
            WINDOW w AS (PARTITION BY thread_id ORDER BY created_at, run_id)
        ) d
        WHERE runs.run_id = d.run_id
          AND (runs.follow_up_to_run_id IS NULL OR runs.follow_up_detected)
          AND runs.follow_up_to_run_id IS DISTINCT FROM d.detected
        """,
    ),
    # Follow-ups change only in the touched threads, pointing at their runs or, explicitly given, elsewhere.
    Step(
        "followed-up flags",
        rollups.followed_up(
            """
            SELECT run_id FROM runs WHERE thread_id IN (SELECT thread_id FROM _touched)
            UNION SELECT follow_up_to_run_id FROM runs
                  WHERE thread_id IN (SELECT thread_id FROM _touched) AND follow_up_to_run_id IS NOT NULL
            UNION SELECT run_id FROM _follow_old
            """
        ),
    ),
    # A run's message summary comes from its events when it has them.
    Step(
        "message summaries",
        """
        UPDATE runs SET
            message_count = m.message_count,
            first_human_message = coalesce(m.first_human, runs.first_human_message),
            last_ai_message = coalesce(m.last_ai, runs.last_ai_message)
        FROM (
            SELECT e.run_id,
                   count(*) AS message_count,
                   (array_agg(e.text ORDER BY e.seq) FILTER (WHERE e.role = 'human'))[1] AS first_human,
                   (array_agg(e.text ORDER BY e.seq DESC) FILTER (WHERE e.role = 'ai' AND e.text <> ''))[1]
                       AS last_ai
            FROM (
                SELECT run_id, seq, role, text FROM run_events
                WHERE thread_id IN (SELECT thread_id FROM _stored_threads)
                  AND run_id IN (SELECT run_id FROM _touched_runs) AND category = 'message'
                -- a thread new to the store holds only the file's new events
                UNION ALL
                SELECT run_id, seq, role, text FROM _new_events
                WHERE thread_id NOT IN (SELECT thread_id FROM _stored_threads) AND category = 'message'
            ) e
            GROUP BY e.run_id
        ) m
        WHERE runs.run_id = m.run_id
          AND (runs.message_count IS DISTINCT FROM m.message_count
               OR runs.first_human_message IS DISTINCT FROM coalesce(m.first_human, runs.first_human_message)
               OR runs.last_ai_message IS DISTINCT FROM coalesce(m.last_ai, runs.last_ai_message))
        """,
    ),
    Step(
        "thread rollups",
        rollups.REFRESH_THREADS,
    ),
    # The cubes move by the difference between those runs' cells now, with the file's new runs, and before.
    Step("new runs in cubes", cubes.NEW_RUNS),
    *(Step(f"new cells of {cube.table}", sql) for cube, sql in zip(cubes.CUBES, cubes.NEW, strict=True)),
)


class Rejected(DataLayerError):
    """The file breaks a rule: every bad line (the first MAX_ERRORS) and how many more."""

    def __init__(self, errors: list[dict], more: int):
        super().__init__("import rejected")
        self.errors = errors
        self.more = more


# The runs an import may put in a queue: its runs, and the runs of its votes (a complaint selects its run).
_ARRIVALS = "SELECT run_id FROM _stage_run UNION SELECT run_id FROM _stage_feedback"


def _no_index_fill(conn) -> None:
    """What finishes the search-index fill of a merge that started none."""


def check_and_merge(conn, engine, read_errors: list[dict], more: int, actor) -> None:
    """Check the staged rows against each other and the store, then merge them: one attempt of the
    import's transaction, which changes nothing outside it, so that a retry starts from the same state.
    `Rejected` with every bad line, those the reader found (`read_errors`, `more` beyond them) first."""
    for step in checks.PREPARE:
        conn.execute(step.text(conn))
        if step.locks:
            conn.lock_threads(step.locks)
    found = [
        {"line": int(row["line"]), "error": row["error"]}
        for step in (*checks.CHECKS, *verdicts.CHECKS)
        for row in conn.all(step.text(conn) + " ORDER BY 1")
    ]
    if read_errors or found:
        everything = sorted(read_errors + found, key=lambda error: error["line"])
        raise Rejected(everything[:MAX_ERRORS], more + max(0, len(everything) - MAX_ERRORS))
    now = datetime.now(UTC)
    changes = None
    finish_index: Callable[..., None] = _no_index_fill
    for step in (*MERGE, *verdicts.MERGE):
        if step.when_votes_change:
            if changes is None:
                changes = conn.scalar("SELECT count(*) FROM _changing WHERE NOT created")
            if not changes:
                continue
        if step.starts_index:
            finish_index = engine.start_index_terms(conn, "_new_events")
        sql = step.text(conn)
        conn.execute(sql, {"now": now} if "$now" in sql else None)
    finish_index(conn)
    enter_open_queues(conn, engine, _ARRIVALS, now)
    bad_scores = scores.merge(conn, now)  # once the file's runs are in their queues, whose rubrics define them
    if bad_scores:
        raise Rejected(bad_scores[:MAX_ERRORS], max(0, len(bad_scores) - MAX_ERRORS))
    audit.record_import(conn, engine, actor=actor, at=now, scores=bad_scores is not None)
    conn.execute(verdicts.audit_sql(engine), {"changed_at": now, "actor_id": actor.user_id, "actor_role": actor.role})
    outbox.import_written(conn, engine, now)
    stages.drop(conn)
