"""Review queues as objects: admins define them, runs enter them as they arrive, reviews estimate the
quality of all traffic.

`QueueSpec` (spec.py) is a queue's definition; `membership.py` decides which runs are items and why;
`estimate.py` turns the items' votes into a consensus per item and an estimate over the random sample.
Defining or closing a queue takes the `manage_queues` action; reading queues and items takes `read`.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from data_layer import auth, rules
from data_layer.errors import Conflict, InvalidInput, NotFound
from data_layer.queue import release
from data_layer.queues import (
    adjudication,
    advice,
    agreement,
    blind,
    change,
    criteria_agreement,
    estimate,
    progress,
    words,
    work,
)
from data_layer.queues import export as item_export
from data_layer.queues.membership import enter, sample_point
from data_layer.queues.spec import QueueSpec
from data_layer.rows import plain, plain_all

__all__ = ["QueueRepo", "QueueSpec", "after_vote", "enter_open_queues", "sample_point"]

_COLUMNS = """name, instructions, selection, sample_rate, reviewers_per_item, blind, seed, assignees,
    rubric, created_at, created_by, closed_at"""

_INSERT = f"""
INSERT INTO queues ({_COLUMNS})
VALUES ($name, $instructions, $selection, $sample_rate, $reviewers_per_item, $blind, $seed, $assignees,
        $rubric, $now, $created_by, NULL)
"""

_GET = f"SELECT {_COLUMNS} FROM queues WHERE name = $name"

_OPEN = f"SELECT {_COLUMNS} FROM queues WHERE closed_at IS NULL ORDER BY name"

_CLOSE = "UPDATE queues SET closed_at = $now WHERE name = $name AND closed_at IS NULL RETURNING name"

# Per queue: its items, how many are done (as many whole-run votes of named reviewers as it asks for)
# and how many were randomly sampled.
_LIST = f"""
SELECT {", ".join(f"x.{column.strip()}" for column in _COLUMNS.split(","))},
       count(q.run_id) AS items,
       count(q.inclusion_probability) AS sampled_items,
       count(*) FILTER (WHERE r.panel_positive + r.panel_negative >= x.reviewers_per_item) AS done
FROM queues x
LEFT JOIN queue_items q ON q.queue_name = x.name
LEFT JOIN runs r ON r.run_id = q.run_id
GROUP BY {", ".join(f"x.{column.strip()}" for column in _COLUMNS.split(","))}
ORDER BY x.name
"""

_ITEMS = f"""
SELECT q.run_id, q.thread_id, q.reason, q.inclusion_probability, q.entered_at,
       r.panel_positive + r.panel_negative AS votes, CASE WHEN {{open}} THEN {estimate.CONSENSUS} END AS consensus,
       a.verdict IS NOT NULL AS adjudicated, r.assistant_id, r.model_name, r.created_at AS run_created_at
FROM queue_items q {estimate.ITEM_JOINS}
WHERE q.queue_name = $name
ORDER BY q.entered_at, q.run_id
LIMIT $limit OFFSET $offset
"""


def _queue(row: dict) -> dict:
    """A stored queue as plain data: its definition, with the selection and assignees parsed."""
    queue = plain(row)
    queue["selection"] = json.loads(queue["selection"])
    queue["assignees"] = json.loads(queue["assignees"])
    queue["rubric"] = json.loads(queue["rubric"] or "[]")
    return queue


def enter_open_queues(conn, engine, arrivals: str, now: datetime, params: dict | None = None) -> None:
    """Put the runs of `arrivals` (a query of `run_id`s, with its `params`) into every open queue they
    belong in: what an import's transaction does with its runs and the runs of its votes, and a vote
    write with an end user's vote (a complaint may put its run in a queue's selection)."""
    for row in conn.all(_OPEN):
        enter(conn, engine, QueueSpec.from_row(row), arrivals, now, params)


def after_vote(conn, engine, vote: dict, now: datetime) -> None:
    """After a vote is written in `conn`'s transaction: an end user's vote may put its run in a queue's
    selection (a complaint)."""
    if vote["source"] == "end_user":
        enter_open_queues(conn, engine, "SELECT CAST($arrived AS TEXT) AS run_id", now, {"arrived": vote["run_id"]})


class QueueRepo:
    def __init__(self, engine, feedback):
        self._engine = engine
        self._feedback = feedback

    def _spec(self, conn, name) -> tuple[QueueSpec, dict]:
        """The stored queue named `name` as a spec, and its row; `NotFound` when there is none."""
        row = conn.one(_GET, {"name": rules.identifier(name, "queue name")})
        if row is None:
            raise NotFound(f"queue {name} not found")
        return QueueSpec.from_row(row), row

    def next_item(self, name: str, *, actor: auth.Actor) -> dict | None:
        """Claim the queue's next item for the actor (`work.next_item`): `{queue, reason, run}`, or None
        when nothing is left for it."""
        auth.authorize(actor, "queue")

        def write(conn):
            spec, row = self._spec(conn, name)
            return work.next_item(conn, spec, actor, closed=row["closed_at"] is not None)

        return self._engine.write(write)

    def submit(
        self, name: str, run_id: str, *, rating, comment=None, tags=None, scores=None, actor: auth.Actor
    ) -> dict:
        """The actor's whole-run vote on an item of the queue, then its claim released: `NotFound` when
        the run is no item of the queue. In a queue with a rubric, `scores` (criterion name to value)
        must give every required criterion (`InvalidInput` naming the first missing one) and replace the
        vote's scores; without a rubric, `scores` are checked against the run's other queues."""
        with self._engine.read() as conn:
            spec, _ = self._spec(conn, name)
            work.may_work(spec, actor)
            item = conn.one(work.ITEM, {"queue_name": spec.name, "run_id": rules.identifier(run_id, "run_id")})
        if item is None:
            raise NotFound(f"run {run_id} is no item of queue {name}")
        vote = self._feedback.upsert(
            thread_id=item["thread_id"],
            run_id=run_id,
            rating=rating,
            owner_id=actor.user_id,
            comment=comment,
            tags=tags,
            scores=scores,
            rubric=spec.rubric or None,
            actor=actor,
        )
        self._engine.write(lambda conn: release(conn, run_id, actor.user_id))
        return vote

    def adjudicate(self, name: str, run_id: str, *, verdict: str, note: str, actor: auth.Actor) -> dict:
        """A lead's final verdict (`good` or `bad`, with a note) on an item of the queue; it replaces any
        earlier one and overrides the reviewers' consensus in every estimate (`adjudication.py`)."""
        auth.authorize(actor, "adjudicate")
        decision = adjudication.decision(run_id, verdict, note)

        def write(conn):
            spec, _ = self._spec(conn, name)
            return adjudication.decide(conn, spec.name, decision, actor)

        return self._engine.write(write)

    def adjudications(self, name: str, *, actor: auth.Actor, limit: int = 100, offset: int = 0) -> builtins.list[dict]:
        """The items the reviewers split on (a tie, or votes both ways) and those already decided, with
        their votes and the verdict when there is one."""
        auth.authorize(actor, "read")
        page = {
            "limit": rules.integer(limit, "limit", low=1, high=10_000),
            "offset": rules.integer(offset, "offset", low=0, high=10**9),
        }
        with self._engine.read() as conn:
            spec, _ = self._spec(conn, name)
            return adjudication.listing(conn, spec.name, actor=actor, **page)

    def blind_runs(self, thread_id: str, *, actor: auth.Actor) -> builtins.list[str]:
        """The runs of a thread on which `actor` may not see others' votes yet (`blind.py`)."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            return sorted(blind.blind_runs(conn, rules.identifier(thread_id, "thread_id"), actor))

    def blind_threads(self, thread_ids, *, actor: auth.Actor) -> dict[str, builtins.list[str]]:
        """Of `thread_ids` (at most 1,000), those holding a run blind to `actor`, each with the names of
        the blind queues that hide it: their tallies count votes the actor may not see yet."""
        auth.authorize(actor, "read")
        if isinstance(thread_ids, str) or not isinstance(thread_ids, (builtins.list, tuple, set, frozenset)):
            raise InvalidInput("thread_ids must be a list of thread ids")
        if len(thread_ids) > 1000:
            raise InvalidInput(f"at most 1,000 thread ids at once, got {len(thread_ids):,}")
        ids = [rules.identifier(thread_id, "thread_id") for thread_id in thread_ids]
        with self._engine.read() as conn:
            found = blind.hidden(conn, ids, actor)
        return {thread: sorted({name for names in runs.values() for name in names}) for thread, runs in found.items()}

    def thread_tallies(self, thread_id: str, *, actor: auth.Actor) -> dict:
        """A thread's thumbs up and down as `actor` may see them (`positive`, `negative`), and the runs
        blind to the actor with their queues (`blind`)."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            return blind.thread_tallies(conn, rules.identifier(thread_id, "thread_id"), actor)

    def agreement(self, name: str, *, actor: auth.Actor) -> dict:
        """Fleiss' kappa and Krippendorff's alpha of the queue's reviewers on the thumbs, with 95 %
        intervals (`agreement.py`), and the same per criterion of its rubric as `criteria`
        (`criteria_agreement.py`)."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            spec, _ = self._spec(conn, name)
            pairs = conn.all(agreement.PAIRS, {"queue_name": spec.name})
            names = [criterion.name for criterion in spec.rubric.criteria]
            profiles = (
                conn.all(criteria_agreement.PROFILES, {"queue_name": spec.name, "criteria": names}) if names else []
            )
        return {
            "queue": spec.name,
            "reviewers_per_item": spec.reviewers_per_item,
            **agreement.measure(pairs, spec.reviewers_per_item),
            "criteria": criteria_agreement.measure(spec.rubric, profiles, spec.reviewers_per_item),
        }

    def progress(self, name: str, *, actor: auth.Actor) -> dict:
        """Done and left, per queue and per reviewer, and who is behind (`progress.py`): every reviewer's
        row for an actor who may `view_progress`, else the actor's own row and the totals."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            spec, _ = self._spec(conn, name)
            return progress.visible(progress.progress(conn, spec, actor), actor)

    def reviewers(self, name: str, *, actor: auth.Actor) -> builtins.list[dict]:
        """Every counted reviewer's row of the queue's progress (`progress.py`): a lead's view of who is
        behind; `Forbidden` without `view_progress`."""
        auth.authorize(actor, "view_progress")
        with self._engine.read() as conn:
            spec, _ = self._spec(conn, name)
            return progress.progress(conn, spec, actor)["reviewers"]

    def advice(self, name: str, *, margin: float = 0.03, actor: auth.Actor) -> dict:
        """The sample rate the queue needs for +- `margin` per week and assistant at the current traffic,
        and the reviewer votes a week it implies (`advice.py`)."""
        auth.authorize(actor, "read")
        m = advice.margin(margin)
        with self._engine.read() as conn:
            spec, _ = self._spec(conn, name)
            overall = conn.one(estimate.SUMS.format(group="'all'"), {"queue_name": spec.name})
            newest = conn.scalar(advice.NEWEST)
            traffic = []
            if newest is not None:
                since, until = advice.window(newest)
                traffic = conn.all(advice.TRAFFIC, {"since": since, "until": until})
        found = estimate.summarize(overall or {"sampled_items": 0})
        result = advice.advise(
            traffic, m=m, estimate=found["estimate"], rate=spec.sample_rate, k=spec.reviewers_per_item
        )
        return {"queue": spec.name, **result}

    def create(self, spec: QueueSpec, *, actor: auth.Actor) -> dict:
        """Define a queue and fill it from the stored runs; `Conflict` when the name is taken."""
        auth.authorize(actor, "manage_queues")
        if not isinstance(spec, QueueSpec):
            raise InvalidInput("a queue is defined by a QueueSpec")
        now = datetime.now(UTC)

        def write(conn):
            if conn.one(_GET, {"name": spec.name}):
                raise Conflict(f"a queue named {spec.name} exists")
            conn.execute(_INSERT, {**spec.row(), "now": now, "created_by": actor.user_id})
            enter(conn, self._engine, spec, now=now)

        self._engine.write(write)
        return self.get(spec.name, actor=actor)

    def change(self, name: str, *, actor: auth.Actor, **fields) -> dict:
        """Change an open queue's definition (`change.py` says what may change) and let in the runs it
        now takes; the queue as stored after."""
        auth.authorize(actor, "manage_queues")
        now = datetime.now(UTC)

        def write(conn):
            old, row = self._spec(conn, name)
            new = change.changed(old, row["closed_at"] is not None, fields)
            conn.execute(change.UPDATE, new.row())
            change.resample(conn, self._engine, old, new)
            enter(conn, self._engine, new, now=now)
            return new.name

        return self.get(self._engine.write(write), actor=actor)

    def close(self, name: str, *, actor: auth.Actor) -> dict:
        """Close a queue: no run enters it any more; its items and votes stay. Closing twice changes nothing."""
        auth.authorize(actor, "manage_queues")
        name = rules.identifier(name, "queue name")

        def write(conn):
            if not conn.one(_GET, {"name": name}):
                raise NotFound(f"queue {name} not found")
            conn.execute(_CLOSE, {"name": name, "now": datetime.now(UTC)})

        self._engine.write(write)
        return self.get(name, actor=actor)

    def list(self, *, actor: auth.Actor) -> list[dict]:
        """Every queue, open and closed, with its item counts (`items`, `sampled_items`, `done`)."""
        auth.authorize(actor, "read")
        with self._engine.read() as conn:
            return [_queue(row) for row in conn.all(_LIST)]

    def get(self, name: str, *, actor: auth.Actor) -> dict:
        auth.authorize(actor, "read")
        name = rules.identifier(name, "queue name")
        found = [queue for queue in self.list(actor=actor) if queue["name"] == name]
        if not found:
            raise NotFound(f"queue {name} not found")
        return found[0]

    def items(self, name: str, *, actor: auth.Actor, limit: int = 100, offset: int = 0) -> builtins.list[dict]:
        """A page of the queue's items in the order they entered: run, thread, `reason`,
        `inclusion_probability`, `votes` (whole-run votes of named reviewers) and `consensus` (None on
        a run blind to the actor, as before any vote: the verdict would tell the others' votes)."""
        auth.authorize(actor, "read")
        params = {
            "name": rules.identifier(name, "queue name"),
            "limit": rules.integer(limit, "limit", low=1, high=100_000),
            "offset": rules.integer(offset, "offset", low=0, high=10**9),
        }
        with self._engine.read() as conn:
            if not conn.one(_GET, params):
                raise NotFound(f"queue {name} not found")
            condition, hidden = blind.run_open(actor, "q.run_id")
            return plain_all(conn.all(_ITEMS.format(open=condition), {**params, **hidden}))

    def export(
        self, name: str, *, actor: auth.Actor, fmt: str = "jsonl", page_size: int = item_export.PAGE
    ) -> Iterator[str]:
        """The queue's items as text to write out, a page at a time (`queues/export.py`): `jsonl`, one
        object per item with its reviews and their scores, or `csv`, as the actor may see them (the
        blind rule). The caller is checked and the queue looked up now; each page is read as the text
        is consumed."""
        auth.authorize(actor, "read")
        fmt = item_export.format_of(fmt)
        limit = rules.integer(page_size, "page size", low=1, high=100_000)
        with self._engine.read() as conn:
            spec, _ = self._spec(conn, name)
            shown, hidden = blind.shown(actor)
            most = int(
                conn.scalar(item_export.MOST_REVIEWS.format(shown=shown), {"queue_name": spec.name, **hidden}) or 0
            )

        def pages() -> Iterator[list[dict]]:
            after = ""
            while True:
                with self._engine.read() as conn:
                    rows = item_export.page(conn, spec.name, after, limit, actor=actor)
                if not rows:
                    return
                yield rows
                after = rows[-1]["run_id"]

        if fmt == "csv":
            return item_export.csv_lines(pages(), most, tuple(c.name for c in spec.rubric.criteria))
        return item_export.jsonl(pages())

    def estimate(self, name: str, *, by: str | None = None, actor: auth.Actor) -> dict:
        """The share of good runs in all traffic from the queue's random sample (`estimate.py`), overall and,
        with `by` (`assistant_id`, `model_name` or `week`), per group; each says in words how it compares
        with the end users' thumbs over the same runs (`in_words`, `words.py`)."""
        auth.authorize(actor, "read")
        name = rules.identifier(name, "queue name")
        if by is not None and by not in estimate.GROUPS:
            raise InvalidInput(f"an estimate is split by one of {', '.join(estimate.GROUPS)}, not {by!r:.40}")
        with self._engine.read() as conn:
            if not conn.one(_GET, {"name": name}):
                raise NotFound(f"queue {name} not found")
            overall = conn.one(estimate.SUMS.format(group="'all'"), {"queue_name": name})
            groups = conn.all(estimate.SUMS.format(group=estimate.GROUPS[by]), {"queue_name": name}) if by else []
        result = {"queue": name, **estimate.summarize(overall or {"sampled_items": 0})}
        result["in_words"] = words.compare(result)
        if by:
            result["by"] = by
            result["groups"] = [{by: plain({"g": row["grp"]})["g"], **estimate.summarize(row)} for row in groups]
            for group in result["groups"]:
                group["in_words"] = words.compare(group)
        return result
