"""A dataset's items read from the store, a page of runs at a time: each run that the spec's filters or
queue and its verdict rule pick, with the conversation up to its judged answer, its verdict, and every
vote on it with its rubric scores and correction.

The runs come in thread and run-id order (keyset pagination), so a page's runs share few threads; each
page reads the messages of its threads and the votes of its runs in one query each, and makes each
message a chat message once, so a dataset of any size holds one page in memory. The caller reads every
page inside one read transaction on one snapshot (`Conn.snapshot`), so counts and items agree. A run
that an open blind queue still needs votes on is left out (`blind.settled`): a dataset is read by
anyone who may read, and must not tell them others' votes early.

The judged answer is the run's last AI message with text (a whole-run verdict judges the run's final
answer); the conversation is every message of the thread before it, earlier runs included. A run
without an AI message answers with its stored `last_ai_message` and its conversation is its thread's
messages up to the run's last one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from data_layer import corrections, scores
from data_layer.datasets import shapes
from data_layer.datasets.spec import DatasetSpec
from data_layer.filters import RUNS, VOTES, conditions
from data_layer.queues import blind
from data_layer.queues.estimate import CONSENSUS
from data_layer.rows import plain_all

PAGE = 500

_RUNS = {**RUNS, "status": "r.status = $status"}
_VOTES = {**VOTES, "rating": "f.rating = $rating"}

# Each verdict rule as a condition on the run `r` and its adjudication `a`.
RULES = {
    "good": f"({CONSENSUS}) = 'good'",
    "bad": f"({CONSENSUS}) = 'bad'",
    "corrected": """EXISTS (SELECT 1 FROM feedback cf JOIN vote_corrections cc ON cc.feedback_id = cf.feedback_id
                          WHERE cf.run_id = r.run_id)""",
    "disputed-resolved": "a.verdict IS NOT NULL",
}

_PAGE = f"""
SELECT r.run_id, r.thread_id, r.assistant_id, r.model_name, r.status, r.created_at, r.last_ai_message,
       r.panel_positive, r.panel_negative, {CONSENSUS} AS verdict,
       a.verdict AS adjudicated, a.note AS adjudication_note, a.owner_id AS adjudicated_by
FROM runs r LEFT JOIN adjudications a ON a.run_id = r.run_id
WHERE (r.thread_id > $after_thread OR (r.thread_id = $after_thread AND r.run_id > $after_run)) AND {{where}}
ORDER BY r.thread_id, r.run_id
LIMIT $limit
"""

_MESSAGES = """
SELECT thread_id, run_id, seq, role, message_id, text, tool_calls, tool_call_id, name
FROM run_events
WHERE thread_id IN (SELECT unnest(CAST($threads AS TEXT[]))) AND category = 'message'
ORDER BY thread_id, seq
"""

_VOTES_OF = """
SELECT f.feedback_id, f.run_id, f.owner_id, f.source, f.rating, f.comment, f.tags, f.message_id,
       f.created_at, f.updated_at
FROM feedback f
WHERE f.run_id IN (SELECT unnest(CAST($runs AS TEXT[])))
ORDER BY f.run_id, f.created_at, f.feedback_id
"""


def where(spec: DatasetSpec) -> tuple[str, dict]:
    """The condition on a run `r` (with its adjudication `a`) of the spec's filters, queue and verdict rule."""
    run, params = conditions(spec.filters, _RUNS)
    parts = [run, RULES[spec.verdict], blind.settled("r.run_id")]
    vote, vote_params = conditions(spec.filters, _VOTES)
    if vote_params:
        parts.append(f"EXISTS (SELECT 1 FROM feedback f WHERE f.run_id = r.run_id AND {vote})")
        params.update(vote_params)
    if spec.queue is not None:
        parts.append("EXISTS (SELECT 1 FROM queue_items q WHERE q.queue_name = $queue_name AND q.run_id = r.run_id)")
        params["queue_name"] = spec.queue
    return " AND ".join(parts), params


def pages(conn, spec: DatasetSpec, size: int = PAGE) -> Iterator[list[dict]]:
    """The spec's items, a page at a time, read on `conn` (one snapshot for all of them)."""
    condition, params = where(spec)
    sql = _PAGE.format(where=condition)
    after = {"after_thread": "", "after_run": ""}
    while True:
        runs = plain_all(conn.all(sql, {**params, **after, "limit": size}))
        if not runs:
            return
        yield _items(conn, runs)
        after = {"after_thread": runs[-1]["thread_id"], "after_run": runs[-1]["run_id"]}


def _items(conn, runs: list[dict]) -> list[dict]:
    messages: dict[str, list[dict]] = {}
    threads = sorted({run["thread_id"] for run in runs})
    # Each message is made a chat message once, however many of the page's items hold it.
    for message in conn.all(_MESSAGES, {"threads": threads}):
        calls = message["tool_calls"]
        message["tool_calls"] = json.loads(calls) if isinstance(calls, str) else calls
        message["chat"] = shapes.message(message)
        messages.setdefault(message["thread_id"], []).append(message)
    votes = plain_all(conn.all(_VOTES_OF, {"runs": [run["run_id"] for run in runs]}))
    scores.attach(conn, votes)
    corrected = corrections.for_votes(conn, [vote["feedback_id"] for vote in votes])
    by_run: dict[str, list[dict]] = {}
    for vote in votes:
        vote["correction"] = corrected.get(vote["feedback_id"])
        by_run.setdefault(vote["run_id"], []).append(vote)
    return [_item(run, messages.get(run["thread_id"], []), by_run.get(run["run_id"], [])) for run in runs]


def _item(run: dict, thread: list[dict], votes: list[dict]) -> dict:
    """One item as plain data: the run, its conversation and answer, its verdict and its votes."""
    own = [message for message in thread if message["run_id"] == run["run_id"]]
    answers = [message for message in own if message["role"] == "ai"]
    spoken = [message for message in answers if (message["text"] or "").strip()]
    answer: dict | None = (spoken or answers)[-1] if (spoken or answers) else None
    if answer is not None:
        context = [message for message in thread if message["seq"] < answer["seq"]]
        text = answer["text"] or ""
    else:
        last = max((message["seq"] for message in own), default=None)
        context = [message for message in thread if last is not None and message["seq"] <= last]
        text = run["last_ai_message"] or ""
    context = [message["chat"] for message in context if message["chat"] is not None]
    return {
        "run": run,
        "context": context,
        "answer": text,
        "votes": votes,
        "correction": _correction(votes, answer["message_id"] if answer else None),
    }


def _correction(votes: list[dict], answer_id: str | None) -> str | None:
    """The correction of the answer: the latest one written on a whole-run vote or on a vote on the answer
    itself, else the latest one on any vote of the run."""
    written = sorted((vote for vote in votes if vote["correction"]), key=lambda vote: vote["updated_at"])
    on_answer = [vote for vote in written if vote["message_id"] in (None, answer_id)]
    chosen = on_answer or written
    return chosen[-1]["correction"] if chosen else None
