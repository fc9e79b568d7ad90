"""The import's merge, as named steps: check the staged rows against each other and the store, then
merge them in one transaction.

The rows of a file are staged in temporary tables (`_stage_thread`, `_stage_run`, `_stage_event`,
`_stage_feedback`, in `records.STAGES`' columns). `PREPARE` finds the threads they touch and what of
them is stored, `CHECKS` each name the lines that break a rule between records or against the store,
and `MERGE` writes: keyed (thread_id, run_id, (thread_id, seq), feedback_id or (run, owner, scope)), so
importing the same file twice changes nothing. Each step is a `Step` with a name, its SQL (a variant
for engines whose writers meet, PostgreSQL) and its flags; tests replace or observe steps by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from data_layer import audit, rollups
from data_layer.errors import DataLayerError
from data_layer.ingest.records import STAGES, Staged

MAX_ERRORS = 1000


@dataclass(frozen=True)
class Step:
    """One statement of the import, by name.

    `sql` runs where writes are serialized in the process (DuckDB), and everywhere unless
    `concurrent_sql` gives the text for engines whose writers meet (PostgreSQL). A step
    `when_votes_change` runs only when the file creates or changes a stored vote's value; before a
    step that `starts_index`, the new messages' words start being worked out for the search index;
    after a step that `locks`, the threads that query names are locked (`conn.lock_threads`).
    """

    name: str
    sql: str
    concurrent_sql: str | None = None
    when_votes_change: bool = False
    starts_index: bool = False
    locks: str | None = None

    def text(self, conn) -> str:
        return self.sql if self.concurrent_sql is None or conn.writes_serialized else self.concurrent_sql


CHECKS = (
    Step(
        "run moved",
        """
        SELECT s.line, 'run ' || s.run_id || ' belongs to thread ' || r.thread_id
               || ' in the database, not ' || s.thread_id AS error
        FROM _stage_run s JOIN runs r ON r.run_id = s.run_id
        WHERE r.thread_id <> s.thread_id
        """,
    ),
    Step(
        "run twice",
        """
        SELECT s.line, 'run ' || s.run_id || ' appears in this file with two threads' AS error
        FROM _stage_run s JOIN _stage_run o ON o.run_id = s.run_id AND o.thread_id <> s.thread_id
        WHERE s.line > o.line
        """,
    ),
    Step(
        "event run",
        """
        SELECT e.line, 'event for run ' || e.run_id || ' which is neither in this file nor in the database'
               AS error
        FROM _stage_event e
        WHERE NOT EXISTS (SELECT 1 FROM _stage_run s WHERE s.run_id = e.run_id)
          AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = e.run_id)
        """,
    ),
    Step(
        "event thread",
        """
        SELECT e.line, 'event names thread ' || e.thread_id || ' but run ' || e.run_id
               || ' belongs to thread ' || coalesce(s.thread_id, r.thread_id) AS error
        FROM _stage_event e
        LEFT JOIN _stage_run s ON s.run_id = e.run_id
        LEFT JOIN runs r ON r.run_id = e.run_id
        WHERE coalesce(s.thread_id, r.thread_id) <> e.thread_id
        """,
    ),
    Step(
        "event seq",
        """
        SELECT e.line, 'seq ' || CAST(e.seq AS TEXT) || ' of thread ' || e.thread_id
               || ' is already taken by another event' AS error
        FROM (SELECT * FROM _stage_event WHERE thread_id IN (SELECT thread_id FROM _stored_threads)) e
        JOIN run_events x ON x.thread_id = e.thread_id AND x.seq = e.seq
        WHERE x.run_id <> e.run_id OR x.event_type <> e.event_type
        """,
    ),
    Step(
        "feedback run",
        """
        SELECT f.line, 'feedback for run ' || f.run_id || ' which is neither in this file nor in the database'
               AS error
        FROM _stage_feedback f
        WHERE NOT EXISTS (SELECT 1 FROM _stage_run s WHERE s.run_id = f.run_id)
          AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = f.run_id)
        """,
    ),
    Step(
        "feedback thread",
        """
        SELECT f.line, 'feedback names thread ' || f.thread_id || ' but run ' || f.run_id
               || ' belongs to thread ' || coalesce(s.thread_id, r.thread_id) AS error
        FROM _stage_feedback f
        LEFT JOIN _stage_run s ON s.run_id = f.run_id
        LEFT JOIN runs r ON r.run_id = f.run_id
        WHERE coalesce(s.thread_id, r.thread_id) <> f.thread_id
        """,
    ),
    Step(
        "feedback message",
        """
        SELECT f.line, 'feedback names message ' || f.message_id || ' which is not a message of run '
               || f.run_id AS error
        FROM _stage_feedback f
        WHERE f.message_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM _stage_event e WHERE e.run_id = f.run_id
                          AND e.message_id = f.message_id)
          AND NOT EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = f.run_id
                          AND e.message_id = f.message_id AND e.category = 'message')
        """,
    ),
    Step(
        "feedback moved",
        """
        SELECT f.line, 'feedback ' || f.feedback_id || ' is stored for another run, owner or message'
               AS error
        FROM _stage_feedback f JOIN _stored_votes x ON x.feedback_id = f.feedback_id
        WHERE x.run_id <> f.run_id OR x.scope <> f.scope
           OR coalesce(x.owner_id, '') <> coalesce(f.owner_id, '')
        """,
    ),
)

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

# The stored votes the file's votes can meet: a vote on one of the file's runs (those of stored threads
# only: a vote's run belongs to its thread, the "feedback thread" check), or one with an id the file
# names. An id derived from the vote (`_feedback`) is made from its thread, run, owner and message, so a
# vote stored with it is on the same run and among that run's votes. (A file that took such an id by
# naming it on another run makes the later vote's insert fail on the id's key: nothing is stored.) Read
# once, so that the checks and statements below join this small table instead of a million stored
# votes each. Made after the touched threads are locked, as every vote write locks its thread first.
_STORED_VOTES = """
    CREATE TEMP TABLE _stored_votes AS
    SELECT f.feedback_id, f.run_id, f.owner_id, f.message_id, f.scope, f.rating, f.comment, f.tags, f.source,
           f.created_at, f.updated_at
    FROM feedback f JOIN (SELECT DISTINCT feedback_id FROM _stage_feedback WHERE given_id) k
         ON k.feedback_id = f.feedback_id
    UNION
    SELECT f.feedback_id, f.run_id, f.owner_id, f.message_id, f.scope, f.rating, f.comment, f.tags, f.source,
           f.created_at, f.updated_at
    FROM feedback f JOIN (SELECT DISTINCT run_id FROM _stage_feedback
                          WHERE thread_id IN (SELECT thread_id FROM _stored_threads)) k ON k.run_id = f.run_id
    """

_CREATE_VOTES = """
    CREATE TEMP TABLE _votes AS
    SELECT q.*, coalesce(byid.feedback_id, bykey.feedback_id, q.new_id) AS target_id
    FROM (
        SELECT s.feedback_id AS new_id, s.thread_id, s.run_id, s.owner_id, s.message_id, s.scope, s.rating,
               s.comment, s.tags, s.source, s.created_at, s.updated_at, s.line,
               row_number() OVER (PARTITION BY CASE WHEN s.owner_id IS NULL THEN s.feedback_id
                                                    ELSE s.run_id || '|' || s.owner_id || '|' || s.scope END
                                  ORDER BY coalesce(s.updated_at, s.created_at) DESC NULLS LAST, s.line DESC)
                   AS pick
        FROM _stage_feedback s
    ) q
    LEFT JOIN _stored_votes byid ON byid.feedback_id = q.new_id
    LEFT JOIN _stored_votes bykey ON q.owner_id IS NOT NULL AND bykey.run_id = q.run_id
         AND bykey.owner_id = q.owner_id AND bykey.scope = q.scope
    WHERE q.pick = 1
    """

# Stored votes the file changes. It runs only when `_CHANGING_VOTES` found one: on DuckDB the join reads
# every column of all stored votes (0.1 to 0.2 s at a million) even when it changes none.
_UPDATE_VOTES = """
    UPDATE feedback SET
        rating = v.rating,
        comment = v.comment,
        tags = v.tags,
        source = v.source,
        updated_at = coalesce(v.updated_at, v.created_at, feedback.updated_at)
    FROM _votes v
    WHERE feedback.feedback_id = v.target_id
      AND (feedback.rating <> v.rating OR feedback.comment IS DISTINCT FROM v.comment
           OR feedback.tags <> v.tags OR feedback.source <> v.source)
    """

# `_written` holds the votes the import creates, then those it changes (as stored after the change):
# the audit rows' values after (audit.record_import), without reading the million stored votes again.
_WRITTEN = """feedback_id, thread_id, run_id, owner_id, message_id, scope, rating, comment, tags, source, created_at,
    updated_at, run_at, run_assistant_id, run_model_name, run_status"""
_WRITTEN_UPDATES = f"""
    INSERT INTO _written ({_WRITTEN})
    SELECT {_WRITTEN} FROM feedback WHERE feedback_id IN (SELECT feedback_id FROM _changing WHERE NOT created)
    """

# The votes this import will create or change, with their stored values before the merge (audit trail).
_CHANGING_VOTES = """
CREATE TEMP TABLE _changing AS
SELECT v.target_id AS feedback_id, f.feedback_id IS NULL AS created,
       f.owner_id, f.message_id, f.rating, f.comment, f.tags, f.source, f.created_at, f.updated_at
FROM _votes v LEFT JOIN _stored_votes f ON f.feedback_id = v.target_id
WHERE f.feedback_id IS NULL OR f.rating <> v.rating OR f.comment IS DISTINCT FROM v.comment
   OR f.tags <> v.tags OR f.source <> v.source
"""

# The threads page's rollups of every thread in `_touched`, from its runs and votes (the benchmark's
# generator runs it too, over every thread).
REFRESH_THREADS = """
    UPDATE threads SET
        run_count = coalesce(r.run_count, 0),
        last_activity_at = coalesce(r.last_run_at, threads.updated_at),
        assistant_id = coalesce(threads.assistant_id, r.assistant_id),
        title = left(coalesce(threads.display_name, r.first_question, threads.title), 300),
        positive = coalesce(f.positive, 0),
        negative = coalesce(f.negative, 0)
    FROM _touched t
    LEFT JOIN (
        SELECT thread_id, count(*) AS run_count, max(updated_at) AS last_run_at,
               (array_agg(assistant_id ORDER BY created_at))[1] AS assistant_id,
               (array_agg(first_human_message ORDER BY created_at)
                    FILTER (WHERE first_human_message IS NOT NULL))[1] AS first_question
        FROM runs WHERE thread_id IN (SELECT thread_id FROM _touched) GROUP BY thread_id
    ) r ON r.thread_id = t.thread_id
    LEFT JOIN (
        SELECT thread_id, count(*) FILTER (WHERE rating = 1) AS positive,
               count(*) FILTER (WHERE rating = -1) AS negative
        FROM feedback WHERE thread_id IN (SELECT thread_id FROM _touched) GROUP BY thread_id
    ) f ON f.thread_id = t.thread_id
    WHERE threads.thread_id = t.thread_id
    """


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


_TOUCHED = """
    CREATE TEMP TABLE _touched AS
    SELECT thread_id FROM _stage_thread UNION SELECT thread_id FROM _stage_run
    UNION SELECT thread_id FROM _stage_event UNION SELECT thread_id FROM _stage_feedback
    """
# The touched threads are locked first, as every vote write locks its thread (feedback.lock_thread): on
# PostgreSQL the counts and copies below then include any vote committed on them meanwhile, and two
# imports, or an import and a voter, wait for each other instead of deadlocking.
_LOCKED = "SELECT thread_id FROM _touched"
# The threads whose stored events and votes the merge looks at, by `conn.writes_serialized`: events are
# keyed by thread and votes found by their run's thread, so a thread not stored before the import holds
# none. Where writes are serialized (DuckDB) that is the touched threads stored now; elsewhere another
# import may store one of them meanwhile, so it is every touched thread. On DuckDB a file of new
# threads then joins no big table by these keys at all (a join with nothing to match skips its scan).
_STORED_THREADS = Step(
    "stored threads",
    """
    CREATE TEMP TABLE _stored_threads AS
    SELECT t.thread_id FROM threads t JOIN _touched k ON k.thread_id = t.thread_id
    """,
    concurrent_sql="CREATE TEMP TABLE _stored_threads AS SELECT thread_id FROM _touched",
)

# The file's runs and event threads that may be stored: those of stored threads.
_STORED_RUNS = "SELECT DISTINCT run_id FROM _stage_run WHERE thread_id IN (SELECT thread_id FROM _stored_threads)"
_STORED_EVENT_THREADS = (
    "SELECT DISTINCT thread_id FROM _stage_event WHERE thread_id IN (SELECT thread_id FROM _stored_threads)"
)


MERGE = (
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
        _CREATE_VOTES,
    ),
    Step(
        "changing votes",
        _CHANGING_VOTES,
    ),
    Step(
        "update votes",
        _UPDATE_VOTES,
        when_votes_change=True,
    ),
    # One row per id instead of ON CONFLICT DO NOTHING: on DuckDB that clause took 52 s for 25,000
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
        f"INSERT INTO feedback ({_WRITTEN}) SELECT {_WRITTEN} FROM _written",
    ),
    Step(
        "written updates",
        _WRITTEN_UPDATES,
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
        REFRESH_THREADS,
    ),
)

_TEMP_TABLES = (
    "_stage_thread",
    "_stage_run",
    "_stage_event",
    "_stage_feedback",
    "_new_events",
    "_votes",
    "_changing",
    "_written",
    "_stored_votes",
    "_touched",
    "_stored_threads",
    "_touched_runs",
    "_follow_old",
)


def _drop_temp(conn) -> None:
    for table in _TEMP_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _create_stages(conn) -> None:
    # No leftovers to drop first: a committed import drops its temporary tables, a rolled back one never had them.
    for kind, columns in STAGES.items():
        body = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in columns)
        conn.execute(f"CREATE TEMP TABLE _stage_{kind} ({body})")


# Before the checks: the touched threads (locked at once), those of them stored, the stored votes the
# file's votes can meet.
PREPARE = (Step("touched threads", _TOUCHED, locks=_LOCKED), _STORED_THREADS, Step("stored votes", _STORED_VOTES))


class Rejected(DataLayerError):
    """The file breaks a rule: every bad line (the first MAX_ERRORS) and how many more."""

    def __init__(self, errors: list[dict], more: int):
        super().__init__("import rejected")
        self.errors = errors
        self.more = more


def load_stages(conn, staged: Staged) -> None:
    """Create the staging tables and load the staged rows into them."""
    _create_stages(conn)
    for kind, table in staged.tables.items():
        if table.num_rows:
            conn.load(f"_stage_{kind}", table)


def check_and_merge(conn, engine, read_errors: list[dict], more: int, actor) -> None:
    """Check the staged rows against each other and the store, then merge them: one attempt of the
    import's transaction, which changes nothing outside it, so that a retry starts from the same state.
    `Rejected` with every bad line, those the reader found (`read_errors`, `more` beyond them) first."""
    for step in PREPARE:
        conn.execute(step.text(conn))
        if step.locks:
            conn.lock_threads(step.locks)
    found = [
        {"line": int(row["line"]), "error": row["error"]}
        for step in CHECKS
        for row in conn.all(step.text(conn) + " ORDER BY 1")
    ]
    if read_errors or found:
        everything = sorted(read_errors + found, key=lambda error: error["line"])
        raise Rejected(everything[:MAX_ERRORS], more + max(0, len(everything) - MAX_ERRORS))
    now = datetime.now(UTC)
    changes = None
    finish_index = None
    for step in MERGE:
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
    audit.record_import(conn, engine, actor=actor, at=now)
    _drop_temp(conn)
