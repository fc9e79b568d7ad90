"""The blind rule: in a blind queue a reviewer sees no other vote on an item (other reviewers', end
users', judges') until they have voted on it.

A run is blind to an actor while it is an item of an open blind queue that the actor may work (an
assignee, or anyone when the queue names none), still needs votes, and has no whole-run vote of the
actor. Once the actor votes, the queue closes or the item has its votes, everything shows. The system
and roles that do not work queues (viewers) are never blinded: they judge nothing.

`hidden` names those runs with their queues. Every read that shows a person votes on a run, or counts
of them, asks it through the helpers here: the feedback lists and counts (pages and the REST API),
one vote by id or owner, a thread's tallies (the thread page's header), the threads list's tally
columns. Bulk reads ask the same rule in SQL: `shown` for votes (the vote export, a queue's export,
the Themes page's quotes), `run_open` for runs (a queue's items, export and splits, the Agreement
page's disagreements, the Stats page's worst runs).
Aggregates over many runs (stats, agreement, a queue's progress and estimate) are not filtered
(docs/architecture.md, "Blind queues").
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from typing_extensions import TypeIs

from data_layer import auth

# The items of blind queues held open for `$blind_me` (aliases `bq` the item, `bx` its queue, `br` its
# run, named apart from any outer query's): the queue is open and blind, the item still needs votes,
# `$blind_me` may work the queue (an assignee, matched as its JSON string `$blind_assignee` in the
# queue's JSON list: ids hold no quote or backslash, so the match is exact; or anyone when the list is
# empty) and has no whole-run vote on the run.
_HELD_OPEN = """queue_items bq JOIN queues bx ON bx.name = bq.queue_name JOIN runs br ON br.run_id = bq.run_id
WHERE bx.blind AND bx.closed_at IS NULL
  AND br.panel_positive + br.panel_negative < bx.reviewers_per_item
  AND (bx.assignees = '[]' OR position($blind_assignee IN bx.assignees) > 0)
  AND NOT EXISTS (SELECT 1 FROM feedback bm
                  WHERE bm.run_id = bq.run_id AND bm.owner_id = $blind_me AND bm.scope = '')"""

_BLIND = f"""
SELECT bq.thread_id, bq.run_id, bx.name AS queue_name
FROM {_HELD_OPEN} AND bq.thread_id IN ({{threads}})
"""

_THREAD_TALLIES = """
SELECT count(*) FILTER (WHERE rating = 1) AS positive, count(*) FILTER (WHERE rating = -1) AS negative
FROM feedback WHERE thread_id = $thread_id
"""

# Every row of a list query (its LIMIT takes a number on both engines).
_ALL = {"limit": 2**62, "offset": 0}

_THREAD_VOTES = "SELECT run_id, owner_id, rating FROM feedback WHERE thread_id = $thread_id"


def blinded(actor: auth.Actor | None) -> TypeIs[auth.Actor]:
    """Whether the blind rule can hide anything from `actor`: someone who works queues."""
    return actor is not None and actor.role != "system" and auth.can(actor, "queue")


def _me(actor: auth.Actor) -> dict:
    return {"blind_me": actor.user_id, "blind_assignee": json.dumps(actor.user_id)}


def hidden(conn, thread_ids: Iterable[str], actor: auth.Actor | None) -> dict[str, dict[str, list[str]]]:
    """Per thread of `thread_ids`, its runs blind to `actor`, each with the names of the blind queues
    that hold it open for the actor; threads with none are left out."""
    threads = sorted(set(thread_ids))
    if not threads or not blinded(actor):
        return {}
    names = {f"thread{n}": thread for n, thread in enumerate(threads)}
    sql = _BLIND.format(threads=", ".join(f"${name}" for name in names))
    found: dict[str, dict[str, list[str]]] = {}
    for row in conn.all(sql, {**names, **_me(actor)}):
        found.setdefault(row["thread_id"], {}).setdefault(row["run_id"], []).append(row["queue_name"])
    return {thread: {run: sorted(queues) for run, queues in runs.items()} for thread, runs in found.items()}


def blind_runs(conn, thread_id: str, actor: auth.Actor | None) -> dict[str, list[str]]:
    """The runs of one thread blind to `actor`, each with its blind queues."""
    return hidden(conn, [thread_id], actor).get(thread_id, {})


def _shown(votes: list[dict], actor: auth.Actor | None, runs) -> list[dict]:
    me = actor.user_id if actor else None
    return [vote for vote in votes if vote["owner_id"] == me or vote["run_id"] not in runs]


def page(conn, thread_id: str, actor: auth.Actor | None, sql: str, params: dict, window: dict) -> list[dict]:
    """A page (`window`: `limit`, `offset`) of a thread's votes listed by `sql` as `actor` may see them:
    the hidden votes are left out before the page is cut, so pages and counts agree."""
    rows = conn.all(sql, {**params, **window})
    if actor is None or not rows:
        return rows
    if window["offset"] == 0 and all(vote["owner_id"] == actor.user_id for vote in rows):
        return rows  # a first page of the actor's own votes: nothing before them was hidden
    runs = blind_runs(conn, thread_id, actor)
    if not runs:
        return rows
    shown = _shown(conn.all(sql, {**params, **_ALL}), actor, runs)
    return shown[window["offset"] : window["offset"] + window["limit"]]


def count(conn, thread_id: str, actor: auth.Actor | None, count_sql: str, list_sql: str, params: dict) -> int:
    """How many of a thread's votes counted by `count_sql` (listed by `list_sql`) `actor` may see."""
    total = conn.scalar(count_sql, params)
    if not total or not blinded(actor):
        return total
    runs = blind_runs(conn, thread_id, actor)
    return len(_shown(conn.all(list_sql, {**params, **_ALL}), actor, runs)) if runs else total


def visible(conn, vote: dict | None, actor: auth.Actor | None) -> dict | None:
    """One vote, or None when it is someone else's on a run blind to `actor`."""
    if vote is None or not blinded(actor) or vote["owner_id"] == actor.user_id:
        return vote
    return None if vote["run_id"] in blind_runs(conn, vote["thread_id"], actor) else vote


def thread_tallies(conn, thread_id: str, actor: auth.Actor | None) -> dict:
    """A thread's thumbs up and down over every source as `actor` may see them, and the runs blind to
    the actor with their queues (`blind`). How many votes are hidden is not said: that too is a hint."""
    runs = blind_runs(conn, thread_id, actor)
    if not runs:
        row = conn.one(_THREAD_TALLIES, {"thread_id": thread_id}) or {}
        return {
            "positive": int(row.get("positive") or 0),
            "negative": int(row.get("negative") or 0),
            "blind": {},
        }
    shown = _shown(conn.all(_THREAD_VOTES, {"thread_id": thread_id}), actor, runs)
    return {
        "positive": sum(vote["rating"] == 1 for vote in shown),
        "negative": sum(vote["rating"] == -1 for vote in shown),
        "blind": runs,
    }


def run_tallies(conn, thread_id: str, run_id: str, actor: auth.Actor | None, sql: str, list_sql: str, params: dict):
    """A run's tallies (`sql` answers `total`, `positive`, `negative`) as `actor` may see them;
    `list_sql` lists the run's votes, read only when the run is blind to the actor."""
    row = conn.one(sql, params)
    if not row["total"] or not blinded(actor) or run_id not in blind_runs(conn, thread_id, actor):
        return row
    shown = [vote for vote in conn.all(list_sql, {**params, **_ALL}) if vote["owner_id"] == actor.user_id]
    positive = sum(vote["rating"] == 1 for vote in shown)
    return {"total": len(shown), "positive": positive, "negative": len(shown) - positive}


def run_open(actor: auth.Actor | None, run: str) -> tuple[str, dict]:
    """A condition true when `actor` may see every vote on the run whose id is the SQL `run` (no blind
    queue holds it open for the actor), with its parameters."""
    if not blinded(actor):
        return "TRUE", {}
    return f"NOT EXISTS (SELECT 1 FROM {_HELD_OPEN} AND bq.run_id = {run})", _me(actor)


def shown(actor: auth.Actor | None) -> tuple[str, dict]:
    """A condition on votes (alias `f`) true for those `actor` may see, with its parameters: its own,
    and any on a run that no blind queue holds open for it. For the bulk reads that do not go thread
    by thread (the export)."""
    if not blinded(actor):
        return "TRUE", {}
    condition, params = run_open(actor, "f.run_id")
    return f"(f.owner_id = $blind_me OR {condition})", params


def settled(run: str) -> str:
    """A condition true when no open blind queue still needs votes on the run whose id is the SQL `run`,
    so that its votes are blind to no one: what a shared artefact made of votes (a dataset, downloaded by
    anyone who may read) takes."""
    return f"""NOT EXISTS (SELECT 1 FROM queue_items sq JOIN queues sx ON sx.name = sq.queue_name
    JOIN runs sr ON sr.run_id = sq.run_id
    WHERE sq.run_id = {run} AND sx.blind AND sx.closed_at IS NULL
      AND sr.panel_positive + sr.panel_negative < sx.reviewers_per_item)"""
