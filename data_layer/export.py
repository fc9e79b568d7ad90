"""Export of feedback with its run and thread context, streamed to CSV, Parquet or JSONL.

Each row is one vote: who gave it (reviewer, source), when, the rating, comment and reason tags,
and what it judged: the assistant, model and status of the run, the human message that started
the run and the ai answer (for a vote on one message, that message itself). Rows are read as
Arrow batches from a streaming query and written batch by batch, so a large export never sits in
memory whole. Filters (`data_layer.filters`) are the insight pages', plus the rating; the source
`judge` lists LLM judges' verdicts instead, in the same shape (`export_judges.py`). Every row names its
reviewer and may hold a comment: each call takes the `actor` asking, which must be allowed to read
(`auth.authorize`), and leaves out the votes the blind rule hides from it (`queues/blind.py`).

The rows are read in slices of vote time of at most about `SLICE_ROWS` votes each, one query per
slice, cut at hour boundaries found by a count per hour: a query's memory is its slice's join and
sort, not the whole export's (one query over a million votes held 1.9 GiB, most of it the sort of
every joined row with its message texts). A vote's creation time never changes, so every vote
falls in exactly one slice; slices are read one after another, each as its own snapshot.

CSV is meant to be opened in a spreadsheet: it starts with a UTF-8 byte order mark (so Excel
reads non-ASCII text right; read it back with `encoding="utf-8-sig"`), a text cell beginning
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP CSV injection),
tags are joined with `;`, and times are `YYYY-MM-DD HH:MM:SS` in UTC, whole seconds, the form
spreadsheets read as a date and time; their header names say so (`created_at_utc`, one column per
time column chosen). JSONL and Parquet keep the exact text, tags as lists, the column names as
chosen and times to the microsecond (JSONL as ISO 8601 with the offset, Parquet as UTC timestamps).

Rubric scores (`data_layer/scores.py`) are columns `score.<criterion>`, one per criterion any vote has a
score for, after the fixed ones when all columns are asked for (None), or named among the chosen ones.
A cell holds the score as stored: `yes`/`no` for a binary criterion, `1`-`5` for an ordinal one, the
option for a categorical one; empty when the vote has no score for it. The `correction` column holds the
answer the reviewer wrote beside the vote (`data_layer/corrections.py`), empty when there is none.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_layer import auth, export_judges
from data_layer.errors import InvalidInput
from data_layer.export_csv import write_csv
from data_layer.filters import RUNS, VOTES, Filters, Table, conditions
from data_layer.queues import blind
from data_layer.queues.rubric import NAME_PATTERN

FORMATS = ("csv", "parquet", "jsonl")
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "jsonl": "application/x-ndjson"}
BATCH_ROWS = 50_000
SLICE_ROWS = 500_000

_TIME = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    sql: str
    type: pa.DataType
    help: str


COLUMNS: dict[str, Column] = {
    "created_at": Column("f.created_at", _TIME, "when the vote was given"),
    "rating": Column("f.rating", pa.int16(), "1 thumbs-up, -1 thumbs-down"),
    "tags": Column("f.tags", pa.list_(pa.string()), "reason tags (CSV: joined with ;)"),
    "comment": Column("f.comment", pa.string(), "free-text comment"),
    "reviewer": Column("f.owner_id", pa.string(), "who voted"),
    "source": Column("f.source", pa.string(), "reviewer or end_user"),
    "assistant_id": Column("r.assistant_id", pa.string(), "assistant of the run"),
    "model_name": Column("r.model_name", pa.string(), "model of the run"),
    "run_status": Column("r.status", pa.string(), "status of the run"),
    "human_message": Column("r.first_human_message", pa.string(), "the human message that started the run"),
    "ai_message": Column(
        "CASE WHEN f.message_id IS NULL THEN r.last_ai_message ELSE m.text END",
        pa.string(),
        "the ai answer judged: the run's last answer, or the message voted on",
    ),
    "correction": Column(
        "vc.correction", pa.string(), "the answer the agent should have given, as the reviewer wrote it (markdown)"
    ),
    "thread_title": Column("t.title", pa.string(), "the thread's title"),
    "run_created_at": Column("r.created_at", _TIME, "when the run started"),
    "updated_at": Column("f.updated_at", _TIME, "when the vote was last changed"),
    "feedback_id": Column("f.feedback_id", pa.string(), "id of the vote"),
    "thread_id": Column("f.thread_id", pa.string(), "thread of the run"),
    "run_id": Column("f.run_id", pa.string(), "run judged"),
    "message_id": Column("f.message_id", pa.string(), "message judged, empty for a vote on the whole run"),
}

# The export's filters: the insight pages' runs and votes, the vote's rating; source `judge`: verdicts.
TAKES = (*RUNS, *VOTES, "rating")


def _chosen(filters) -> Filters:
    return Filters.of(filters, takes=TAKES, reader="the export", judges=True)


_VOTES: Table = {**VOTES, "rating": "f.rating = $rating"}
# The columns every export may name, after `COLUMNS`: a judge export's defaults, empty on people's votes.
JUDGE_COLUMNS = {name: Column(sql, kind, text) for name, (sql, _, kind, text) in export_judges.COLUMNS.items()}
NAMED = {**COLUMNS, **JUDGE_COLUMNS}

SCORE_PREFIX = "score."
_SCORE_NAME = re.compile(re.escape(SCORE_PREFIX) + NAME_PATTERN)
_CRITERIA = "SELECT DISTINCT criterion FROM vote_scores ORDER BY criterion LIMIT 1000"
# The chosen criteria's scores of each vote as columns s0, s1, ...
_SCORES = """
LEFT JOIN (
    SELECT feedback_id, {pivot} FROM vote_scores GROUP BY feedback_id
) sc ON sc.feedback_id = f.feedback_id"""

# The votes' corrected answers (data_layer/corrections.py), joined only when the column is chosen.
_CORRECTIONS = """
LEFT JOIN vote_corrections vc ON vc.feedback_id = f.feedback_id"""

_FROM = """
FROM {votes} f
JOIN runs r ON r.run_id = f.run_id
LEFT JOIN threads t ON t.thread_id = f.thread_id{scores}
LEFT JOIN (
    SELECT e.run_id, e.message_id, (array_agg(e.text ORDER BY e.seq))[1] AS text
    FROM run_events e
    JOIN (SELECT DISTINCT f.run_id, f.message_id FROM {votes} f WHERE f.message_id IS NOT NULL{slice}) voted
      ON voted.run_id = e.run_id AND voted.message_id = e.message_id
    WHERE e.category = 'message'
    GROUP BY e.run_id, e.message_id
) m ON m.run_id = f.run_id AND m.message_id = f.message_id
WHERE {run} AND {vote}{slice}
"""

# Votes per hour of vote time, to size the slices (`_slices`). Sizes only: the votes alone, without
# the join to their runs (0.45 s at a million), so a filter on runs makes the slices smaller than
# they need be, never wrong. Hours since 1970 rather than `date_trunc`, which goes through the
# time zone (8 ms against 60 ms).
_HOURS = """
SELECT CAST(floor(extract(epoch FROM f.created_at) / 3600) AS BIGINT) AS hour, count(*) AS votes
FROM {votes} f
WHERE {vote}
GROUP BY CAST(floor(extract(epoch FROM f.created_at) / 3600) AS BIGINT)
ORDER BY hour
"""

_COUNT = """
SELECT count(*)
FROM {votes} f JOIN runs r ON r.run_id = f.run_id
WHERE {run} AND {vote}
"""


def score_columns(store) -> list[str]:
    """The `score.<criterion>` columns there are: one per criterion some vote has a score for."""
    with store.engine.stale_read() as conn:
        return _score_columns(conn)


def _score_columns(conn) -> list[str]:
    return [SCORE_PREFIX + row["criterion"] for row in conn.all(_CRITERIA)]


def columns_of(columns, scores: list[str] | tuple[str, ...] = (), *, judges: bool = False) -> list[str]:
    """The chosen column names in order, checked against `COLUMNS`, `JUDGE_COLUMNS` and `score.<criterion>`
    (None: all of them, with the score columns `scores`; `JUDGE_COLUMNS` only in an export of `judges`)."""
    if columns is None:
        return [*COLUMNS, *(JUDGE_COLUMNS if judges else ()), *scores]
    if isinstance(columns, str) or not all(isinstance(name, str) for name in columns):
        raise InvalidInput("columns must be a list of column names")
    chosen: list[str] = []
    for name in columns:
        if name not in NAMED and not _SCORE_NAME.fullmatch(name):
            raise InvalidInput(f"unknown column {name!r:.60}; choose from {', '.join(NAMED)} or score.<criterion>")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidInput("choose at least one column")
    return chosen


def _where(filters, actor: auth.Actor) -> tuple[dict, dict]:
    """The filters' conditions on runs and votes (`votes`: people's, or judges' verdicts in their shape);
    the votes' leave out those the blind rule hides from `actor` (`queues/blind.py`)."""
    chosen = _chosen(filters)
    run, run_params = conditions(chosen, RUNS)
    vote, vote_params = conditions(chosen, _VOTES)
    shown, shown_params = blind.shown(actor)
    votes = export_judges.VERDICTS if export_judges.judged(chosen) else "feedback"
    parts = {"run": run, "vote": f"{vote} AND {shown}", "slice": "", "scores": "", "votes": votes}
    return parts, {**run_params, **vote_params, **shown_params}


def _query(filters, columns, actor: auth.Actor, sliced: str = "") -> tuple[str, dict, pa.Schema]:
    names = columns_of(columns)
    parts, params = _where(filters, actor)
    criteria = [name.removeprefix(SCORE_PREFIX) for name in names if name.startswith(SCORE_PREFIX)]
    pivot = ", ".join(f"max(value) FILTER (WHERE criterion = $score_{i}) AS s{i}" for i in range(len(criteria)))
    params.update({f"score_{i}": criterion for i, criterion in enumerate(criteria)})
    scored = iter(range(len(criteria)))
    verdicts = export_judges.judged(filters)
    select = ",\n       ".join(
        f"{COLUMNS[name].sql} AS {name}"
        if name in COLUMNS
        # a judges' column, or a score (`AS s_<i>`: a criterion's name is no SQL name)
        else f"{export_judges.select(name, verdicts, None if name in JUDGE_COLUMNS else next(scored))} AS s_{i}"
        for i, name in enumerate(names)
    )
    joins = (_SCORES.format(pivot=pivot) if criteria and not verdicts else "") + (
        _CORRECTIONS if "correction" in names else ""
    )
    source = _FROM.format(**{**parts, "slice": sliced, "scores": joins})
    sql = f"SELECT {select}{source}ORDER BY f.created_at, f.feedback_id"
    schema = pa.schema([(name, NAMED[name].type if name in NAMED else pa.string()) for name in names])
    return sql, params, schema


def _slices(conn, filters, actor: auth.Actor, size: int) -> list[tuple[str, dict]]:
    """Consecutive vote-time slices of about `size` votes (an hour with more is one slice), each as a
    condition on `f.created_at` and its parameters; the first is open below, the last above."""
    parts, params = _where(filters, actor)
    cuts, held = [], 0
    for row in conn.all(_HOURS.format(**parts), params):
        if held and held + row["votes"] > size:
            cuts.append(datetime.fromtimestamp(int(row["hour"]) * 3600, UTC))
            held = 0
        held += row["votes"]
    bounds = [None, *cuts, None]
    slices = []
    for low, high in zip(bounds, bounds[1:]):
        sql, values = "", {}
        if low is not None:
            sql += " AND f.created_at >= $slice_from"
            values["slice_from"] = low
        if high is not None:
            sql += " AND f.created_at < $slice_until"
            values["slice_until"] = high
        slices.append((sql, values))
    return slices


def count(store, filters=None, *, actor: auth.Actor) -> int:
    """How many rows an export with these filters writes."""
    auth.authorize(actor, "read")
    parts, params = _where(filters, actor)
    with store.engine.stale_read() as conn:
        return int(conn.scalar(_COUNT.format(**parts), params))


def preview(store, filters=None, *, actor: auth.Actor, columns=None, limit: int = 20) -> list[dict]:
    """The first rows of the export as plain dicts (times ISO 8601, tags lists)."""
    auth.authorize(actor, "read")
    with store.engine.stale_read() as conn:
        columns = columns_of(columns, _score_columns(conn), judges=export_judges.judged(filters))
        sql, params, schema = _query(filters, columns, actor)
        reader = conn.arrow_batches(f"{sql}\nLIMIT $limit", {**params, "limit": int(limit)}, batch_size=limit)
        rows = [row for batch in reader for row in _conform(batch, schema).to_pylist()]
    return [{key: _jsonable(value) for key, value in row.items()} for row in rows]


def batches(
    store, filters=None, *, actor: auth.Actor, columns=None, batch_size: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """The export's rows as Arrow record batches of the declared column types, streamed (the actor is
    asked at the call, not at the first batch)."""
    auth.authorize(actor, "read")
    return _batches(store, _chosen(filters), columns, batch_size, actor)


def _batches(store, filters: Filters, columns, batch_size: int, actor: auth.Actor) -> Iterator[pa.RecordBatch]:
    with store.engine.stale_read() as conn:
        columns = columns_of(columns, _score_columns(conn), judges=export_judges.judged(filters))
        for sliced, bounds in _slices(conn, filters, actor, max(SLICE_ROWS, batch_size)):
            sql, params, schema = _query(filters, columns, actor, sliced)
            for batch in conn.bulk_batches(sql, {**params, **bounds}, batch_size=batch_size):
                yield _conform(batch, schema)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    # Engines differ in small type details (list field names, large strings): one declared schema.
    return pa.RecordBatch.from_arrays(
        [batch.column(i).cast(field.type) for i, field in enumerate(schema)], schema=schema
    )


def write(
    store,
    path,
    fmt: str | None = None,
    filters=None,
    *,
    actor: auth.Actor,
    columns=None,
    batch_size: int = BATCH_ROWS,
) -> int:
    """Write the export to `path` (format from `fmt` or the file's extension); returns the row count.

    The file appears only when complete: it is written beside the target and renamed at the end.
    """
    auth.authorize(actor, "read")
    target = Path(path)
    fmt = format_of(fmt, target)
    if target.is_dir():
        raise InvalidInput(f"{target} is a directory; give a file name")
    if not target.parent.is_dir():
        raise InvalidInput(f"directory {target.parent} does not exist")
    filters = _chosen(filters)
    columns = columns_of(columns, score_columns(store) if columns is None else (), judges=export_judges.judged(filters))
    _, _, schema = _query(filters, columns, actor)  # validates before anything touches the disk
    partial = target.with_name(f".{target.name}.part")
    try:
        with partial.open("wb") as sink:
            rows = _WRITERS[fmt](sink, _batches(store, filters, columns, batch_size, actor), schema)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return rows


def format_of(fmt: str | None, path: Path | None = None) -> str:
    if fmt is None and path is not None:
        fmt = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(path.suffix.lower())
    if fmt is None and path is not None:
        raise InvalidInput(f"cannot tell the format from {path.name!r}: name it .csv, .parquet or .jsonl, or give one")
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r:.20} is not one of {', '.join(FORMATS)}")
    return fmt


def _write_parquet(sink, stream, schema: pa.Schema) -> int:
    rows = 0
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in stream:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _write_jsonl(sink, stream, schema: pa.Schema) -> int:
    rows = 0
    for batch in stream:
        lines = [json.dumps(row, ensure_ascii=False, default=_jsonable) for row in batch.to_pylist()]
        if lines:
            sink.write(("\n".join(lines) + "\n").encode("utf-8"))
        rows += batch.num_rows
    return rows


_WRITERS = {"csv": write_csv, "parquet": _write_parquet, "jsonl": _write_jsonl}
