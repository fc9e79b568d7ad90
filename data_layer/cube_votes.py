"""A vote write's moves of the stats cubes (`data_layer/cubes.py`): the cells of the vote before and after,
of its run's class and panel, and of its owner's reviewer activity, each cube in one statement on
PostgreSQL and by updates by key on DuckDB. `rollups.adjust` calls `adjust` with the run it just updated.
"""

from __future__ import annotations

import math

from data_layer.cubes import PANELS, REVIEWERS, RUNS, TAGS, UNTAGGED, VOTES, Cube, key_of

# The run's columns a vote write needs, read when the vote's own write did not return them.
RUN_COLUMNS = """created_at, assistant_id, model_name, status, followed_up,
    reviewer_positive, reviewer_negative, end_user_positive, end_user_negative, panel_positive, panel_negative"""
RUN_CELL = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $run_id"


def day_of(moment) -> int:
    """The UTC day number of a time, as `stats.sql.DAY` computes it."""
    return math.floor(moment.timestamp() / 86400)


def _class_of(run: dict, source: str) -> int:
    return (1 if run[f"{source}_positive"] > 0 else 0) + (2 if run[f"{source}_negative"] > 0 else 0)


def _tags(vote: dict) -> list[str]:
    return list(vote["tags"] or []) or [UNTAGGED]


Cells = dict[tuple, tuple[int, ...]]


def _cell(run: dict, *rest) -> tuple:
    return (day_of(run["created_at"]), key_of(run["assistant_id"]), key_of(run["model_name"]), *rest)


def _cells(vote: dict | None, run: dict, sign: int) -> tuple[Cells, Cells]:
    votes: Cells = {}
    tags: Cells = {}
    if vote is None or vote["message_id"] is not None:
        return votes, tags
    votes[_cell(run, vote["source"], vote["rating"])] = (sign,)
    if vote["rating"] == -1:
        for tag in _tags(vote):
            cell = _cell(run, vote["source"], tag)
            tags[cell] = (tags.get(cell, (0,))[0] + sign,)
    return votes, tags


def moves(old: dict | None, new: dict | None) -> bool:
    """Whether a vote changing from `old` to `new` moves a vote or tag cell (the run and reviewer cells move
    with the run's tallies)."""
    before = (old["source"], old["rating"], sorted(_tags(old))) if old and old["message_id"] is None else None
    after = (new["source"], new["rating"], sorted(_tags(new))) if new and new["message_id"] is None else None
    return before != after


# The owner's reviewer votes on a run, whole-run and on its messages (after the write), through the votes'
# run_id index (DuckDB uses it for a filter on that column alone).
_PAIR = """
WITH f AS MATERIALIZED (SELECT owner_id, source, scope FROM feedback WHERE run_id = $run_id)
SELECT count(*) FILTER (WHERE scope = '') AS whole, count(*) FILTER (WHERE scope <> '') AS message
FROM f WHERE owner_id = $owner_id AND source = 'reviewer'
"""


def _reviewer_part(vote: dict | None) -> tuple[int, int] | None:
    """A vote's share in its owner's reviewer cell: (whole-run, on a message), or None when it has none."""
    if vote is None or vote["source"] != "reviewer" or vote["owner_id"] is None:
        return None
    return (1, 0) if vote["message_id"] is None else (0, 1)


def _reviewers(conn, old: dict | None, new: dict | None, run: dict) -> Cells:
    parts = (_reviewer_part(old), _reviewer_part(new))
    vote = new or old
    if vote is None or parts == (None, None):
        return {}
    counts = [0, 0, 0, 0, 0]  # votes, positive, negative, whole, message_only
    for side, part, sign in ((old, parts[0], -1), (new, parts[1], 1)):
        if side is not None and part is not None:
            counts[0] += sign
            counts[1 if side["rating"] == 1 else 2] += sign
            counts[3] += sign * part[0]
    if parts[0] != parts[1]:
        # The run counts once among the owner's runs rated only message by message while the owner has
        # votes on its messages and none on the whole run.
        now = conn.one(_PAIR, {"run_id": vote["run_id"], "owner_id": vote["owner_id"]})
        whole, message = int(now["whole"]), int(now["message"])
        before = [whole, message]
        for part, sign in ((parts[1], -1), (parts[0], 1)):
            if part is not None:
                before = [before[0] + sign * part[0], before[1] + sign * part[1]]
        counts[4] = int(message > 0 and whole == 0) - int(before[1] > 0 and before[0] == 0)
    return {_cell(run, vote["owner_id"]): tuple(counts)}


_TYPES = {
    "day": "INTEGER",
    "rating": "SMALLINT",
    "success": "BOOLEAN",
    "followed_up": "BOOLEAN",
    "reviewer_class": "SMALLINT",
    "end_user_class": "SMALLINT",
    "raters": "INTEGER",
    "positive": "INTEGER",
}


def _values(cube: Cube, cells: Cells, prefix: str) -> tuple[str, dict]:
    """The cells as a VALUES query; each parameter is cast to its column's type, as PostgreSQL infers none
    in VALUES (counts BIGINT, other keys TEXT)."""
    rows: list[str] = []
    params: dict[str, object] = {}
    columns = (*cube.keys, *cube.counts)
    for index, (cell, counts) in enumerate(cells.items()):
        names = [f"{prefix}{index}_{column}" for column in columns]
        types = [_TYPES.get(column, "TEXT") for column in cube.keys] + ["BIGINT"] * len(cube.counts)
        rows.append("(" + ", ".join(f"CAST(${name} AS {t})" for name, t in zip(names, types, strict=True)) + ")")
        params.update(zip(names, (*cell, *counts), strict=True))
    return f"SELECT * FROM (VALUES {', '.join(rows)}) AS v ({', '.join(columns)})", params


def _write(conn, cube: Cube, cells: Cells, prefix: str) -> None:
    cells = {cell: counts for cell, counts in cells.items() if any(counts)}
    if not cells:
        return
    if not conn.writes_serialized:
        rows, params = _values(cube, cells, prefix)
        conn.execute(cube.add(rows), params)
        return
    # DuckDB runs ON CONFLICT as a MERGE: about 13 ms a statement, against 2 ms for an update by key. With
    # writes serialized in the process, update-or-insert cannot race.
    for cell, counts in cells.items():
        params = {
            **dict(zip(cube.keys, cell, strict=True)),
            **{f"add_{c}": n for c, n in zip(cube.counts, counts, strict=True)},
        }
        if not conn.all(cube.update_cell(), params):
            conn.execute(cube.insert_cell(), params)


def _merged(first: Cells, second: Cells) -> Cells:
    out = dict(first)
    for cell, counts in second.items():
        out[cell] = tuple(a + b for a, b in zip(out.get(cell, (0,) * len(counts)), counts, strict=True))
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
        cell = _cell(run, run["status"] == "success", bool(run["followed_up"]))
        _write(conn, RUNS, {(*cell, *classes[0]): (-1,), (*cell, *classes[1]): (1,)}, "r")
    _write(conn, REVIEWERS, _reviewers(conn, old, new, run), "w")
    panels: Cells = {}
    for sign, positive, negative in (
        (-1, before["panel_positive"], before["panel_negative"]),
        (1, run["panel_positive"], run["panel_negative"]),
    ):
        if positive + negative >= 2:
            cell = _cell(run, positive + negative, positive)
            panels[cell] = (panels.get(cell, (0,))[0] + sign,)
    _write(conn, PANELS, panels, "p")
