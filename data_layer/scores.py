"""The scores votes give rubric criteria (`vote_scores`), written in the vote's own transaction.

A vote written with scores has them replaced as a whole; a vote written without (`scores` None) keeps
the ones it has; a removed vote loses them. Scores are checked against a rubric (`queues.rubric`): a
queue's own when a reviewer submits through the queue (its required criteria enforced), else the
criteria of every queue the run is in, so that no vote holds a score for a criterion none of its run's
queues defines. Reads attach them to votes as `scores`, an object of criterion to value (a binary one
true/false, an ordinal one its integer, a categorical one its option), only on votes that have some.
"""

from __future__ import annotations

import json
from datetime import datetime

from data_layer.errors import InvalidInput
from data_layer.queues.rubric import Criterion, Rubric, shown

_OF_VOTE = "SELECT criterion, kind, value, number FROM vote_scores WHERE feedback_id = $feedback_id ORDER BY criterion"

_OF_VOTES = """
SELECT feedback_id, criterion, kind, value, number FROM vote_scores
WHERE feedback_id IN (SELECT unnest(CAST($ids AS TEXT[])))
ORDER BY feedback_id, criterion
"""

_DELETE = "DELETE FROM vote_scores WHERE feedback_id = $feedback_id"

_INSERT = """
INSERT INTO vote_scores (feedback_id, run_id, criterion, kind, value, number, updated_at)
VALUES ($feedback_id, $run_id, $criterion, $kind, $value, $number, $now)
"""

# The rubrics of every queue a run is in, by queue name (the first queue naming a criterion defines it).
_RUBRICS = """
SELECT x.name, x.rubric FROM queue_items q JOIN queues x ON x.name = q.queue_name
WHERE q.run_id = $run_id AND x.rubric IS NOT NULL AND x.rubric <> '[]'
ORDER BY x.name
"""


def as_object(rows: list[dict]) -> dict:
    """Stored score rows as the object reads show."""
    return {row["criterion"]: shown(row["kind"], row["value"], row["number"]) for row in rows}


def of_vote(conn, feedback_id: str) -> dict:
    return as_object(conn.all(_OF_VOTE, {"feedback_id": feedback_id}))


def attach(conn, votes: list[dict]) -> list[dict]:
    """`votes` with `scores` added to each that has some (one read for all of them)."""
    if not votes:
        return votes
    found: dict[str, list[dict]] = {}
    for row in conn.all(_OF_VOTES, {"ids": [vote["feedback_id"] for vote in votes]}):
        found.setdefault(row["feedback_id"], []).append(row)
    for vote in votes:
        if vote["feedback_id"] in found:
            vote["scores"] = as_object(found[vote["feedback_id"]])
    return votes


def run_rubric(conn, run_id: str) -> Rubric:
    """The criteria of every queue the run is in, each named once (the first queue by name defines it)."""
    criteria: dict[str, Criterion] = {}
    for row in conn.all(_RUBRICS, {"run_id": run_id}):
        for criterion in Rubric.of(row["rubric"]).criteria:
            criteria.setdefault(criterion.name, criterion)
    return Rubric(tuple(criteria.values()))


def check_for_run(conn, run_id: str, scores) -> list[dict]:
    """The scores given for a vote outside a queue's submit, checked against the run's queues' criteria."""
    rubric = run_rubric(conn, run_id)
    given = scores or {}
    for name in given:
        if rubric.get(name) is None:
            raise InvalidInput(f"score {str(name)[:40]}: run {run_id} is in no queue whose rubric has this criterion")
    return rubric.check(given, require=False)


def replace(conn, vote: dict, rows: list[dict], now: datetime) -> dict:
    """Replace the vote's scores with `rows` (as `Rubric.check` gives them); returns them as an object."""
    conn.execute(_DELETE, {"feedback_id": vote["feedback_id"]})
    for row in rows:
        conn.execute(_INSERT, {**row, "feedback_id": vote["feedback_id"], "run_id": vote["run_id"], "now": now})
    return as_object(rows)


def written(conn, found: dict | None, row: dict, given, rubric: Rubric | None, now) -> tuple[dict | None, dict]:
    """Write the scores of a vote just written in `conn` (`row`, which was `found` before): checked
    against `rubric` with its required criteria when a queue's submit gives one, else against the run's
    queues (`check_for_run`); `given` None keeps the stored ones. Returns the vote before and
    after with `scores` where they have some, for the audit trail and the answer."""
    old = of_vote(conn, found["feedback_id"]) if found else {}
    if rubric is not None:
        new = replace(conn, row, rubric.check(given, require=True), now)
    elif given is not None:
        new = replace(conn, row, check_for_run(conn, row["run_id"], given), now)
    else:
        new = old if found and found["feedback_id"] == row["feedback_id"] else {}
    before = {**found, "scores": old} if found and old else found
    return before, ({**row, "scores": new} if new else row)


def remove(conn, feedback_id: str) -> dict:
    """Delete a removed vote's scores; returns what they were."""
    old = of_vote(conn, feedback_id)
    if old:
        conn.execute(_DELETE, {"feedback_id": feedback_id})
    return old


def rows_of(saved: dict | None) -> list[dict]:
    """Scores as an audit record keeps them (`as_object`) back as rows to store: a restored vote's."""
    rows = []
    for criterion, value in (saved or {}).items():
        if isinstance(value, bool):
            rows.append(
                {"criterion": criterion, "kind": "binary", "value": "yes" if value else "no", "number": 1.0 * value}
            )
        elif isinstance(value, int):
            rows.append({"criterion": criterion, "kind": "ordinal", "value": str(value), "number": float(value)})
        else:
            rows.append({"criterion": criterion, "kind": "categorical", "value": str(value), "number": None})
    return rows


def audit_json(saved: dict | None) -> str | None:
    return json.dumps(saved, sort_keys=True) if saved else None
