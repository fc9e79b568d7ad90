"""The target a vote names: its thread, run and message exist, belong together, and the caller may act on them.

One check for every door (pages, REST API) and every vote write or read by target. Its answers reveal
nothing a caller may not see: a thread the caller may not act on (`auth.may_act_on_thread`) is answered
exactly as a missing thread, and a run of another thread exactly as a missing run. Every vote write
first holds its thread (`lock_thread`).
"""

from __future__ import annotations

from data_layer import auth
from data_layer.errors import NotFound

_THREAD_OWNER = "SELECT owner_id FROM threads WHERE thread_id = $thread_id"

_RUN_OF = "SELECT thread_id FROM runs WHERE run_id = $run_id"

# The thread and the run in one statement: each statement costs a vote write or a read by target about
# as much as its point lookups do (docs/benchmarks.md).
_THREAD_AND_RUN = """
SELECT owner_id, (SELECT thread_id FROM runs WHERE run_id = $run_id) AS run_thread_id
FROM threads WHERE thread_id = $thread_id
"""

# `_THREAD_AND_RUN` for many pairs at once: a pair whose thread is missing has no row.
_THREADS_AND_RUNS = """
SELECT s.thread_id, s.run_id, t.owner_id, r.thread_id AS run_thread_id
FROM (SELECT unnest(CAST($thread_ids AS TEXT[])) AS thread_id, unnest(CAST($run_ids AS TEXT[])) AS run_id) s
JOIN threads t ON t.thread_id = s.thread_id
LEFT JOIN runs r ON r.run_id = s.run_id
"""

# DuckDB uses an index only for a filter on the indexed column alone: the run's rows are fetched
# through the index in a MATERIALIZED CTE (no filter pushed into it), then narrowed (docs/benchmarks.md).
_MESSAGE_IN_RUN = """
WITH e AS MATERIALIZED (SELECT message_id, category FROM run_events WHERE run_id = $run_id)
SELECT count(*) FROM e WHERE message_id = $message_id AND category = 'message'
"""


def thread_visible(conn, thread_id: str, actor: auth.Actor) -> bool:
    """Whether the thread exists and `actor` may act on it."""
    thread = conn.one(_THREAD_OWNER, {"thread_id": thread_id})
    return thread is not None and auth.may_act_on_thread(actor, thread["owner_id"])


def check_target(
    conn, thread_id: str, run_id: str | None = None, message_id: str | None = None, *, actor: auth.Actor
) -> None:
    """`NotFound` unless the thread is one `actor` may act on, holds the run (when named), and the run
    holds the message (when named): upstream rules 2 and 4, and whose threads an end user may touch."""
    if run_id is None:
        if not thread_visible(conn, thread_id, actor):
            raise NotFound(f"thread {thread_id} not found")
        return
    found = conn.one(_THREAD_AND_RUN, {"thread_id": thread_id, "run_id": run_id})
    _check_found(found, thread_id, run_id, actor)
    if message_id is not None and not conn.scalar(_MESSAGE_IN_RUN, {"run_id": run_id, "message_id": message_id}):
        raise NotFound(f"message {message_id} not found in run {run_id}")


def check_runs(conn, targets: list[tuple[str, str]], *, actor: auth.Actor) -> None:
    """`check_target` of many (thread, run) pairs in one statement: the first pair that fails raises."""
    pairs = list(dict.fromkeys(targets))
    params = {"thread_ids": [thread for thread, _ in pairs], "run_ids": [run for _, run in pairs]}
    found = {(row["thread_id"], row["run_id"]): row for row in conn.all(_THREADS_AND_RUNS, params)} if pairs else {}
    for thread_id, run_id in pairs:
        _check_found(found.get((thread_id, run_id)), thread_id, run_id, actor)


def _check_found(found: dict | None, thread_id: str, run_id: str, actor: auth.Actor) -> None:
    """The rules of `check_target` on a thread's owner and its run's thread as `_THREAD_AND_RUN` reads them."""
    if found is None or not auth.may_act_on_thread(actor, found["owner_id"]):
        raise NotFound(f"thread {thread_id} not found")
    if found["run_thread_id"] != thread_id:
        raise NotFound(f"run {run_id} not found in thread {thread_id}")


def thread_of_run(conn, run_id: str, actor: auth.Actor) -> str:
    """The thread of a run named by its id alone; `NotFound` when the run is missing or its thread out of
    `actor`'s reach (answered alike)."""
    run = conn.one(_RUN_OF, {"run_id": run_id})
    if run is None or not thread_visible(conn, run["thread_id"], actor):
        raise NotFound(f"run {run_id} not found")
    return run["thread_id"]


def lock_thread(conn, thread_id: str) -> None:
    """Hold the thread until commit (`conn.lock_threads`). Taken first by every vote write (the importer
    takes its threads' before changing runs too), so on PostgreSQL a vote reads the vote it replaces,
    copies its run's values and moves its thread's and run's tallies only after a concurrent import or
    voter on that thread has committed, and the two never deadlock over the run's row."""
    conn.lock_threads("SELECT CAST($thread_id AS TEXT) AS thread_id", {"thread_id": thread_id})
