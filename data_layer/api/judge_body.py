"""A judge's verdict through the run feedback PUT: the body a judge's token sends, and the answer in the
shape of a feedback object (`source` judge) with the judge's own fields beside."""

from __future__ import annotations

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from data_layer import auth, ingest
from data_layer.api.dependencies import store
from data_layer.errors import InvalidInput

JUDGE_FIELDS = ("rating", "comment", "rationale", "message_id", "scores")


def judge_verdict(thread_id: str, run_id: str, raw: bytes, actor: auth.Actor) -> JSONResponse:
    """A judge's verdict from a run feedback PUT body (`rating`, `rationale` or `comment`, `message_id`,
    `scores`), as a feedback object with `source` judge and the judge's own fields beside."""
    record = ingest.decode_line(raw)
    if isinstance(record, ingest.RecordError) or not isinstance(record, dict):
        raise InvalidInput("body must be a JSON object")
    unknown = [name for name in record if name not in JUDGE_FIELDS]
    if unknown:
        raise InvalidInput(f"body: {str(unknown[0])[:60]!r} is not taken from a judge; send {', '.join(JUDGE_FIELDS)}")
    if "rating" not in record:
        raise InvalidInput("body: rating is required (1 or -1)")
    if record.get("comment") is not None and record.get("rationale") is not None:
        raise InvalidInput("body: send the judge's rationale as rationale or as comment, not both")
    verdict = store().judges.put(
        judge=actor.user_id,
        thread_id=thread_id,
        run_id=run_id,
        rating=record["rating"],
        message_id=record.get("message_id"),
        rationale=record.get("rationale", record.get("comment")),
        scores=record.get("scores"),
        actor=actor,
    )
    answer = {
        "feedback_id": verdict["judge_vote_id"],
        "thread_id": verdict["thread_id"],
        "run_id": verdict["run_id"],
        "user_id": verdict["judge"],
        "message_id": verdict["message_id"],
        "rating": verdict["rating"],
        "comment": verdict["rationale"],
        "tags": [],
        "source": "judge",
        "created_at": verdict["created_at"],
        "updated_at": verdict["updated_at"],
        "judge": verdict["judge"],
        "rationale": verdict["rationale"],
        "scores": verdict["scores"],
    }
    return JSONResponse(jsonable_encoder(answer))
