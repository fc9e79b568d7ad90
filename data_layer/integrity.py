"""The store's own integrity check: the invariants every write and import must keep."""

from __future__ import annotations

from data_layer import cubes, rollups

# Each check counts the rows that break one invariant; a healthy store answers 0 to all.
CHECKS = {
    "feedback without its run": """
        SELECT count(*) FROM feedback f WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = f.run_id)
    """,
    "feedback in another thread than its run": """
        SELECT count(*) FROM feedback f JOIN runs r ON r.run_id = f.run_id WHERE r.thread_id <> f.thread_id
    """,
    "feedback on a message not in its run": """
        SELECT count(*) FROM feedback f
        WHERE f.message_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM run_events e WHERE e.run_id = f.run_id AND e.message_id = f.message_id)
    """,
    "second vote of one owner on one target": """
        SELECT count(*) FROM (
            SELECT run_id, owner_id, scope FROM feedback WHERE owner_id IS NOT NULL
            GROUP BY run_id, owner_id, scope HAVING count(*) > 1) AS d
    """,
    "rating other than 1 or -1": "SELECT count(*) FROM feedback WHERE rating NOT IN (1, -1)",
    # a vote's rubric scores go with it (data_layer/scores.py), one per criterion
    "score without its vote": """
        SELECT count(*) FROM vote_scores s
        WHERE NOT EXISTS (SELECT 1 FROM feedback f WHERE f.feedback_id = s.feedback_id)
    """,
    "second score of one vote on one criterion": """
        SELECT count(*) FROM (
            SELECT feedback_id, criterion FROM vote_scores GROUP BY feedback_id, criterion HAVING count(*) > 1) AS d
    """,
    # a vote's corrected answer goes with it (data_layer/corrections.py)
    "correction without its vote": """
        SELECT count(*) FROM vote_corrections c
        WHERE NOT EXISTS (SELECT 1 FROM feedback f WHERE f.feedback_id = c.feedback_id)
    """,
    "run without its thread": """
        SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = r.thread_id)
    """,
    "event without its run": """
        SELECT count(*) FROM run_events e WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = e.run_id)
    """,
    "thread tallies out of date": f"""
        SELECT count(*) FROM threads t
        LEFT JOIN (SELECT thread_id, count(*) AS n FROM runs GROUP BY thread_id) r ON r.thread_id = t.thread_id
        LEFT JOIN (SELECT f.thread_id, {rollups.THREAD_COUNTS} FROM feedback f GROUP BY f.thread_id) f
            ON f.thread_id = t.thread_id
        WHERE t.run_count <> coalesce(r.n, 0)
           OR {" OR ".join(f"t.{name} IS DISTINCT FROM coalesce(f.{name}, 0)" for name in rollups.THREAD_TALLY_COLUMNS)}
    """,
    "vote copies of its run out of date": f"""
        SELECT count(*) FROM feedback f JOIN runs r ON r.run_id = f.run_id
        WHERE {" OR ".join(f"f.{copy} IS DISTINCT FROM r.{source}" for copy, source in rollups.COPIES.items())}
    """,
    "run vote tallies out of date": f"""
        SELECT count(*) FROM runs r
        LEFT JOIN (SELECT f.run_id, {rollups.TALLIES} FROM feedback f GROUP BY f.run_id) t ON t.run_id = r.run_id
        WHERE {" OR ".join(f"r.{name} IS DISTINCT FROM coalesce(t.{name}, 0)" for name in rollups.TALLY_COLUMNS)}
    """,
    "run follow-up flag out of date": """
        SELECT count(*) FROM runs r
        LEFT JOIN (SELECT DISTINCT follow_up_to_run_id AS run_id FROM runs) n ON n.run_id = r.run_id
        WHERE r.followed_up IS DISTINCT FROM (n.run_id IS NOT NULL)
    """,
    **{f"stats counts in {cube.table} out of date": cubes.stale(cube) for cube in cubes.CUBES},
    "message thread missing from the search index": """
        SELECT count(DISTINCT e.thread_id) FROM run_events e
        WHERE e.category = 'message' AND e.text <> ''
          AND NOT EXISTS (SELECT 1 FROM search_threads s WHERE s.thread_id = e.thread_id)
    """,
    "search index number given to two threads or words": """
        SELECT (SELECT count(*) - count(DISTINCT thread_no) FROM search_threads)
             + (SELECT count(*) - count(DISTINCT word_id) FROM search_words)
    """,
}


def check(store) -> dict[str, int]:
    """Every broken invariant with the number of rows breaking it; empty when the store is sound."""
    problems = {}
    with store.engine.read() as conn:
        for name, sql in CHECKS.items():
            count = int(conn.scalar(sql))
            if count:
                problems[name] = count
    return problems
