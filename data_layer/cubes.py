"""Counts kept on write for the stats (issue 22): three small tables the dashboard reads instead of a
million votes or runs, the same on both engines.

- `vote_counts`: whole-run votes per (run's UTC day, assistant, model, source, rating): the headline's
  votes, over time, per assistant or model.
- `negative_tags`: reason tags of whole-run thumbs-down per (day, assistant, model, source, tag), a
  negative vote without tags counting once as `untagged` (the rule of `stats/rates.py`).
- `run_counts`: runs per (day, assistant, model, success, followed_up, reviewer class, end-user class),
  a class being 1 for a thumbs-up, plus 2 for a thumbs-down among the run's votes of that source: the
  class of both sources together is the two OR'ed. The headline's runs and the follow-ups read it.

The day is the run's, as `stats.sql.DAY` counts it. Assistant and model are kept as keys that are never
NULL (a unique key treats NULLs as distinct on both engines): '' for none, else '=' and the value (a
model may be named ''). Rows whose count falls to 0 stay; readers skip them.

Who keeps them: a vote write moves the cells of its vote before and after, and of its run's class
(`adjust`, called by `rollups.adjust`); the import's merge takes the contribution of every run it may
touch, and their votes, before it writes (`OLD`) and adds the difference after (`NEW`), holding the
threads of those runs (`ingest/checks.py`); `refresh`
recomputes them (migration, bulk loads, restore); `data_layer.integrity` checks them (`stale`). Each
change is one `INSERT ... ON CONFLICT DO UPDATE` adding to the counts, so that writers sharing a cell
on PostgreSQL add up rather than overwrite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

UNTAGGED = "untagged"


def key(column: str) -> str:
    """The cube key of a nullable text column."""
    return f"CASE WHEN {column} IS NULL THEN '' ELSE '=' || {column} END"


def _key_of(value: str | None) -> str:
    return "" if value is None else "=" + value


def value_of(column: str) -> str:
    """A cube key column back as the value it keys (NULL for none)."""
    return f"CASE WHEN {column} = '' THEN NULL ELSE substr({column}, 2) END"


def _day(column: str) -> str:
    return f"CAST(floor(date_part('epoch', {column}) / 86400) AS INTEGER)"


def _class(source: str) -> str:
    return (
        f"CAST(CASE WHEN r.{source}_positive > 0 THEN 1 ELSE 0 END"
        f" + CASE WHEN r.{source}_negative > 0 THEN 2 ELSE 0 END AS SMALLINT)"
    )


@dataclass(frozen=True)
class Cube:
    table: str
    keys: tuple[str, ...]
    count: str
    # The rows of the cube from the stored rows of the runs selected by `{runs}` (a condition on `run_id`).
    contribution: str

    def of(self, runs: str) -> str:
        return self.contribution.format(runs=runs)

    def add(self, rows: str) -> str:
        """The statement adding `rows` (the cube's keys and `n`, any number per key) to the cube. Cells are
        written in key order, so two PostgreSQL writers sharing cells take their row locks in one order."""
        keys = ", ".join(self.keys)
        return f"""
        INSERT INTO {self.table} ({keys}, {self.count})
        SELECT {keys}, sum(n) FROM ({rows}) d GROUP BY {keys} HAVING sum(n) <> 0 ORDER BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET {self.count} = {self.table}.{self.count} + excluded.{self.count}
        """

    def negated(self, table: str) -> str:
        return f"SELECT {', '.join(self.keys)}, -{self.count} AS n FROM {table}"


_VOTE_KEYS = ("day", "assistant_key", "model_key", "source")
VOTES = Cube(
    "vote_counts",
    (*_VOTE_KEYS, "rating"),
    "votes",
    f"""SELECT {_day("f.run_at")} AS day, {key("f.run_assistant_id")} AS assistant_key,
           {key("f.run_model_name")} AS model_key, f.source, f.rating, count(*) AS n
    FROM feedback f WHERE f.scope = '' AND {{runs}}
    GROUP BY 1, 2, 3, 4, 5""",
)
TAGS = Cube(
    "negative_tags",
    (*_VOTE_KEYS, "tag"),
    "negative",
    f"""SELECT day, assistant_key, model_key, source, tag, count(*) AS n
    FROM (
        SELECT {_day("f.run_at")} AS day, {key("f.run_assistant_id")} AS assistant_key,
               {key("f.run_model_name")} AS model_key, f.source,
               unnest(CASE WHEN coalesce(array_length(f.tags, 1), 0) = 0 THEN ARRAY['{UNTAGGED}'] ELSE f.tags END)
                   AS tag
        FROM feedback f WHERE f.rating = -1 AND f.scope = '' AND {{runs}}
    ) t
    GROUP BY 1, 2, 3, 4, 5""",
)
RUNS = Cube(
    "run_counts",
    ("day", "assistant_key", "model_key", "success", "followed_up", "reviewer_class", "end_user_class"),
    "runs",
    f"""SELECT {_day("r.created_at")} AS day, {key("r.assistant_id")} AS assistant_key,
           {key("r.model_name")} AS model_key, r.status = 'success' AS success,
           coalesce(r.followed_up, false) AS followed_up, {_class("reviewer")} AS reviewer_class,
           {_class("end_user")} AS end_user_class, count(*) AS n
    FROM runs r WHERE {{runs}}
    GROUP BY 1, 2, 3, 4, 5, 6, 7""",
)
CUBES = (VOTES, TAGS, RUNS)

TABLES_SQL = """
-- the stats' counts kept on write (data_layer/cubes.py says who keeps them)
CREATE TABLE IF NOT EXISTS vote_counts (
    day           INTEGER NOT NULL,
    assistant_key TEXT NOT NULL,
    model_key     TEXT NOT NULL,
    source        TEXT NOT NULL,
    rating        SMALLINT NOT NULL,
    votes         BIGINT NOT NULL,
    PRIMARY KEY (day, assistant_key, model_key, source, rating)
);
CREATE TABLE IF NOT EXISTS negative_tags (
    day           INTEGER NOT NULL,
    assistant_key TEXT NOT NULL,
    model_key     TEXT NOT NULL,
    source        TEXT NOT NULL,
    tag           TEXT NOT NULL,
    negative      BIGINT NOT NULL,
    PRIMARY KEY (day, assistant_key, model_key, source, tag)
);
CREATE TABLE IF NOT EXISTS run_counts (
    day            INTEGER NOT NULL,
    assistant_key  TEXT NOT NULL,
    model_key      TEXT NOT NULL,
    success        BOOLEAN NOT NULL,
    followed_up    BOOLEAN NOT NULL,
    reviewer_class SMALLINT NOT NULL,
    end_user_class SMALLINT NOT NULL,
    runs           BIGINT NOT NULL,
    PRIMARY KEY (day, assistant_key, model_key, success, followed_up, reviewer_class, end_user_class)
)
"""

# Each cube brought to a recompute from the stored rows: the difference, written only where it is not 0.
REFRESH = tuple(cube.add(f"{cube.of('TRUE')} UNION ALL {cube.negated(cube.table)}") for cube in CUBES)

# Schema step 18 creates the cubes and fills them.
STEP_SQL = ";\n".join((TABLES_SQL, *REFRESH))


def refresh(conn) -> None:
    """Recompute every cube from the stored runs and votes (inside a write)."""
    for statement in REFRESH:
        conn.execute(statement)


def stale(cube: Cube) -> str:
    """A query counting the cells of `cube` that differ from a recompute (0 when it is right)."""
    keys = ", ".join(cube.keys)
    return f"""
    SELECT count(*) FROM (
        SELECT {keys}, sum(n) AS n FROM ({cube.of("TRUE")} UNION ALL {cube.negated(cube.table)}) d
        GROUP BY {keys} HAVING sum(n) <> 0
    ) x
    """


# The import's merge (data_layer/ingest/merge.py): the runs whose cells it may move, the contribution of
# those runs before it writes, and after. A run it may change is a stored run of a touched thread, or one
# that a run of those names as followed up (its `followed_up` flag may change), before or after; the runs
# it adds are added to the set at the end.
MERGE_RUNS = """
    CREATE TEMP TABLE _cube_runs AS
    SELECT run_id FROM runs WHERE thread_id IN (SELECT thread_id FROM _stored_threads)
    UNION SELECT follow_up_to_run_id FROM runs
          WHERE thread_id IN (SELECT thread_id FROM _stored_threads) AND follow_up_to_run_id IS NOT NULL
    UNION SELECT follow_up_to_run_id FROM _stage_run WHERE follow_up_to_run_id IS NOT NULL
    """
_IN_MERGE = "{alias}.run_id IN (SELECT run_id FROM _cube_runs)"


def _merge_runs(cube: Cube) -> str:
    return _IN_MERGE.format(alias="r" if cube is RUNS else "f")


OLD = tuple(f"CREATE TEMP TABLE _cube_old_{cube.table} AS {cube.of(_merge_runs(cube))}" for cube in CUBES)
NEW_RUNS = "INSERT INTO _cube_runs SELECT run_id FROM _stage_run"
NEW = tuple(
    cube.add(f"{cube.of(_merge_runs(cube))} UNION ALL SELECT {', '.join(cube.keys)}, -n FROM _cube_old_{cube.table}")
    for cube in CUBES
)
TEMP_TABLES = ("_cube_runs", *(f"_cube_old_{cube.table}" for cube in CUBES))

# A vote write: the run's cells, read when the vote's own write did not return them.
RUN_COLUMNS = """created_at, assistant_id, model_name, status, followed_up,
    reviewer_positive, reviewer_negative, end_user_positive, end_user_negative"""
RUN_CELL = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $run_id"


def day_of(moment) -> int:
    """The UTC day number of a time, as `stats.sql.DAY` computes it."""
    return math.floor(moment.timestamp() / 86400)


def _class_of(run: dict, source: str) -> int:
    return (1 if run[f"{source}_positive"] > 0 else 0) + (2 if run[f"{source}_negative"] > 0 else 0)


def _tags(vote: dict) -> list[str]:
    return list(vote["tags"] or []) or [UNTAGGED]


def _cells(vote: dict | None, run: dict, sign: int) -> tuple[dict, dict]:
    votes: dict[tuple, int] = {}
    tags: dict[tuple, int] = {}
    if vote is None or vote["message_id"] is not None:
        return votes, tags
    cell = (day_of(run["created_at"]), _key_of(run["assistant_id"]), _key_of(run["model_name"]), vote["source"])
    votes[(*cell, vote["rating"])] = sign
    if vote["rating"] == -1:
        for tag in _tags(vote):
            tags[(*cell, tag)] = tags.get((*cell, tag), 0) + sign
    return votes, tags


def moves(old: dict | None, new: dict | None) -> bool:
    """Whether a vote changing from `old` to `new` moves a vote or tag cell (the run cells move with the
    run's tallies)."""
    before = (old["source"], old["rating"], sorted(_tags(old))) if old and old["message_id"] is None else None
    after = (new["source"], new["rating"], sorted(_tags(new))) if new and new["message_id"] is None else None
    return before != after


# The type of each key column, for the parameters of a vote write's rows (PostgreSQL infers none in VALUES).
_TYPES = {
    "day": "INTEGER",
    "rating": "SMALLINT",
    "success": "BOOLEAN",
    "followed_up": "BOOLEAN",
    "reviewer_class": "SMALLINT",
    "end_user_class": "SMALLINT",
    "n": "BIGINT",
}


def _values(cube: Cube, cells: dict[tuple, int], prefix: str) -> tuple[str, dict]:
    rows: list[str] = []
    params: dict[str, object] = {}
    columns = (*cube.keys, "n")
    for index, (cell, n) in enumerate(cells.items()):
        names = [f"{prefix}{index}_{column}" for column in columns]
        typed = (f"CAST(${name} AS {_TYPES.get(column, 'TEXT')})" for name, column in zip(names, columns, strict=True))
        rows.append("(" + ", ".join(typed) + ")")
        params.update(zip(names, (*cell, n), strict=True))
    keys = ", ".join(cube.keys)
    return f"SELECT * FROM (VALUES {', '.join(rows)}) AS v ({keys}, n)", params


def _write(conn, cube: Cube, cells: dict[tuple, int], prefix: str) -> None:
    cells = {cell: n for cell, n in cells.items() if n}
    if cells:
        rows, params = _values(cube, cells, prefix)
        conn.execute(cube.add(rows), params)


def _merged(first: dict, second: dict) -> dict:
    out = dict(first)
    for cell, n in second.items():
        out[cell] = out.get(cell, 0) + n
    return out


def adjust(conn, old: dict | None, new: dict | None, run: dict, change: dict[str, int]) -> None:
    """Move the cells of a vote changing from `old` to `new` (either may be None), given its run as it is
    now (`RUN_COLUMNS`) and what the change added to the run's tallies."""
    old_votes, old_tags = _cells(old, run, -1)
    new_votes, new_tags = _cells(new, run, 1)
    _write(conn, VOTES, _merged(old_votes, new_votes), "v")
    _write(conn, TAGS, _merged(old_tags, new_tags), "t")
    before = {name: run[name] - change.get(name, 0) for name in run if name.endswith(("_positive", "_negative"))}
    classes = [(_class_of(tallies, "reviewer"), _class_of(tallies, "end_user")) for tallies in (before, run)]
    if classes[0] != classes[1]:
        cell = (
            day_of(run["created_at"]),
            _key_of(run["assistant_id"]),
            _key_of(run["model_name"]),
            run["status"] == "success",
            bool(run["followed_up"]),
        )
        _write(conn, RUNS, {(*cell, *classes[0]): -1, (*cell, *classes[1]): 1}, "r")
