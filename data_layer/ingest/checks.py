"""Before the merge: the threads a file touches (locked at once), what of them is stored, and the checks
of its rows against each other and the store, each naming the lines that break a rule."""

from __future__ import annotations

from data_layer.ingest.step import Step

_TOUCHED = """
    CREATE TEMP TABLE _touched AS
    SELECT thread_id FROM _stage_thread UNION SELECT thread_id FROM _stage_run
    UNION SELECT thread_id FROM _stage_event UNION SELECT thread_id FROM _stage_feedback
    """
# The touched threads are locked first, as every vote write locks its thread (feedback.lock_thread): on
# PostgreSQL the counts and copies below then include any vote committed on them meanwhile, and two
# imports, or an import and a voter, wait for each other instead of deadlocking.
# Also the threads of the runs the file's runs name as followed up, now or before: the merge moves those
# runs' cells of the stats cubes (data_layer/cubes.py) by a difference it reads first, which a vote on one
# of them committed meanwhile would make wrong.
_LOCKED = """
    SELECT thread_id FROM _touched
    UNION SELECT thread_id FROM runs WHERE run_id IN (
        SELECT follow_up_to_run_id FROM _stage_run
        UNION SELECT follow_up_to_run_id FROM runs WHERE thread_id IN (SELECT thread_id FROM _touched))
    """
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

# Before the checks: the touched threads (locked at once), those of them stored, the stored votes the
# file's votes can meet.
PREPARE = (Step("touched threads", _TOUCHED, locks=_LOCKED), _STORED_THREADS, Step("stored votes", _STORED_VOTES))

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
