"""The endpoints, each a few lines: read the request, call the store with the token's actor (the
store authorizes and checks the target itself), shape the answer.

`route` declares an endpoint beside its code and `create_api` adds them to the app in this order,
which is the order of the OpenAPI document; the operation id is the function's name. The routes are
added one by one rather than through an `APIRouter`: FastAPI keeps an included router as one entry of
`api.routes`, and the 404 and 405 answers read the path and methods of every route.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from data_layer import auth, backup, ingest, rules
from data_layer.api import judge_body
from data_layer.api.dependencies import Page, body, caller, page, paged, store
from data_layer.api.models import (
    BACKUP_BODY,
    ID_PATTERN,
    INGEST_BODY,
    VOTE_BODY,
    Feedback,
    FeedbackId,
    ImportResult,
    RunId,
    Stats,
    Success,
    ThreadId,
    errors,
    public,
)
from data_layer.errors import InvalidInput, NotFound

RUN_FEEDBACK = "/threads/{thread_id}/runs/{run_id}/feedback"

ROUTES: list[tuple[str, Callable, dict]] = []


def declarer(routes: list[tuple[str, Callable, dict]]) -> Callable[..., Callable[[Callable], Callable]]:
    """A `route` decorator that declares its endpoints into `routes`."""

    def route(method: str, path: str, **options) -> Callable[[Callable], Callable]:
        """Declare the decorated function as the endpoint of `method` on `path` (`options` as FastAPI's)."""

        def declare(endpoint: Callable) -> Callable:
            routes.append((path, endpoint, {"methods": [method], **options}))
            return endpoint

        return declare

    return route


route = declarer(ROUTES)


@route("GET", "/health", summary="Liveness (no token needed)")
def health() -> dict:
    return {"status": "ok"}


# ---- votes ----------------------------------------------------------------------------------------


VOTE_FIELDS = ("rating", "comment", "message_id", "tags", "scores", "correction")


def vote_fields(raw: bytes, fields: tuple[str, ...] = VOTE_FIELDS) -> dict:
    """The vote's `fields` from a JSON body; with fewer than all of them, any other field is refused."""
    record = ingest.decode_line(raw)
    if isinstance(record, ingest.RecordError):
        raise InvalidInput(f"body: {record}")
    if not isinstance(record, dict):
        raise InvalidInput(f"body must be a JSON object, got {type(record).__name__}")
    if "rating" not in record:
        raise InvalidInput("body: rating is required (1 or -1)")
    unknown = [name for name in record if name not in fields]
    if len(fields) < len(VOTE_FIELDS) and unknown:
        raise InvalidInput(f"body: {str(unknown[0])[:60]!r} is not taken here; send {', '.join(fields)}")
    return {name: record.get(name) for name in fields}


@route(
    "POST",
    RUN_FEEDBACK,
    status_code=201,
    response_model=Feedback,
    response_model_exclude_unset=True,
    responses=errors(400, 401, 403, 404, 409, 413, 503),
    openapi_extra=VOTE_BODY,
    summary="Create the caller's vote on a run or one of its messages",
)
def create_feedback(
    thread_id: ThreadId, run_id: RunId, actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)
) -> dict:
    vote = vote_fields(raw)
    return public(store().feedback.create(thread_id=thread_id, run_id=run_id, actor=actor, **vote))


@route(
    "PUT",
    RUN_FEEDBACK,
    response_model=Feedback,
    response_model_exclude_unset=True,
    responses=errors(400, 401, 403, 404, 413, 503),
    openapi_extra=VOTE_BODY,
    summary="Create or replace the caller's vote (the same feedback_id is kept); a judge's token gives the "
    "judge's verdict (`rationale`, `scores`), answered with `source` judge",
)
def put_feedback(
    thread_id: ThreadId, run_id: RunId, actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)
) -> dict | JSONResponse:
    if actor.role == "judge":
        return judge_body.judge_verdict(thread_id, run_id, raw, actor)
    vote = vote_fields(raw)
    return public(store().feedback.upsert(thread_id=thread_id, run_id=run_id, actor=actor, **vote))


@route(
    "DELETE",
    RUN_FEEDBACK,
    response_model=Success,
    responses=errors(400, 401, 403, 404, 503),
    summary="Retract the caller's own vote (404 when there is none)",
)
def retract_feedback(
    thread_id: ThreadId,
    run_id: RunId,
    message_id: str | None = Query(
        None, pattern=ID_PATTERN, max_length=200, description="retract the vote on this message instead of the run"
    ),
    actor: auth.Actor = Depends(caller),
) -> dict:
    if not store().feedback.retract(thread_id=thread_id, run_id=run_id, message_id=message_id, actor=actor):
        target = f"message {message_id}" if message_id else f"run {run_id}"
        raise NotFound(f"{actor.user_id} has no vote on {target}")
    return {"success": True}


@route(
    "GET",
    RUN_FEEDBACK,
    response_model=list[Feedback],
    response_model_exclude_unset=True,
    responses=paged(400, 401, 403, 404),
    summary="A run's votes, oldest first, paginated; the total is in X-Total-Count",
)
def list_run_feedback(
    thread_id: ThreadId, run_id: RunId, actor: auth.Actor = Depends(caller), window: Page = Depends(page)
) -> list[dict]:
    feedback = store().feedback
    return window.of(
        feedback.count_by_run(thread_id, run_id, actor=actor),
        feedback.list_by_run(thread_id, run_id, actor=actor, limit=window.limit, offset=window.offset),
    )


@route(
    "GET",
    RUN_FEEDBACK + "/stats",
    response_model=Stats,
    responses=errors(400, 401, 403, 404),
    summary="A run's tallies: {run_id, total, positive, negative}",
)
def run_stats(thread_id: ThreadId, run_id: RunId, actor: auth.Actor = Depends(caller)) -> dict:
    return store().feedback.aggregate_by_run(thread_id, run_id, actor=actor)


@route(
    "DELETE",
    RUN_FEEDBACK + "/{feedback_id}",
    response_model=Success,
    responses=errors(400, 401, 403, 404, 503),
    summary="Delete a vote by id: its owner, or an admin",
)
def delete_feedback(
    thread_id: ThreadId, run_id: RunId, feedback_id: FeedbackId, actor: auth.Actor = Depends(caller)
) -> dict:
    if not store().feedback.delete(feedback_id, thread_id=thread_id, run_id=run_id, actor=actor):
        raise NotFound(f"feedback {feedback_id[:100]} not found in run {run_id} of thread {thread_id}")
    return {"success": True}


@route(
    "GET",
    "/runs/{run_id}/feedback",
    response_model=list[Feedback],
    response_model_exclude_unset=True,
    responses=paged(400, 401, 403, 404),
    summary="A run's votes by run id alone, oldest first, paginated",
)
def list_feedback_of_run(
    run_id: RunId, actor: auth.Actor = Depends(caller), window: Page = Depends(page)
) -> list[dict]:
    feedback = store().feedback
    return window.of(
        feedback.count_by_run_id(run_id, actor=actor),
        feedback.list_by_run_id(run_id, actor=actor, limit=window.limit, offset=window.offset),
    )


@route(
    "GET",
    "/threads/{thread_id}/feedback",
    response_model=list[Feedback],
    response_model_exclude_unset=True,
    responses=paged(400, 401, 403, 404),
    summary="A whole thread's votes, oldest first, paginated",
)
def list_thread_feedback(
    thread_id: ThreadId, actor: auth.Actor = Depends(caller), window: Page = Depends(page)
) -> list[dict]:
    feedback = store().feedback
    return window.of(
        feedback.count_by_thread(thread_id, actor=actor),
        feedback.list_by_thread(thread_id, actor=actor, limit=window.limit, offset=window.offset),
    )


# ---- import and backup ----------------------------------------------------------------------------


def _records(raw: bytes):
    """The body's numbered records, read only once the store has let the caller ingest (403 first)."""
    if not raw.strip():
        raise InvalidInput("body is empty: send import records as a JSON array or as JSONL")
    yield from ingest.read_body(raw)


@route(
    "POST",
    "/ingest",
    response_model=ImportResult,
    responses=errors(400, 401, 403, 413, 503),
    openapi_extra=INGEST_BODY,
    summary="Import records (JSON array or JSONL), atomically: one bad record and nothing is stored",
)
def ingest_records(actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)):
    report = store().ingest_numbered(_records(raw), actor=actor)
    if not report.ok:
        bad = len(report.errors) + report.more_errors
        detail = f"nothing imported: {bad} bad record{'' if bad == 1 else 's'}"
        return JSONResponse({"detail": detail, **report.as_dict()}, status_code=400)
    return report.as_dict()


@route(
    "POST",
    "/admin/backup",
    responses=errors(400, 401, 403, 409, 413, 503),
    openapi_extra=BACKUP_BODY,
    summary="Write a consistent backup of every table into the backup directory (admins)",
)
def make_backup(actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)) -> dict:
    # A copy of the files rather than a store operation: authorized here.
    auth.authorize(actor, "backup")
    try:
        # No body at all takes the default name; a body, even blank, must be the JSON object.
        payload = json.loads(raw) if raw else {}
    except ValueError as error:
        raise InvalidInput(f"body is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise InvalidInput('body must be a JSON object, e.g. {"name": "before-upgrade"}')
    name = payload["name"] if "name" in payload else backup.default_name()
    current = store()
    # A name, not a path: the copy lands in the configured directory and nowhere else.
    target = backup.backup_dir(current) / rules.identifier(name, "name")
    manifest = backup.backup(current, target)
    return {"path": str(target.resolve()), **manifest}
