"""Precomputed columns that let each stats aggregate scan one table, and the statements that keep them.

On `feedback`, a copy of its run's attributes that the stats filter and group by: `run_at` (the run's
`created_at`), `run_assistant_id`, `run_model_name`, `run_status`. On `runs`, its vote tallies per
source (`reviewer_positive`, `reviewer_negative`, `end_user_positive`, `end_user_negative`), the
tallies of the reviewer panel that agreement reads (`panel_positive`, `panel_negative`: whole-run
reviewer votes by a named reviewer), and `followed_up` (some run names it as `follow_up_to_run_id`).
On `threads`, the threads page's tallies: `positive` and `negative` over every source, and the same
per-source tallies as a run's (`SOURCE_TALLIES`), which its columns and filters read.

Every write keeps them: `feedback.py` copies the run's values into a vote it inserts (runs never
change there) and moves the run's and thread's tallies by the vote's difference (`adjust`); the
importer's merge copies into the votes it inserts, updates the copies of the runs it changes, and
refreshes tallies and flags of what it touched.
`refresh(conn)` recomputes everything set-based (bulk loads, restore), and
`data_layer.integrity` checks them. Each statement writes only the rows that differ. A vote write also
moves the stats' counts of `data_layer.cubes`, which `refresh` recomputes too.
"""

from __future__ import annotations

from data_layer import cube_votes, cubes

# The tallies of one run from its votes (alias `f`); a LEFT JOIN's missing vote matches no FILTER.
TALLIES = """
    count(*) FILTER (WHERE f.source = 'reviewer' AND f.rating = 1) AS reviewer_positive,
    count(*) FILTER (WHERE f.source = 'reviewer' AND f.rating = -1) AS reviewer_negative,
    count(*) FILTER (WHERE f.source = 'end_user' AND f.rating = 1) AS end_user_positive,
    count(*) FILTER (WHERE f.source = 'end_user' AND f.rating = -1) AS end_user_negative,
    count(*) FILTER (WHERE f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL AND f.rating = 1)
        AS panel_positive,
    count(*) FILTER (WHERE f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL AND f.rating = -1)
        AS panel_negative
"""
TALLY_COLUMNS = (
    "reviewer_positive",
    "reviewer_negative",
    "end_user_positive",
    "end_user_negative",
    "panel_positive",
    "panel_negative",
)
# The tallies by source, kept on runs and on threads alike.
SOURCE_TALLIES = TALLY_COLUMNS[:4]
# A thread's tallies: every source's thumbs up and down, then each source's.
THREAD_TALLY_COLUMNS = ("positive", "negative", *SOURCE_TALLIES)
# feedback column <- runs column
COPIES = {
    "run_at": "created_at",
    "run_assistant_id": "assistant_id",
    "run_model_name": "model_name",
    "run_status": "status",
}

_SET_TALLIES = ",\n    ".join(f"{name} = coalesce(t.{name}, 0)" for name in TALLY_COLUMNS)
_TALLIES_DIFFER = " OR ".join(f"runs.{name} IS DISTINCT FROM coalesce(t.{name}, 0)" for name in TALLY_COLUMNS)
_SET_COPIES = ",\n    ".join(f"{copy} = r.{source}" for copy, source in COPIES.items())
_COPIES_DIFFER = " OR ".join(f"feedback.{copy} IS DISTINCT FROM r.{source}" for copy, source in COPIES.items())

# A vote write moves its thread's and run's tallies by the difference between the vote before and after
# (each writer holds the thread's row, or DuckDB's process write lock, so no other vote of the thread
# moves them meanwhile): two point updates by key instead of counting the votes again.
_ADJUST_THREAD = f"""
UPDATE threads SET {", ".join(f"{name} = {name} + ${name}" for name in THREAD_TALLY_COLUMNS)}
WHERE thread_id = $thread_id
"""
# It returns the run's cells of the stats cubes (data_layer/cubes.py), which the vote moves next.
_ADJUST_RUN = f"""
UPDATE runs SET {", ".join(f"{name} = {name} + ${name}" for name in TALLY_COLUMNS)}
WHERE run_id = $run_id
RETURNING {cube_votes.RUN_COLUMNS}
"""


def _counts(vote: dict | None) -> dict[str, int]:
    """What one vote adds to its run's tallies (the FILTERs of `TALLIES`) and its thread's."""
    if vote is None:
        return dict.fromkeys((*TALLY_COLUMNS, "positive", "negative"), 0)
    sign = "positive" if vote["rating"] == 1 else "negative"
    panel = vote["source"] == "reviewer" and vote["message_id"] is None and vote["owner_id"] is not None
    counts = {name: int(name == f"{vote['source']}_{sign}") for name in TALLY_COLUMNS}
    counts[f"panel_{sign}"] = int(panel)
    counts["positive"], counts["negative"] = int(sign == "positive"), int(sign == "negative")
    return counts


def adjust(conn, old: dict | None, new: dict | None) -> None:
    """Move the tallies of the vote's thread and run from `old` to `new` (either may be None)."""
    vote = new or old
    if vote is None:
        raise ValueError("a vote change needs the vote before or after it")
    before, after = _counts(old), _counts(new)
    change = {name: after[name] - before[name] for name in after}
    if any(change[name] for name in THREAD_TALLY_COLUMNS):
        conn.execute(
            _ADJUST_THREAD, {"thread_id": vote["thread_id"], **{name: change[name] for name in THREAD_TALLY_COLUMNS}}
        )
    run = None
    if any(change[name] for name in TALLY_COLUMNS):
        run = conn.one(_ADJUST_RUN, {"run_id": vote["run_id"], **{name: change[name] for name in TALLY_COLUMNS}})
    elif cube_votes.moves(old, new):
        run = conn.one(cube_votes.RUN_CELL, {"run_id": vote["run_id"]})
    if run is not None:
        cube_votes.adjust(conn, old, new, run, change)


def tallies(runs: str) -> str:
    """The statement refreshing the tallies of the runs selected by `runs` (a query of distinct run_id)."""
    return f"""
    UPDATE runs SET {_SET_TALLIES}
    FROM ({runs}) AS c
    LEFT JOIN (
        SELECT f.run_id, {TALLIES}
        FROM feedback f WHERE f.run_id IN ({runs})
        GROUP BY f.run_id
    ) AS t ON t.run_id = c.run_id
    WHERE runs.run_id = c.run_id AND ({_TALLIES_DIFFER})
    """


def copies(runs: str) -> str:
    """The statement bringing the votes of the runs selected by `runs` in line with their run."""
    return f"""
    UPDATE feedback SET {_SET_COPIES}
    FROM runs r
    WHERE feedback.run_id = r.run_id AND r.run_id IN ({runs}) AND ({_COPIES_DIFFER})
    """


def followed_up(runs: str) -> str:
    """The statement setting `followed_up` of the runs selected by `runs` (a query of distinct run_id)."""
    return f"""
    UPDATE runs SET followed_up = (n.run_id IS NOT NULL)
    FROM ({runs}) AS c
    LEFT JOIN (
        SELECT DISTINCT follow_up_to_run_id AS run_id FROM runs WHERE follow_up_to_run_id IN ({runs})
    ) AS n ON n.run_id = c.run_id
    WHERE runs.run_id = c.run_id AND runs.followed_up IS DISTINCT FROM (n.run_id IS NOT NULL)
    """


_ALL_RUNS = "SELECT run_id FROM runs"
REFRESH = (copies(_ALL_RUNS), tallies(_ALL_RUNS), followed_up(_ALL_RUNS))


def refresh(conn) -> None:
    """Recompute every precomputed column of votes and runs, the threads' vote tallies and the stats
    cubes, from the stored rows (inside a write)."""
    for statement in (*REFRESH, THREAD_TALLIES, *cubes.REFRESH):
        conn.execute(statement)


# A thread's vote tallies from its votes (alias `f`), overall and by source.
THREAD_COUNTS = """count(*) FILTER (WHERE f.rating = 1) AS positive,
               count(*) FILTER (WHERE f.rating = -1) AS negative,
               count(*) FILTER (WHERE f.source = 'reviewer' AND f.rating = 1) AS reviewer_positive,
               count(*) FILTER (WHERE f.source = 'reviewer' AND f.rating = -1) AS reviewer_negative,
               count(*) FILTER (WHERE f.source = 'end_user' AND f.rating = 1) AS end_user_positive,
               count(*) FILTER (WHERE f.source = 'end_user' AND f.rating = -1) AS end_user_negative"""
_SET_THREAD_TALLIES = ",\n        ".join(f"{name} = coalesce(f.{name}, 0)" for name in THREAD_TALLY_COLUMNS)

# Every thread's vote tallies, writing only the threads whose tallies differ.
THREAD_TALLIES = f"""
    UPDATE threads SET {_SET_THREAD_TALLIES}
    FROM (SELECT thread_id FROM threads) AS t
    LEFT JOIN (SELECT f.thread_id, {THREAD_COUNTS} FROM feedback f GROUP BY f.thread_id) f ON f.thread_id = t.thread_id
    WHERE threads.thread_id = t.thread_id
      AND ({" OR ".join(f"threads.{name} IS DISTINCT FROM coalesce(f.{name}, 0)" for name in THREAD_TALLY_COLUMNS)})
    """

# The threads page's rollups of every thread in the table `_touched`, from its runs and votes (the import
# merges them so; the benchmark's generator runs it over every thread).
REFRESH_THREADS = f"""
    UPDATE threads SET
        run_count = coalesce(r.run_count, 0),
        last_activity_at = coalesce(r.last_run_at, threads.updated_at),
        assistant_id = coalesce(threads.assistant_id, r.assistant_id),
        title = left(coalesce(threads.display_name, r.first_question, threads.title), 300),
        {_SET_THREAD_TALLIES}
    FROM _touched t
    LEFT JOIN (
        SELECT thread_id, count(*) AS run_count, max(updated_at) AS last_run_at,
               (array_agg(assistant_id ORDER BY created_at))[1] AS assistant_id,
               (array_agg(first_human_message ORDER BY created_at)
                    FILTER (WHERE first_human_message IS NOT NULL))[1] AS first_question
        FROM runs WHERE thread_id IN (SELECT thread_id FROM _touched) GROUP BY thread_id
    ) r ON r.thread_id = t.thread_id
    LEFT JOIN (
        SELECT f.thread_id, {THREAD_COUNTS}
        FROM feedback f WHERE f.thread_id IN (SELECT thread_id FROM _touched) GROUP BY f.thread_id
    ) f ON f.thread_id = t.thread_id
    WHERE threads.thread_id = t.thread_id
    """
