"""Counts kept on write for the stats (issue 22): small tables the dashboard reads instead of a million
votes or runs, the same on both engines.

- `vote_counts`: whole-run votes per (run's UTC day, assistant, model, source, rating): the headline's
  votes, over time, per assistant or model.
- `negative_tags`: reason tags of whole-run thumbs-down per (day, assistant, model, source, tag), a
  negative vote without tags counting once as `untagged` (the rule of `stats/rates.py`).
- `run_counts`: runs per (day, assistant, model, success, followed_up, reviewer class, end-user class),
  a class being 1 for a thumbs-up, plus 2 for a thumbs-down among the run's votes of that source: the
  class of both sources together is the two OR'ed. The headline's runs and the follow-ups read it.
- `reviewer_counts`: per (day, assistant, model, reviewer) the reviewer's votes, thumbs, whole-run votes
  and runs rated only message by message (reviewer activity).
- `panel_counts`: runs rated as a whole by two reviewers or more, per (day, assistant, model, raters,
  thumbs-up among them) (agreement among reviewers).

The day is the run's, as `stats.sql.DAY` counts it. Assistant and model are kept as keys that are never
NULL (a unique key treats NULLs as distinct on both engines): '' for none, else '=' and the value (a
model may be named ''). Rows whose count falls to 0 stay; readers skip them.

Who keeps them: a vote write moves the cells of its vote before and after, and of its run
(`data_layer/cube_votes.py`, from `rollups.adjust`); the import's merge takes the contribution of every run it may
touch, and their votes, before it writes (`OLD`) and adds the difference after (`NEW`), holding the
threads of those runs (`ingest/checks.py`); `refresh`
recomputes them (migration, bulk loads, restore); `data_layer.integrity` checks them (`stale`). Each
change is one `INSERT ... ON CONFLICT DO UPDATE` adding to the counts, so that writers sharing a cell
on PostgreSQL add up rather than overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass

UNTAGGED = "untagged"


def key(column: str) -> str:
    """The cube key of a nullable text column."""
    return f"CASE WHEN {column} IS NULL THEN '' ELSE '=' || {column} END"


def key_of(value: str | None) -> str:
    """The cube key of a value, as `key` computes it in SQL."""
    return "" if value is None else "=" + value


def value_of(column: str) -> str:
    """A cube key column back as the value it keys (NULL for none)."""
    return f"CASE WHEN {column} = '' THEN NULL ELSE substr({column}, 2) END"


def day(column: str) -> str:
    """The UTC day of a time `column` as days since 1970-01-01, cheaper to group than a timestamp: the day the
    stats count a run on and the cubes key it by. `date_part` gives a double on both engines; PostgreSQL's
    `extract` gives a numeric, whose division and floor cost 0.5 s a million votes."""
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
    counts: tuple[str, ...]
    # The rows of the cube from the stored rows of the runs selected by `{runs}` (a condition on `run_id`).
    contribution: str

    def of(self, runs: str) -> str:
        return self.contribution.format(runs=runs)

    def add(self, rows: str) -> str:
        """The statement adding `rows` (the cube's keys and counts, any number per key) to the cube. Cells are
        written in key order, so two PostgreSQL writers sharing cells take their row locks in one order."""
        keys = ", ".join(self.keys)
        sums = ", ".join(f"sum({count})" for count in self.counts)
        moved = " OR ".join(f"sum({count}) <> 0" for count in self.counts)
        added = ", ".join(f"{count} = {self.table}.{count} + excluded.{count}" for count in self.counts)
        return f"""
        INSERT INTO {self.table} ({keys}, {", ".join(self.counts)})
        SELECT {keys}, {sums} FROM ({rows}) d GROUP BY {keys} HAVING {moved} ORDER BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET {added}
        """

    def update_cell(self) -> str:
        """One cell's counts moved by `$add_<count>`, the cell named by its keys' parameters; returns a row
        when the cell exists."""
        added = ", ".join(f"{count} = {count} + $add_{count}" for count in self.counts)
        where = " AND ".join(f"{name} = ${name}" for name in self.keys)
        return f"UPDATE {self.table} SET {added} WHERE {where} RETURNING 1"

    def insert_cell(self) -> str:
        columns = (*self.keys, *self.counts)
        names = (*self.keys, *(f"add_{count}" for count in self.counts))
        return f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES ({', '.join(f'${name}' for name in names)})"

    def negated(self, table: str) -> str:
        negated = ", ".join(f"-{count} AS {count}" for count in self.counts)
        return f"SELECT {', '.join(self.keys)}, {negated} FROM {table}"


_VOTE_KEYS = ("day", "assistant_key", "model_key", "source")
VOTES = Cube(
    "vote_counts",
    (*_VOTE_KEYS, "rating"),
    ("votes",),
    f"""SELECT {day("f.run_at")} AS day, {key("f.run_assistant_id")} AS assistant_key,
           {key("f.run_model_name")} AS model_key, f.source, f.rating, count(*) AS votes
    FROM feedback f WHERE f.scope = '' AND {{runs}}
    GROUP BY 1, 2, 3, 4, 5""",
)
TAGS = Cube(
    "negative_tags",
    (*_VOTE_KEYS, "tag"),
    ("negative",),
    f"""SELECT day, assistant_key, model_key, source, tag, count(*) AS negative
    FROM (
        SELECT {day("f.run_at")} AS day, {key("f.run_assistant_id")} AS assistant_key,
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
    ("runs",),
    f"""SELECT {day("r.created_at")} AS day, {key("r.assistant_id")} AS assistant_key,
           {key("r.model_name")} AS model_key, r.status = 'success' AS success,
           coalesce(r.followed_up, false) AS followed_up, {_class("reviewer")} AS reviewer_class,
           {_class("end_user")} AS end_user_class, count(*) AS runs
    FROM runs r WHERE {{runs}}
    GROUP BY 1, 2, 3, 4, 5, 6, 7""",
)
# A reviewer's runs are their whole-run votes (one per run) plus the runs they rated only message by message.
REVIEWERS = Cube(
    "reviewer_counts",
    ("day", "assistant_key", "model_key", "owner_id"),
    ("votes", "positive", "negative", "whole", "message_only"),
    f"""SELECT day, assistant_key, model_key, owner_id, sum(votes) AS votes, sum(positive) AS positive,
           sum(negative) AS negative, sum(whole) AS whole, count(*) FILTER (WHERE whole = 0) AS message_only
    FROM (
        SELECT {day("f.run_at")} AS day, {key("f.run_assistant_id")} AS assistant_key,
               {key("f.run_model_name")} AS model_key, f.owner_id, f.run_id, count(*) AS votes,
               count(*) FILTER (WHERE f.rating = 1) AS positive, count(*) FILTER (WHERE f.rating = -1) AS negative,
               count(*) FILTER (WHERE f.scope = '') AS whole
        FROM feedback f WHERE f.source = 'reviewer' AND f.owner_id IS NOT NULL AND {{runs}}
        GROUP BY 1, 2, 3, 4, 5
    ) p
    GROUP BY 1, 2, 3, 4""",
)
# Runs rated as a whole by two reviewers or more, per number of raters and of thumbs-up among them: the
# agreement among reviewers (stats/reviewers.py) sums each run's agreeing pairs from these exactly.
PANELS = Cube(
    "panel_counts",
    ("day", "assistant_key", "model_key", "raters", "positive"),
    ("runs",),
    f"""SELECT {day("r.created_at")} AS day, {key("r.assistant_id")} AS assistant_key,
           {key("r.model_name")} AS model_key, r.panel_positive + r.panel_negative AS raters,
           r.panel_positive AS positive, count(*) AS runs
    FROM runs r WHERE r.panel_positive + r.panel_negative >= 2 AND {{runs}}
    GROUP BY 1, 2, 3, 4, 5""",
)
CUBES = (VOTES, TAGS, RUNS, REVIEWERS, PANELS)

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
);
CREATE TABLE IF NOT EXISTS reviewer_counts (
    day           INTEGER NOT NULL,
    assistant_key TEXT NOT NULL,
    model_key     TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    votes         BIGINT NOT NULL,
    positive      BIGINT NOT NULL,
    negative      BIGINT NOT NULL,
    whole         BIGINT NOT NULL,
    message_only  BIGINT NOT NULL,
    PRIMARY KEY (day, assistant_key, model_key, owner_id)
);
CREATE TABLE IF NOT EXISTS panel_counts (
    day           INTEGER NOT NULL,
    assistant_key TEXT NOT NULL,
    model_key     TEXT NOT NULL,
    raters        INTEGER NOT NULL,
    positive      INTEGER NOT NULL,
    runs          BIGINT NOT NULL,
    PRIMARY KEY (day, assistant_key, model_key, raters, positive)
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
        SELECT {keys} FROM ({cube.of("TRUE")} UNION ALL {cube.negated(cube.table)}) d
        GROUP BY {keys} HAVING {" OR ".join(f"sum({count}) <> 0" for count in cube.counts)}
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
    return _IN_MERGE.format(alias="r" if cube in (RUNS, PANELS) else "f")


OLD = tuple(f"CREATE TEMP TABLE _cube_old_{cube.table} AS {cube.of(_merge_runs(cube))}" for cube in CUBES)
NEW_RUNS = "INSERT INTO _cube_runs SELECT run_id FROM _stage_run"
NEW = tuple(
    cube.add(f"{cube.of(_merge_runs(cube))} UNION ALL {cube.negated(f'_cube_old_{cube.table}')}") for cube in CUBES
)
TEMP_TABLES = ("_cube_runs", *(f"_cube_old_{cube.table}" for cube in CUBES))
