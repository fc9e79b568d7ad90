"""A queue's items as rows to take away: one per item, with why it entered, its consensus, a lead's
verdict, and every reviewer's whole-run vote on it (owner, rating, comment, tags, and its rubric
`scores` when it has some).

The items are read a page at a time in run-id order (keyset pagination on the queue's primary key:
each page is one query starting after the last run id of the one before), with the votes of that page's
runs in one more query, so an export of any size holds one page in memory. JSONL keeps each item's
reviews as a list; CSV, for spreadsheets, puts them in numbered columns (`review_1_owner`,
`review_1_rating`, ..., then `review_1_score.<criterion>` per criterion of the queue's rubric, its score
as stored: `yes`/`no`, `1`-`5` or the option) as many as the item with the most reviews needs, counted
before the first page, and follows the vote export's rules for text cells (`data_layer.export`: a byte
order mark, formula starts neutralized, tags joined with `;`).

The blind rule holds (`blind.py`): on a run still blind to the reader, the others' reviews are left out
and the consensus and verdict are empty, as on the queue's items.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pyarrow as pa

from data_layer import auth, export_csv, scores
from data_layer import export as votes_export
from data_layer.errors import InvalidInput
from data_layer.queues import blind, estimate
from data_layer.rows import plain_all

FORMATS = ("csv", "jsonl")
PAGE = 500
ITEM_FIELDS = (
    "run_id",
    "thread_id",
    "reason",
    "inclusion_probability",
    "votes",
    "consensus",
    "verdict",
    "verdict_note",
    "verdict_by",
)
REVIEW_FIELDS = ("owner", "rating", "comment", "tags")

# `{open}`: the blind rule's condition that the reader may see every vote on the run.
_ITEMS = f"""
SELECT q.run_id, q.thread_id, q.reason, q.inclusion_probability,
       r.panel_positive + r.panel_negative AS votes,
       CASE WHEN {{open}} THEN {estimate.CONSENSUS} END AS consensus,
       CASE WHEN {{open}} THEN a.verdict END AS verdict,
       CASE WHEN {{open}} THEN a.note END AS verdict_note,
       CASE WHEN {{open}} THEN a.owner_id END AS verdict_by
FROM queue_items q {estimate.ITEM_JOINS}
WHERE q.queue_name = $queue_name AND q.run_id > $after
ORDER BY q.run_id
LIMIT $limit
"""

# The whole-run votes of named reviewers on the page's runs (those after `$after` up to `$last`) that
# the reader may see (`{shown}`).
_REVIEWS = """
SELECT f.feedback_id, f.run_id, f.owner_id AS owner, f.rating, f.comment, f.tags
FROM queue_items q
JOIN feedback f ON f.run_id = q.run_id AND f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL
WHERE q.queue_name = $queue_name AND q.run_id > $after AND q.run_id <= $last AND {shown}
ORDER BY f.run_id, f.created_at, f.owner_id
"""

MOST_REVIEWS = """
SELECT coalesce(max(reviews), 0) FROM (
    SELECT count(*) AS reviews
    FROM queue_items q
    JOIN feedback f ON f.run_id = q.run_id AND f.source = 'reviewer' AND f.scope = '' AND f.owner_id IS NOT NULL
    WHERE q.queue_name = $queue_name AND {shown}
    GROUP BY q.run_id
) AS counted
"""


def format_of(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"a queue exports as {' or '.join(FORMATS)}, not {str(fmt)[:40]!r}")
    return fmt


def page(conn, queue_name: str, after: str, limit: int = PAGE, *, actor: auth.Actor | None = None) -> list[dict]:
    """The next page of items after the run id `after`, each with its `reviews`, as `actor` may see them."""
    condition, hidden = blind.run_open(actor, "q.run_id")
    params = {"queue_name": queue_name, "after": after, "limit": limit, **hidden}
    items = plain_all(conn.all(_ITEMS.format(open=condition), params))
    if not items:
        return []
    condition, hidden = blind.shown(actor)
    params = {"queue_name": queue_name, "after": after, "last": items[-1]["run_id"], **hidden}
    found = scores.attach(conn, plain_all(conn.all(_REVIEWS.format(shown=condition), params)))
    reviews: dict[str, list[dict]] = {}
    for row in found:
        run_id = row.pop("run_id")
        del row["feedback_id"]
        reviews.setdefault(run_id, []).append({**row, "tags": list(row["tags"] or [])})
    return [{**item, "reviews": reviews.get(item["run_id"], [])} for item in items]


def jsonl(pages: Iterator[list[dict]]) -> Iterator[str]:
    for rows in pages:
        yield "".join(json.dumps(row) + "\n" for row in rows)


def csv_header(most: int, criteria: tuple[str, ...] = ()) -> list[str]:
    fields = [*REVIEW_FIELDS, *(votes_export.SCORE_PREFIX + name for name in criteria)]
    return [*ITEM_FIELDS, *(f"review_{n}_{field}" for n in range(1, most + 1) for field in fields)]


def _score(value) -> str | None:
    """A score as the vote export writes it: as stored (`yes`/`no`, `1`-`5`, the option)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return None if value is None else str(value)


def csv_lines(pages: Iterator[list[dict]], most: int, criteria: tuple[str, ...] = ()) -> Iterator[str]:
    """The CSV text, header first, a page at a time; `criteria` are the rubric's, a column each per review."""
    header = csv_header(most, criteria)
    yield _csv([header])
    for rows in pages:
        table = []
        for row in rows:
            flat = [row[field] for field in ITEM_FIELDS]
            for review in row["reviews"][:most]:
                flat += [review["owner"], review["rating"], review["comment"], ";".join(review["tags"])]
                flat += [_score(review.get("scores", {}).get(name)) for name in criteria]
            table.append(flat + [None] * (len(header) - len(flat)))
        yield _csv(_neutralized(table, len(header)))


def _neutralized(table: list[list], width: int) -> list[list]:
    """Each text column of the page as the vote export writes it (formula starts made inert)."""
    columns = []
    for index in range(width):
        values = [row[index] for row in table]
        if any(isinstance(value, str) for value in values):
            texts = pa.array([None if value is None else str(value) for value in values], pa.string())
            values = export_csv.neutralize(texts).to_pylist()
        columns.append(values)
    return [list(row) for row in zip(*columns, strict=True)] if table else []


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()
