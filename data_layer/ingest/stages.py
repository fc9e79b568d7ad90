"""The import's temporary tables: the staging tables made and loaded at the start of its transaction
(`_stage_<kind>`, in `records.STAGES`' columns, and the scores' stage), and every temporary table of
the merge, dropped when it commits."""

from __future__ import annotations

from data_layer import cubes
from data_layer.ingest import scores, verdicts
from data_layer.ingest.records import STAGES, Staged

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
    *cubes.TEMP_TABLES,
    *scores.TEMP_TABLES,
    *verdicts.TEMP_TABLES,
)


def drop(conn) -> None:
    for table in _TEMP_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _create(conn) -> None:
    # No leftovers to drop first: a committed import drops its temporary tables, a rolled back one never had them.
    for kind, columns in STAGES.items():
        body = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in columns)
        conn.execute(f"CREATE TEMP TABLE _stage_{kind} ({body})")
    scores.create_stage(conn)


def load_stages(conn, staged: Staged) -> None:
    """Create the staging tables and load the staged rows into them."""
    _create(conn)
    for kind, table in staged.tables.items():
        if table.num_rows:
            conn.load(f"_stage_{kind}", table)
