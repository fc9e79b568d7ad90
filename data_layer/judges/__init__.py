"""LLM judges beside people: their verdicts, and how far each judge agrees with people.

A judge is a name and version (`helpfulness-v3@gpt-4.1`); it gives one verdict (+1 or -1) per run
or message, with an optional rationale and rubric scores, kept in `judge_votes` (tables.py), never
among people's votes. `calibration.py` holds the arithmetic; this module reads the counts it needs
in SQL. People's verdict on a run is its queue consensus (`queues.estimate.CONSENSUS`: a lead's
adjudication, else the reviewers' majority); by default only runs that entered some queue by random
sample calibrate a judge, since runs picked for complaints would bias its hit rates.

Writing a verdict takes the `judge` action: a judge writes under its own name alone, the system under
any. Reading takes `read`.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from data_layer import auth, rules
from data_layer.errors import Forbidden, InvalidInput, NotFound
from data_layer.judges import calibration, compare, criteria, verdict
from data_layer.queues import blind
from data_layer.queues.estimate import CONSENSUS, GROUPS
from data_layer.rows import plain, plain_all
from data_layer.targets import check_runs, check_target

__all__ = ["JudgeRepo", "calibration"]

MAX_RATIONALE = verdict.MAX_RATIONALE

COLUMNS = "judge_vote_id, judge, thread_id, run_id, message_id, rating, rationale, scores, created_at, updated_at"

_UPSERT = f"""
INSERT INTO judge_votes ({COLUMNS}, scope)
VALUES ($judge_vote_id, $judge, $thread_id, $run_id, $message_id, $rating, $rationale, $scores, $now, $now, $scope)
ON CONFLICT (judge, run_id, scope) DO UPDATE SET
    rating = excluded.rating,
    rationale = excluded.rationale,
    scores = excluded.scores,
    updated_at = excluded.updated_at
RETURNING {COLUMNS}
"""

# `put_many`'s verdicts in one statement, one array per column (the same SQL on both engines).
_MANY_COLUMNS = ("judge", "thread_id", "run_id", "message_id", "rating", "rationale", "scores", "scope")
_UPSERT_MANY = f"""
INSERT INTO judge_votes ({COLUMNS}, scope)
SELECT unnest(CAST($judge_vote_id AS TEXT[])), unnest(CAST($judge AS TEXT[])), unnest(CAST($thread_id AS TEXT[])),
       unnest(CAST($run_id AS TEXT[])), unnest(CAST($message_id AS TEXT[])), unnest(CAST($rating AS SMALLINT[])),
       unnest(CAST($rationale AS TEXT[])), unnest(CAST($scores AS TEXT[])), $now, $now, unnest(CAST($scope AS TEXT[]))
ON CONFLICT (judge, run_id, scope) DO UPDATE SET
    rating = excluded.rating,
    rationale = excluded.rationale,
    scores = excluded.scores,
    updated_at = excluded.updated_at
"""

_BY_THREAD = f"SELECT {COLUMNS} FROM judge_votes WHERE thread_id = $thread_id ORDER BY created_at, judge_vote_id"

# People's verdict on the judged run (`p.verdict`) and whether the run entered a queue by random sample.
_PEOPLE = f"""({CONSENSUS})"""
_SAMPLED = """EXISTS (SELECT 1 FROM queue_items s WHERE s.run_id = j.run_id AND s.inclusion_probability IS NOT NULL)"""

# Per judge (and group): its whole-run verdicts, and the calibration table against people's verdicts
# on the runs that count ($sampled_only: those of a random sample).
_COUNTS = f"""
WITH v AS (
    SELECT j.judge, {{group}} AS grp, j.rating,
           CASE WHEN {_PEOPLE} IN ('good', 'bad') AND (NOT $sampled_only OR {_SAMPLED})
                THEN {_PEOPLE} END AS people
    FROM judge_votes j
    JOIN runs r ON r.run_id = j.run_id
    LEFT JOIN adjudications a ON a.run_id = j.run_id
    WHERE j.scope = '' AND ($judge = '' OR j.judge = $judge)
)
SELECT judge, grp,
       count(*) AS judged,
       count(*) FILTER (WHERE rating = 1) AS judged_good,
       count(*) FILTER (WHERE people = 'good' AND rating = 1) AS tp,
       count(*) FILTER (WHERE people = 'good' AND rating = -1) AS fn,
       count(*) FILTER (WHERE people = 'bad' AND rating = 1) AS fp,
       count(*) FILTER (WHERE people = 'bad' AND rating = -1) AS tn
FROM v
GROUP BY judge, grp
ORDER BY judge, grp
"""

# The runs where judge and people disagree, with the judge's rationale and the reviewers' comments.
_DISAGREEMENTS = f"""
SELECT j.run_id, j.thread_id, j.rating AS judge_rating, j.rationale, {_PEOPLE} AS people,
       r.assistant_id, r.model_name, r.created_at AS run_created_at,
       (SELECT string_agg(f.owner_id || ': ' || f.comment, ' | ' ORDER BY f.created_at)
        FROM feedback f
        WHERE f.run_id = j.run_id AND f.scope = '' AND f.source = 'reviewer' AND f.comment IS NOT NULL
       ) AS reviewer_comments
FROM judge_votes j
JOIN runs r ON r.run_id = j.run_id
LEFT JOIN adjudications a ON a.run_id = j.run_id
WHERE j.scope = '' AND j.judge = $judge
  AND {_PEOPLE} = CASE WHEN j.rating = 1 THEN 'bad' ELSE 'good' END
  AND (NOT $sampled_only OR {_SAMPLED}) AND {{open}}
ORDER BY r.created_at DESC, j.run_id
LIMIT $limit OFFSET $offset
"""


_REQUIRED = frozenset({"judge", "thread_id", "run_id", "rating"})
_FIELDS = _REQUIRED | {"message_id", "rationale", "scores"}


def _checked(actor: auth.Actor, *, judge, thread_id, run_id, rating, message_id=None, rationale=None, scores=None):
    """A verdict's fields checked (the judge `actor` may write as, ids, rating, rationale, scores) as the
    row to store, without its id and times."""
    judge = rules.identifier(judge, "judge")
    if not auth.acts_for_anyone(actor, "judge") and judge != actor.user_id:
        raise Forbidden(f"{actor.user_id} ({actor.role}) may not give verdicts as judge {judge[:100]}")
    return {
        "judge": judge,
        "thread_id": rules.identifier(thread_id, "thread_id"),
        "run_id": rules.identifier(run_id, "run_id"),
        "message_id": rules.optional_identifier(message_id, "message_id"),
        "scope": message_id or "",
        "rating": rules.rating(rating),
        "rationale": rules.optional_text(rationale, "rationale", MAX_RATIONALE),
        "scores": verdict.scores(scores) if scores is not None else None,
    }


def _vote(row: dict) -> dict:
    """A stored verdict as plain data, in the shape of a vote: `source` judge, the judge as `owner_id`."""
    vote = plain(row)
    vote["scores"] = json.loads(vote["scores"]) if vote["scores"] else None
    return {**vote, "source": "judge", "owner_id": vote["judge"]}


def _counts(row: dict) -> dict:
    return {key: int(row[key]) for key in ("judged", "judged_good", "tp", "fn", "fp", "tn")}


def judge_numbers(counts: dict) -> dict:
    """A judge's hit rates against people and its corrected pass rate, from its counts (`_COUNTS`)."""
    table = (counts["tp"], counts["fn"], counts["fp"], counts["tn"])
    return {**calibration.hit_rates(*table), **calibration.corrected(counts["judged_good"], counts["judged"], *table)}


class JudgeRepo:
    def __init__(self, engine):
        self._engine = engine

    def put(
        self,
        *,
        judge,
        thread_id,
        run_id,
        rating,
        message_id=None,
        rationale=None,
        scores=None,
        actor: auth.Actor,
    ) -> dict:
        """Record the judge's verdict on a run or message, replacing its earlier one on that target."""
        auth.authorize(actor, "judge")
        vote = _checked(
            actor,
            judge=judge,
            thread_id=thread_id,
            run_id=run_id,
            rating=rating,
            message_id=message_id,
            rationale=rationale,
            scores=scores,
        )

        def write(conn):
            check_target(conn, vote["thread_id"], vote["run_id"], vote["message_id"], actor=actor)
            return conn.one(_UPSERT, {**vote, "judge_vote_id": str(uuid.uuid4()), "now": datetime.now(UTC)})

        return _vote(self._engine.write(write))

    def put_many(self, verdicts: Iterable[dict], *, actor: auth.Actor) -> int:
        """Record many verdicts (each a dict of `put`'s fields) in one transaction: all or none, the last
        one on a target winning; returns how many targets got a verdict. One statement writes them all,
        so a script's thousands of verdicts take a fraction of a second, not one write each."""
        auth.authorize(actor, "judge")
        checked = {}
        for number, fields in enumerate(verdicts, start=1):
            if not isinstance(fields, dict) or not _REQUIRED <= set(fields) <= _FIELDS:
                raise InvalidInput(
                    f"verdict {number}: an object of {', '.join(sorted(_REQUIRED))} and optionally "
                    f"{', '.join(sorted(_FIELDS - _REQUIRED))}"
                )
            try:
                vote = _checked(actor, **fields)
            except (InvalidInput, Forbidden) as error:
                raise type(error)(f"verdict {number}: {error}") from error
            checked[vote["judge"], vote["run_id"], vote["scope"]] = vote
        votes = list(checked.values())
        if not votes:
            return 0
        columns = {name: [vote[name] for vote in votes] for name in _MANY_COLUMNS}

        def write(conn):
            check_runs(conn, [(vote["thread_id"], vote["run_id"]) for vote in votes], actor=actor)
            for vote in votes:
                if vote["message_id"] is not None:
                    check_target(conn, vote["thread_id"], vote["run_id"], vote["message_id"], actor=actor)
            ids = [str(uuid.uuid4()) for _ in votes]
            conn.execute(_UPSERT_MANY, {**columns, "judge_vote_id": ids, "now": datetime.now(UTC)})

        self._engine.write(write)
        return len(votes)

    def for_thread(self, thread_id: str, *, actor: auth.Actor) -> builtins.list[dict]:
        """Every judge's verdicts on the thread's runs and messages, oldest first, but for those on runs
        blind to the actor (`queues/blind.py`): a judge's verdict is another's vote."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            check_target(conn, rules.identifier(thread_id, "thread_id"), actor=actor)
            hidden = blind.blind_runs(conn, thread_id, actor)
            rows = conn.all(_BY_THREAD, {"thread_id": thread_id})
            return [_vote(row) for row in rows if row["run_id"] not in hidden]

    def _counts(self, *, judge: str = "", group: str = "'all'", sampled_only: bool = True) -> builtins.list[dict]:
        params = {"judge": judge, "sampled_only": sampled_only}
        with self._engine.stale_read() as conn:
            return plain_all(conn.all(_COUNTS.format(group=group), params))

    def summary(self, *, actor: auth.Actor, sampled_only: bool = True) -> builtins.list[dict]:
        """One object per judge: its runs judged, raw and corrected pass rates, hit rates against people
        and their kappa (the `judges` command's fields)."""
        auth.authorize(actor, "read")
        return [
            {"judge": row["judge"], **judge_numbers(_counts(row))} for row in self._counts(sampled_only=sampled_only)
        ]

    def calibration(self, judge: str, *, by: str | None = None, sampled_only: bool = True, actor: auth.Actor) -> dict:
        """One judge's numbers overall and, with `by` (`assistant_id`, `model_name` or `week`), per group;
        `criteria`: per rubric criterion both the judge and the reviewers scored, the judge against the
        reviewers' majority (`criteria.py`); `NotFound` when the judge has no whole-run verdict."""
        auth.authorize(actor, "read")
        judge = rules.identifier(judge, "judge")
        if by is not None and by not in GROUPS:
            raise InvalidInput(f"a judge's numbers are split by one of {', '.join(GROUPS)}, not {by!r:.40}")
        overall = self._counts(judge=judge, sampled_only=sampled_only)
        if not overall:
            raise NotFound(f"judge {judge} has no verdict on a whole run")
        result = {"judge": judge, "sampled_only": sampled_only, **judge_numbers(_counts(overall[0]))}
        result["criteria"] = self._criteria(judge, sampled_only)
        if by:
            rows = self._counts(judge=judge, group=GROUPS[by], sampled_only=sampled_only)
            result["by"] = by
            result["groups"] = [{by: row["grp"], **judge_numbers(_counts(row))} for row in rows]
        return result

    def _criteria(self, judge: str, sampled_only: bool) -> builtins.list[dict]:
        sampled = _SAMPLED if sampled_only else "TRUE"
        with self._engine.read() as conn:
            judged = conn.all(criteria.JUDGE_SCORES.format(sampled=sampled), {"judge": judge})
            people = conn.all(criteria.PEOPLE_SCORES, {"judge": judge}) if judged else []
        return criteria.by_criterion(judged, people)

    def compare(self, judge: str, a=None, b=None, *, actor: auth.Actor) -> dict:
        """Slice B against slice A by the judge's verdicts, raw and corrected (`compare.py`); the judge's
        hit rates are its overall ones, on randomly sampled runs."""
        numbers = self.calibration(judge, actor=actor)
        return compare.compare_slices(self._engine, numbers["judge"], numbers, a, b)

    def disagreements(
        self, judge: str, *, sampled_only: bool = False, limit: int = 50, offset: int = 0, actor: auth.Actor
    ) -> builtins.list[dict]:
        """The runs where the judge and people's verdict differ, newest first, each with the judge's
        rationale and the reviewers' comments: what the people fixing the judge's prompt read. A run blind
        to the actor is left out: its verdicts and people's would show before the actor's own vote."""
        auth.authorize(actor, "read")
        shown, hidden = blind.run_open(actor, "j.run_id")
        params = {
            **hidden,
            "judge": rules.identifier(judge, "judge"),
            "sampled_only": sampled_only,
            "limit": rules.integer(limit, "limit", low=1, high=1000),
            "offset": rules.integer(offset, "offset", low=0, high=10**9),
        }
        with self._engine.stale_read() as conn:
            return plain_all(conn.all(_DISAGREEMENTS.format(open=shown), params))
