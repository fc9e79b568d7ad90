"""The import's rubric scores: a feedback record's `scores`, checked against the rubrics of the queues its
run is in (once the merge has put the file's runs in their queues) and written in the import's
transaction, replacing the scores of the vote the record became.

A record without scores leaves its vote's scores alone. A vote whose scores change gets an audit row
like any changed vote (`_changing` and `_written` gain it when nothing else of it changed), and the audit
rows of the import carry each vote's scores before and after (`_score_audit`, read by
`audit.record_import`).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from data_layer.errors import InvalidInput
from data_layer.ingest import votes
from data_layer.queues.rubric import Rubric
from data_layer.scores import as_object, audit_json

# The staged scores of the records the merge kept (the newest per owner and target), with the vote each
# record became; the last record of a vote wins, as the written votes do.
_GIVEN = """
SELECT s.line, s.criterion, s.value, v.target_id AS feedback_id, v.run_id
FROM _stage_score s JOIN _votes v ON v.line = s.line
ORDER BY s.line, s.criterion
"""

_RUBRICS = """
SELECT q.run_id, x.rubric FROM queue_items q JOIN queues x ON x.name = q.queue_name
WHERE q.run_id IN (SELECT DISTINCT v.run_id FROM _stage_score s JOIN _votes v ON v.line = s.line)
  AND x.rubric IS NOT NULL AND x.rubric <> '[]'
ORDER BY q.run_id, x.name
"""

_STORED = """
SELECT feedback_id, criterion, kind, value, number FROM vote_scores
WHERE feedback_id IN (SELECT feedback_id FROM _score_votes UNION SELECT feedback_id FROM _changing)
ORDER BY feedback_id, criterion
"""

_MARK_CHANGED = "UPDATE _score_votes SET changed = true WHERE feedback_id IN (SELECT unnest(CAST($ids AS TEXT[])))"

_REPLACED = "DELETE FROM vote_scores WHERE feedback_id IN (SELECT feedback_id FROM _score_votes WHERE changed)"

_INSERT = """
INSERT INTO vote_scores (feedback_id, run_id, criterion, kind, value, number, updated_at)
SELECT feedback_id, run_id, criterion, kind, value, number, $now FROM _score_rows
"""

# A vote whose scores alone change is audited as changed: it joins `_changing` (its values before, which
# are its values after too) and `_written` (as stored).
_ONLY_SCORES_CHANGING = """
INSERT INTO _changing
SELECT f.feedback_id, false, f.owner_id, f.message_id, f.rating, f.comment, f.tags, f.source, f.created_at,
       f.updated_at
FROM feedback f
WHERE f.feedback_id IN (SELECT feedback_id FROM _score_votes WHERE changed)
  AND f.feedback_id NOT IN (SELECT feedback_id FROM _changing)
"""

_ONLY_SCORES_WRITTEN = f"""
INSERT INTO _written ({votes.WRITTEN})
SELECT {votes.WRITTEN} FROM feedback
WHERE feedback_id IN (SELECT feedback_id FROM _score_votes WHERE changed)
  AND feedback_id NOT IN (SELECT feedback_id FROM _written)
"""

_SCORE_ROWS = pa.schema(
    [
        ("feedback_id", pa.string()),
        ("run_id", pa.string()),
        ("criterion", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("number", pa.float64()),
    ]
)
_SCORE_VOTES = pa.schema([("feedback_id", pa.string()), ("changed", pa.bool_())])
_SCORE_AUDIT = pa.schema([("feedback_id", pa.string()), ("old_scores", pa.string()), ("new_scores", pa.string())])

TEMP_TABLES = ("_stage_score", "_score_votes", "_score_rows", "_score_audit")


def create_stage(conn) -> None:
    conn.execute("CREATE TEMP TABLE _stage_score (line BIGINT, criterion TEXT, value TEXT)")


def _rubrics(conn) -> dict[str, Rubric]:
    """Each run's criteria from every queue it is in, each named once (the first queue by name defines it)."""
    criteria: dict[str, dict] = {}
    for row in conn.all(_RUBRICS):
        for criterion in Rubric.of(row["rubric"]).criteria:
            criteria.setdefault(row["run_id"], {}).setdefault(criterion.name, criterion)
    return {run_id: Rubric(tuple(found.values())) for run_id, found in criteria.items()}


def _checked(conn) -> tuple[dict[str, dict], list[dict]]:
    """The scores per vote as rows to store, and the lines whose scores break a rule."""
    given = conn.all(_GIVEN)
    rubrics = _rubrics(conn)
    lines: dict[str, int] = {}
    per_vote: dict[str, dict] = {}
    errors = []
    for row in given:
        rubric = rubrics.get(row["run_id"], Rubric())
        criterion = rubric.get(row["criterion"])
        try:
            if criterion is None:
                raise InvalidInput(
                    f"score {row['criterion']}: run {row['run_id']} is in no queue whose rubric has this criterion"
                )
            text, number = criterion.value(row["value"])
        except InvalidInput as error:
            errors.append({"line": int(row["line"]), "error": str(error)})
            continue
        # Rows come in line order: a later record of the same vote replaces an earlier one's scores whole.
        if lines.setdefault(row["feedback_id"], row["line"]) != row["line"]:
            lines[row["feedback_id"]] = row["line"]
            per_vote[row["feedback_id"]] = {}
        per_vote.setdefault(row["feedback_id"], {})[row["criterion"]] = {
            "feedback_id": row["feedback_id"],
            "run_id": row["run_id"],
            "criterion": row["criterion"],
            "kind": criterion.kind,
            "value": text,
            "number": number,
        }
    return per_vote, errors


def merge(conn, now: datetime) -> list[dict] | None:
    """Check and write the staged scores; the lines that break a rule (nothing written then), or None
    when the file carries no scores (no audit columns for them either)."""
    if not conn.scalar("SELECT count(*) FROM _stage_score"):
        return None
    per_vote, errors = _checked(conn)
    if errors:
        return errors
    ids = list(per_vote)
    conn.execute(f"CREATE TEMP TABLE _score_votes ({_columns(_SCORE_VOTES)})")
    if ids:
        conn.load("_score_votes", pa.table({"feedback_id": ids, "changed": [False] * len(ids)}, schema=_SCORE_VOTES))
    stored: dict[str, list[dict]] = {}
    for row in conn.all(_STORED):
        stored.setdefault(row["feedback_id"], []).append(row)
    new = {fid: as_object(list(rows.values())) for fid, rows in per_vote.items()}
    changed = [fid for fid in ids if new[fid] != as_object(stored.get(fid, []))]
    conn.execute(_MARK_CHANGED, {"ids": changed})
    conn.execute(_REPLACED)
    conn.execute(f"CREATE TEMP TABLE _score_rows ({_columns(_SCORE_ROWS)})")
    rows = [row for fid in changed for row in per_vote[fid].values()]
    if rows:
        conn.load("_score_rows", pa.Table.from_pylist(rows, schema=_SCORE_ROWS))
        conn.execute(_INSERT, {"now": now})
    conn.execute(_ONLY_SCORES_CHANGING)
    conn.execute(_ONLY_SCORES_WRITTEN)
    # Each audited vote's scores before and after the import.
    audited = {fid for fid in stored} | set(ids)
    conn.execute(f"CREATE TEMP TABLE _score_audit ({_columns(_SCORE_AUDIT)})")
    records = [
        {
            "feedback_id": fid,
            "old_scores": audit_json(as_object(stored.get(fid, []))),
            "new_scores": audit_json(new[fid] if fid in new else as_object(stored.get(fid, []))),
        }
        for fid in sorted(audited)
    ]
    if records:
        conn.load("_score_audit", pa.Table.from_pylist(records, schema=_SCORE_AUDIT))
    return []


def _columns(schema: pa.Schema) -> str:
    types = {pa.string(): "TEXT", pa.float64(): "DOUBLE PRECISION", pa.bool_(): "BOOLEAN"}
    return ", ".join(f"{field.name} {types[field.type]}" for field in schema)
