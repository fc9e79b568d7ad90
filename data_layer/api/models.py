"""What the API's requests and responses look like, as the OpenAPI document describes them: the path
parameters, the request bodies, the response models, the documented error answers, and `public()`,
a stored vote with the source system's field names.

Request bodies are documented here and read raw by the routes, so that the data layer's rules, not
pydantic's coercions (`true` or `1.0` as a rating), decide what is valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel

from data_layer import config, corrections, ingest, rules
from data_layer.queues.rubric import NAME_PATTERN
from data_layer.schema import REASON_TAGS, FeedbackSource, ReasonTag

# The data layer's id alphabet, documented in the OpenAPI paths so clients and fuzzers know it.
ID_PATTERN = f"^{rules.ID_PATTERN}$"
ThreadId = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]
RunId = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]
FeedbackId = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]


class Feedback(BaseModel):
    """A vote, with the source system's field names (`user_id` is the reviewer, our `owner_id`)."""

    feedback_id: str
    thread_id: str
    run_id: str
    user_id: str | None
    message_id: str | None
    rating: Literal[1, -1]
    comment: str | None
    tags: list[ReasonTag]
    source: FeedbackSource
    created_at: datetime
    updated_at: datetime
    # Present only on a vote with rubric scores, so the source system's fields stay as they are.
    scores: dict[str, bool | int | str] | None = None
    # Present only on a vote with a corrected answer (data_layer/corrections.py), for the same reason.
    correction: str | None = None


class Stats(BaseModel):
    run_id: str
    total: int
    positive: int
    negative: int


class Success(BaseModel):
    success: bool


class Error(BaseModel):
    detail: str


class RejectedLine(BaseModel):
    line: int
    error: str


class ImportResult(BaseModel):
    ok: bool
    counts: dict[str, int]
    total: int
    errors: list[RejectedLine]
    more_errors: int


def public(row: dict) -> dict:
    """A stored vote as a `Feedback` (with `scores` and `correction` only when it has them: the routes leave
    unset fields out of the answer)."""
    shown = {
        "feedback_id": row["feedback_id"],
        "thread_id": row["thread_id"],
        "run_id": row["run_id"],
        "user_id": row["owner_id"],
        "message_id": row["message_id"],
        "rating": row["rating"],
        "comment": row["comment"],
        "tags": list(row["tags"] or []),
        "source": row["source"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if row.get("scores"):
        shown["scores"] = row["scores"]
    if row.get("correction"):
        shown["correction"] = row["correction"]
    return shown


_DESCRIPTIONS = {
    400: "Bad input: rating, tag, id, body or query parameter (nothing was stored)",
    401: "Missing or unknown API token",
    403: "The token's role may not do this",
    404: "Unknown thread, run, message or feedback, a run of another thread, or a thread the end user does not own",
    409: "The caller already voted on this target (use PUT to replace the vote)",
    413: f"Body larger than {config.API_MAX_BODY_VARIABLE} bytes",
    503: "The store cannot write now (full disk, I/O error, database unreachable): nothing was stored; "
    "retry after the Retry-After header's seconds",
}


def errors(*statuses: int) -> dict:
    """The documented error answers of a route: each is `{"detail": ...}`."""
    return {status: {"model": Error, "description": _DESCRIPTIONS[status]} for status in statuses}


# Texts are refused with a NUL byte in them (`rules.text`): the schema says so, as a pattern.
NO_NUL = "^[^\\x00]*$"

_VOTE_PROPERTIES: dict[str, dict] = {
    "rating": {"type": "integer", "enum": [1, -1], "description": "1 (thumbs up) or -1"},
    "comment": {"type": ["string", "null"], "maxLength": rules.MAX_COMMENT, "pattern": NO_NUL},
    "message_id": {
        "type": ["string", "null"],
        "pattern": ID_PATTERN,
        "description": "scope the vote to one message of the run",
    },
    "tags": {
        "type": ["array", "null"],
        "items": {"type": "string", "enum": list(REASON_TAGS)},
        "description": "reason tags",
    },
    "scores": {
        "type": ["object", "null"],
        "propertyNames": {"pattern": f"^{NAME_PATTERN}$"},
        "additionalProperties": {"type": ["boolean", "integer", "string"]},
        "description": "rubric scores, criterion name to value: binary yes/no or true/false, ordinal 1 to 5, "
        "categorical one of its options. A queue's submit must give the queue's required criteria; elsewhere "
        "each criterion must be in the rubric of a queue the run is in. Given, they replace the vote's "
        "scores; left out, the vote keeps them.",
    },
    "correction": {
        "type": ["string", "null"],
        "maxLength": corrections.MAX_LENGTH,
        "pattern": NO_NUL,
        "description": "the answer the agent should have given (markdown), kept with the caller's vote. "
        "Given, it replaces the vote's correction; an empty one removes it; left out, the vote keeps it. "
        "Reviewers, leads and admins may send one; an end user's token may not (403).",
    },
}


def _json_body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


VOTE_BODY = _json_body({"type": "object", "required": ["rating"], "properties": _VOTE_PROPERTIES})

# A queue item is judged as a whole run: the vote's body without `message_id`, and nothing else.
QUEUE_VOTE_FIELDS = ("rating", "comment", "tags", "scores")
QUEUE_VOTE_BODY = _json_body(
    {
        "type": "object",
        "required": ["rating"],
        "properties": {name: _VOTE_PROPERTIES[name] for name in QUEUE_VOTE_FIELDS},
        "additionalProperties": False,
    }
)

INGEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "Import records as a JSON array, or as JSONL (one record per line, any content type).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind"],
                        "properties": {"kind": {"type": "string", "enum": list(ingest.KINDS)}},
                    },
                }
            }
        },
    }
}

BACKUP_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "pattern": ID_PATTERN, "maxLength": 200}},
                }
            }
        },
    }
}
