"""A dataset item as it is written: one JSON object per line, and the same fields as a Parquet row.

The object follows the OpenAI chat fine-tuning and evals shape, `{"messages": [...], "ideal": ...}`,
with more keys beside them. `messages` is the conversation up to the judged answer, each message as
OpenAI's chat format and LangChain's `convert_to_messages` both read it: the source system's `human`,
`ai`, `tool` and `system` messages as roles `user`, `assistant`, `tool` and `system`, an assistant's
tool calls as `tool_calls` (`{id, type: "function", function: {name, arguments}}`, the arguments as
JSON text), a tool message's `tool_call_id` and `name`. `ideal` is the answer the agent should have
given: a reviewer's correction when there is one, else the agent's own answer when the verdict is
good, else null.
"""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa

ROLES = {"human": "user", "ai": "assistant", "tool": "tool", "system": "system"}

_CALL = pa.struct(
    [
        ("id", pa.string()),
        ("type", pa.string()),
        ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
    ]
)
_MESSAGE = pa.struct(
    [
        ("role", pa.string()),
        ("content", pa.string()),
        ("tool_calls", pa.list_(_CALL)),
        ("tool_call_id", pa.string()),
        ("name", pa.string()),
    ]
)
_SCORE = pa.struct([("criterion", pa.string()), ("value", pa.string())])
_REVIEW = pa.struct(
    [
        ("feedback_id", pa.string()),
        ("reviewer", pa.string()),
        ("source", pa.string()),
        ("rating", pa.int8()),
        ("comment", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("scores", pa.list_(_SCORE)),
        ("message_id", pa.string()),
        ("correction", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)
# The Parquet file's columns: the JSONL object's keys, scores as (criterion, value) pairs with the value as
# stored (`yes`/`no`, `1`-`5`, or the option), times as UTC timestamps.
SCHEMA = pa.schema(
    [
        ("messages", pa.list_(_MESSAGE)),
        ("ideal", pa.string()),
        ("answer", pa.string()),
        ("verdict", pa.string()),
        ("verdict_by", pa.string()),
        ("correction", pa.string()),
        ("run_id", pa.string()),
        ("thread_id", pa.string()),
        ("assistant_id", pa.string()),
        ("model_name", pa.string()),
        ("run_status", pa.string()),
        ("run_created_at", pa.timestamp("us", tz="UTC")),
        ("reviewer_good", pa.int32()),
        ("reviewer_bad", pa.int32()),
        ("adjudication_note", pa.string()),
        ("adjudicated_by", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("comments", pa.list_(pa.string())),
        ("reviews", pa.list_(_REVIEW)),
    ]
)


def message(stored: dict) -> dict | None:
    """A stored message event as a chat message (None for one of no known role)."""
    role = ROLES.get(stored["role"] or "")
    if role is None:
        return None
    out: dict = {"role": role, "content": stored["text"] or ""}
    calls = stored["tool_calls"] if isinstance(stored["tool_calls"], list) else []
    if role == "assistant" and calls:
        out["tool_calls"] = [_call(call) for call in calls if isinstance(call, dict)]
    if role == "tool":
        if stored["tool_call_id"]:
            out["tool_call_id"] = stored["tool_call_id"]
        if stored["name"]:
            out["name"] = stored["name"]
    return out


def _call(call: dict) -> dict:
    args = call.get("args")
    arguments = args if isinstance(args, str) else json.dumps(args if args is not None else {}, ensure_ascii=False)
    return {"id": call.get("id"), "type": "function", "function": {"name": call.get("name"), "arguments": arguments}}


def record(item: dict) -> dict:
    """The item as the JSONL object (plain JSON values, times ISO 8601)."""
    run = item["run"]
    verdict = run["verdict"]
    ideal = item["correction"] or (item["answer"] if verdict == "good" else None)
    votes = item["votes"]
    return {
        "messages": item["context"],
        "ideal": ideal,
        "answer": item["answer"],
        "verdict": verdict,
        "verdict_by": "adjudication" if run["adjudicated"] else ("reviewers" if verdict else None),
        "correction": item["correction"],
        "run_id": run["run_id"],
        "thread_id": run["thread_id"],
        "assistant_id": run["assistant_id"],
        "model_name": run["model_name"],
        "run_status": run["status"],
        "run_created_at": run["created_at"],
        "reviewer_good": int(run["panel_positive"] or 0),
        "reviewer_bad": int(run["panel_negative"] or 0),
        "adjudication_note": run["adjudication_note"],
        "adjudicated_by": run["adjudicated_by"],
        "tags": sorted({tag for vote in votes for tag in vote["tags"] or []}),
        "comments": [vote["comment"] for vote in votes if vote["comment"]],
        "reviews": [_review(vote) for vote in votes],
    }


def _review(vote: dict) -> dict:
    return {
        "feedback_id": vote["feedback_id"],
        "reviewer": vote["owner_id"],
        "source": vote["source"],
        "rating": vote["rating"],
        "comment": vote["comment"],
        "tags": list(vote["tags"] or []),
        "scores": vote.get("scores") or {},
        "message_id": vote["message_id"],
        "correction": vote["correction"],
        "created_at": vote["created_at"],
    }


def line(row: dict) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def table(rows: list[dict]) -> pa.Table:
    """JSONL objects as Parquet rows of `SCHEMA`."""
    return pa.Table.from_pylist([_columnar(row) for row in rows], schema=SCHEMA)


def _columnar(row: dict) -> dict:
    return {
        **row,
        "messages": [{"tool_calls": None, "tool_call_id": None, "name": None, **m} for m in row["messages"]],
        "run_created_at": _time(row["run_created_at"]),
        "reviews": [
            {
                **review,
                "scores": [{"criterion": k, "value": _stored(v)} for k, v in review["scores"].items()],
                "created_at": _time(review["created_at"]),
            }
            for review in row["reviews"]
        ],
    }


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _stored(value) -> str:
    """A score as the store keeps it: a binary one `yes`/`no`, an ordinal one its digit, else its option."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
