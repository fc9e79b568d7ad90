"""Judges' verdicts in the import: a feedback record with `source: "judge"` and the judge it is from.

Such a record is checked here (`parse`), staged in `_stage_judge` (`STAGE`), checked against the file
and the store like a vote (`CHECKS`) and merged into `judge_votes`, never into `feedback`: one verdict
per judge and target (a whole run, or one of its messages), the file's last record of a target
winning, a stored verdict on it replaced when the file's differs (`MERGE`). Each verdict the import
creates or changes gets an audit row, as a vote does (`AUDIT`: the values as `audit.VALUE_FIELDS`
names them, the judge as `owner_id`, its rationale as `comment`, with `judge` and `scores` beside).
A `judge` field on any other source is an error, and so is a verdict without one. The fast reader
applies the same rules in SQL (`fast_sql._verdict_sql`) to verdicts without `scores`; a file holding
one with scores is read record by record, here.
"""

from __future__ import annotations

import pyarrow as pa

from data_layer import rules
from data_layer.errors import InvalidInput
from data_layer.ingest.step import Step
from data_layer.judges import verdict

_TS = pa.timestamp("us", tz="UTC")
STAGE: list[tuple[str, str, pa.DataType]] = [
    ("line", "BIGINT", pa.int64()),
    ("judge", "TEXT", pa.string()),
    ("thread_id", "TEXT", pa.string()),
    ("run_id", "TEXT", pa.string()),
    ("message_id", "TEXT", pa.string()),
    ("scope", "TEXT", pa.string()),
    ("rating", "BIGINT", pa.int64()),
    ("rationale", "TEXT", pa.string()),
    ("scores", "TEXT", pa.string()),
    ("created_at", "TIMESTAMPTZ", _TS),
    ("updated_at", "TIMESTAMPTZ", _TS),
]
# A vote's fields a verdict has no use for: giving one is an error, not something silently dropped.
_NOT_TAKEN = {
    "feedback_id": "a verdict is found by its judge and target, not by an id",
    "tags": "reason tags are people's",
}


def is_verdict(record: dict) -> bool:
    """Whether a feedback record is a judge's verdict; `InvalidInput` for a `judge` on another source."""
    source = record.get("source", "end_user")
    if source == "judge":
        return True
    if record.get("judge") is not None:
        raise InvalidInput(f"judge is given only with source judge, not with source {str(source)[:40]!r}")
    return False


def parse(line: int, r: dict, timestamp) -> tuple:
    """The staged row of a judge's verdict (`timestamp` reads an optional time field)."""
    if r.get("judge") is None:
        raise InvalidInput("a judge's verdict (source judge) is missing required field judge")
    judge = rules.identifier(r.get("judge"), "judge")
    for name in ("owner_id", "user_id"):
        if r.get(name) is not None and r.get(name) != judge:
            raise InvalidInput(f"{name} is not taken on a judge's verdict: it names its judge in judge")
    for name, why in _NOT_TAKEN.items():
        if r.get(name) not in (None, []):
            raise InvalidInput(f"{name} is not taken on a judge's verdict: {why}")
    message_id = rules.optional_identifier(r.get("message_id"), "message_id")
    return (
        line,
        judge,
        rules.identifier(r.get("thread_id"), "thread_id"),
        rules.identifier(r.get("run_id"), "run_id"),
        message_id,
        message_id or "",
        rules.rating(r.get("rating")),
        verdict.rationale(r),
        verdict.scores(r.get("scores")),
        timestamp(r, "created_at"),
        timestamp(r, "updated_at"),
    )


CHECKS = (
    Step(
        "verdict run",
        """
        SELECT j.line, 'judge''s verdict for run ' || j.run_id || ' which is neither in this file nor in the database'
               AS error
        FROM _stage_judge j
        WHERE NOT EXISTS (SELECT 1 FROM _stage_run s WHERE s.run_id = j.run_id)
          AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = j.run_id)
        """,
    ),
    Step(
        "verdict thread",
        """
        SELECT j.line, 'judge''s verdict names thread ' || j.thread_id || ' but run ' || j.run_id
               || ' belongs to thread ' || coalesce(s.thread_id, r.thread_id) AS error
        FROM _stage_judge j
        LEFT JOIN _stage_run s ON s.run_id = j.run_id
        LEFT JOIN runs r ON r.run_id = j.run_id
        WHERE coalesce(s.thread_id, r.thread_id) <> j.thread_id
        """,
    ),
    Step(
        "verdict message",
        """
        SELECT j.line, 'judge''s verdict names message ' || j.message_id || ' which is not a message of run '
               || j.run_id AS error
        FROM _stage_judge j
        WHERE j.message_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM _stage_event e WHERE e.run_id = j.run_id AND e.message_id = j.message_id)
          AND NOT EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = j.run_id
                          AND e.message_id = j.message_id AND e.category = 'message')
        """,
    ),
)

# The file's last verdict per judge and target, beside the stored one it may replace; kept are those
# that create a verdict or change one (`created`), each with the id it has or gets.
_CHANGING = """
CREATE TEMP TABLE _judge_changing AS
SELECT s.line, s.judge, s.thread_id, s.run_id, s.message_id, s.scope, s.rating, s.rationale, s.scores,
       s.created_at, s.updated_at, x.judge_vote_id IS NULL AS created,
       coalesce(x.judge_vote_id, CAST(gen_random_uuid() AS TEXT)) AS judge_vote_id,
       x.message_id AS old_message_id, x.rating AS old_rating, x.rationale AS old_rationale,
       x.scores AS old_scores, x.created_at AS old_created_at, x.updated_at AS old_updated_at
FROM (SELECT s.*, row_number() OVER (PARTITION BY s.judge, s.run_id, s.scope ORDER BY s.line DESC) AS pick
      FROM _stage_judge s) s
LEFT JOIN judge_votes x ON x.judge = s.judge AND x.run_id = s.run_id AND x.scope = s.scope
WHERE s.pick = 1
  AND (x.judge_vote_id IS NULL OR x.rating <> s.rating OR x.rationale IS DISTINCT FROM s.rationale
       OR x.scores IS DISTINCT FROM s.scores)
"""

_UPDATE = """
UPDATE judge_votes SET
    rating = c.rating,
    rationale = c.rationale,
    scores = c.scores,
    updated_at = coalesce(c.updated_at, c.created_at, $now)
FROM _judge_changing c
WHERE judge_votes.judge_vote_id = c.judge_vote_id AND NOT c.created
"""

_INSERT = """
INSERT INTO judge_votes (judge_vote_id, judge, thread_id, run_id, message_id, scope, rating, rationale, scores,
                         created_at, updated_at)
SELECT judge_vote_id, judge, thread_id, run_id, message_id, scope, rating, rationale, scores,
       coalesce(created_at, $now), coalesce(updated_at, created_at, $now)
FROM _judge_changing WHERE created
"""
# Two PostgreSQL sessions may give the same new verdict at once (a judge's PUT, another import): the
# later one replaces it, as a later verdict does.
_CONCURRENT_INSERT = """
ON CONFLICT (judge, run_id, scope) DO UPDATE SET
    rating = excluded.rating, rationale = excluded.rationale, scores = excluded.scores,
    updated_at = excluded.updated_at
"""

MERGE = (
    Step("changing verdicts", _CHANGING),
    Step("update verdicts", _UPDATE),
    Step("insert verdicts", _INSERT, concurrent_sql=_INSERT + _CONCURRENT_INSERT),
)

_AUDIT = """
INSERT INTO feedback_audit (changed_at, actor_id, actor_role, action, feedback_id, thread_id, run_id,
                            old_value, new_value)
SELECT $changed_at, CAST($actor_id AS TEXT), $actor_role, CASE WHEN c.created THEN 'create' ELSE 'update' END,
       j.judge_vote_id, j.thread_id, j.run_id, CASE WHEN c.created THEN NULL ELSE {old} END, {new}
FROM _judge_changing c JOIN judge_votes j ON j.judge_vote_id = c.judge_vote_id
"""


def _value_sql(engine, alias: str, prefix: str = "") -> str:
    """SQL building a verdict's audit value from the columns of `alias` (the stored ones, or with `prefix`
    `old_` the values before the import)."""
    time = engine.iso_time.format
    pairs = [
        ("owner_id", f"{alias}.judge"),
        ("message_id", f"{alias}.{prefix}message_id"),
        ("rating", f"{alias}.{prefix}rating"),
        ("comment", f"{alias}.{prefix}rationale"),
        ("tags", "CAST('[]' AS JSON)"),
        ("source", "'judge'"),
        ("created_at", time(time=f"{alias}.{prefix}created_at")),
        ("updated_at", time(time=f"{alias}.{prefix}updated_at")),
        ("judge", f"{alias}.judge"),
        ("scores", f"CAST({alias}.{prefix}scores AS JSON)"),
    ]
    return engine.json_object.format(pairs=", ".join(f"'{name}', {sql}" for name, sql in pairs))


def audit_sql(engine) -> str:
    """The statement that appends an audit row per verdict the import created or changed."""
    return _AUDIT.format(old=_value_sql(engine, "c", "old_"), new=_value_sql(engine, "j"))


TEMP_TABLES = ("_stage_judge", "_judge_changing")
