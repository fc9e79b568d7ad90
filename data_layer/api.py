"""The REST API of the source system's feedback endpoints, served beside the dashboard under /api.

A thin face over `data_layer`: each endpoint authenticates the caller from its bearer token and
passes that actor to the same store functions the pages use (on the process's one
`shared_store()`), which ask `auth.authorize` themselves before anything is looked up; only the
backup, a copy of the files rather than a store operation, is authorized here. Errors are
`{"detail": ...}` with the data layer's HTTP status; request validation answers 400, not FastAPI's
422. Bodies are read raw so that the data layer's rules, not pydantic's coercions (`true` or `1.0`
as a rating), decide what is valid.

What a caller may know exists is the data layer's to say (`data_layer.targets`): every check of a
thread, run or message happens in `store.feedback`, after the role's own 403. The docs page
(`/api/docs`) loads its script and stylesheet from this server, never from another host, and a
path with a trailing slash answers 404 rather than a redirect built from the request's Host header.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.routing import Match

import data_layer
from data_layer import auth, backup, ingest, rules
from data_layer.errors import DataLayerError, InvalidInput, NotFound, Unavailable
from data_layer.schema import FEEDBACK_SOURCES, REASON_TAGS

MAX_BODY_VARIABLE = "FEEDBACK_API_MAX_BODY"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_OFFSET = 2**62
RUN_FEEDBACK = "/threads/{thread_id}/runs/{run_id}/feedback"
# Swagger UI's script and stylesheet, served from the fastapi-offline package.
DOCS_ASSETS = "/docs-assets"
# The data layer's id alphabet, documented in the OpenAPI paths so clients and fuzzers know it.
ID_PATTERN = f"^{rules.ID_PATTERN}$"
ThreadId = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]
RunId = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]
FeedbackId = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]

log = logging.getLogger(__name__)


class Feedback(BaseModel):
    """A vote, with the source system's field names (`user_id` is the reviewer, our `owner_id`)."""

    feedback_id: str
    thread_id: str
    run_id: str
    user_id: str | None
    message_id: str | None
    rating: Literal[1, -1]
    comment: str | None
    tags: list[Literal[REASON_TAGS]]
    source: Literal[FEEDBACK_SOURCES]
    created_at: datetime
    updated_at: datetime


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


_DESCRIPTIONS = {
    400: "Bad input: rating, tag, id, body or query parameter (nothing was stored)",
    401: "Missing or unknown API token",
    403: "The token's role may not do this",
    404: "Unknown thread, run, message or feedback, a run of another thread, or a thread the end user does not own",
    409: "The caller already voted on this target (use PUT to replace the vote)",
    413: f"Body larger than {MAX_BODY_VARIABLE} bytes",
    503: "The store cannot write now (full disk, I/O error, database unreachable): nothing was stored; "
    "retry after the Retry-After header's seconds",
}


def _errors(*statuses: int) -> dict:
    return {status: {"model": Error, "description": _DESCRIPTIONS[status]} for status in statuses}


_VOTE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rating"],
                    "properties": {
                        "rating": {"type": "integer", "enum": [1, -1], "description": "1 (thumbs up) or -1"},
                        "comment": {"type": ["string", "null"], "maxLength": rules.MAX_COMMENT},
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
                    },
                }
            }
        },
    }
}

_INGEST_BODY = {
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


def max_body() -> int:
    """`FEEDBACK_API_MAX_BODY` in bytes (default 10 MiB)."""
    value = os.environ.get(MAX_BODY_VARIABLE, "").strip()
    if not value:
        return DEFAULT_MAX_BODY
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"{MAX_BODY_VARIABLE} must be a positive number of bytes, got {value[:40]!r}")
    return int(value)


def _public(row: dict) -> dict:
    return {
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


def _vote_fields(body: bytes) -> dict:
    record = ingest.decode_line(body)
    if isinstance(record, ingest.RecordError):
        raise InvalidInput(f"body: {record}")
    if not isinstance(record, dict):
        raise InvalidInput(f"body must be a JSON object, got {type(record).__name__}")
    if "rating" not in record:
        raise InvalidInput("body: rating is required (1 or -1)")
    return {name: record.get(name) for name in ("rating", "comment", "message_id", "tags")}


def _records(raw: bytes):
    """The body's numbered records, read only once the store has let the caller ingest (403 first)."""
    if not raw.strip():
        raise InvalidInput("body is empty: send import records as a JSON array or as JSONL")
    yield from ingest.read_body(raw)


_BACKUP_BODY = {
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


def _store() -> data_layer.Store:
    return data_layer.shared_store()


def _validation_detail(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_api() -> FastAPI:
    """The FastAPI app; tokens and the body limit are read once, and a bad setting stops the start."""
    tokens = auth.configured_tokens()
    limit = max_body()
    if not tokens:
        log.warning("no %s configured: every API call except /health will answer 401", auth.TOKENS_VARIABLE)

    api = FastAPIOffline(
        title="Agent feedback API",
        version="1",
        description="The source system's feedback endpoints, served beside the review dashboard.",
        servers=[{"url": "/api"}],
        generate_unique_id_function=lambda route: route.name,
        # Starlette's redirect to the path without the slash is an absolute URL built from the Host header.
        redirect_slashes=False,
        static_url=DOCS_ASSETS,
        # ReDoc's page always loads its maker's logo from another host; Swagger UI's page is the docs.
        redoc_url=None,
    )
    bearer = HTTPBearer(auto_error=False, description="An API token from `python -m data_layer token new`")

    async def caller(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> auth.Actor:
        actor = auth.authenticate(credentials.credentials if credentials else None, tokens)
        if actor is None:
            raise HTTPException(
                401, "missing or invalid API token: send Authorization: Bearer TOKEN", {"WWW-Authenticate": "Bearer"}
            )
        return actor

    async def body(request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"body is larger than {limit:,} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"body is larger than {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @api.exception_handler(DataLayerError)
    async def data_layer_error(request: Request, error: DataLayerError) -> JSONResponse:
        # Unavailable: nothing was stored, and the same call may be sent again later.
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Unavailable) else None
        return JSONResponse({"detail": str(error)}, status_code=error.http_status, headers=headers)

    @api.exception_handler(405)
    async def method_not_allowed(request: Request, error: Exception) -> JSONResponse:
        # Starlette names only the first route that matched the path, and FastAPI has one route per
        # method; a literal segment ("stats") outranks a parameter ("{feedback_id}") matching it too.
        matched = [route for route in api.routes if route.matches(request.scope)[0] is not Match.NONE]
        fewest = min((route.path.count("{") for route in matched), default=0)
        methods = {method for route in matched if route.path.count("{") == fewest for method in route.methods}
        return JSONResponse(
            {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(sorted(methods))}
        )

    @api.exception_handler(404)
    async def not_found(request: Request, error: Exception) -> JSONResponse:
        detail = getattr(error, "detail", "Not Found")
        path = request.scope["path"]
        if path.endswith("/") and any(
            route.matches({**request.scope, "path": path.rstrip("/")})[0] is not Match.NONE for route in api.routes
        ):
            detail = "Not Found: API paths end without a slash"
        return JSONResponse({"detail": detail}, status_code=404)

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(error)}, status_code=400)

    @api.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("API error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @api.get("/health", summary="Liveness (no token needed)")
    def health() -> dict:
        return {"status": "ok"}

    @api.post(
        RUN_FEEDBACK,
        status_code=201,
        response_model=Feedback,
        responses=_errors(400, 401, 403, 404, 409, 413, 503),
        openapi_extra=_VOTE_BODY,
        summary="Create the caller's vote on a run or one of its messages",
    )
    def create_feedback(
        thread_id: ThreadId, run_id: RunId, actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)
    ) -> dict:
        vote = _vote_fields(raw)
        return _public(_store().feedback.create(thread_id=thread_id, run_id=run_id, actor=actor, **vote))

    @api.put(
        RUN_FEEDBACK,
        response_model=Feedback,
        responses=_errors(400, 401, 403, 404, 413, 503),
        openapi_extra=_VOTE_BODY,
        summary="Create or replace the caller's vote (the same feedback_id is kept)",
    )
    def put_feedback(
        thread_id: ThreadId, run_id: RunId, actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)
    ) -> dict:
        vote = _vote_fields(raw)
        return _public(_store().feedback.upsert(thread_id=thread_id, run_id=run_id, actor=actor, **vote))

    @api.delete(
        RUN_FEEDBACK,
        response_model=Success,
        responses=_errors(400, 401, 403, 404, 503),
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
        retracted = _store().feedback.retract(thread_id=thread_id, run_id=run_id, message_id=message_id, actor=actor)
        if not retracted:
            target = f"message {message_id}" if message_id else f"run {run_id}"
            raise NotFound(f"{actor.user_id} has no vote on {target}")
        return {"success": True}

    page_headers = {
        200: {
            "headers": {
                "X-Total-Count": {"description": "all matching votes", "required": True, "schema": {"type": "integer"}}
            }
        }
    }

    def paged(total: int, response: Response) -> None:
        response.headers["X-Total-Count"] = str(total)

    limit_query = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"page size (at most {MAX_PAGE})")
    offset_query = Query(0, ge=0, le=MAX_OFFSET, description="votes to skip")

    @api.get(
        RUN_FEEDBACK,
        response_model=list[Feedback],
        responses={**page_headers, **_errors(400, 401, 403, 404)},
        summary="A run's votes, oldest first, paginated; the total is in X-Total-Count",
    )
    def list_run_feedback(
        thread_id: ThreadId,
        run_id: RunId,
        response: Response,
        limit: int = limit_query,
        offset: int = offset_query,
        actor: auth.Actor = Depends(caller),
    ) -> list[dict]:
        feedback = _store().feedback
        paged(feedback.count_by_run(thread_id, run_id, actor=actor), response)
        rows = feedback.list_by_run(thread_id, run_id, actor=actor, limit=limit, offset=offset)
        return [_public(row) for row in rows]

    @api.get(
        RUN_FEEDBACK + "/stats",
        response_model=Stats,
        responses=_errors(400, 401, 403, 404),
        summary="A run's tallies: {run_id, total, positive, negative}",
    )
    def run_stats(thread_id: ThreadId, run_id: RunId, actor: auth.Actor = Depends(caller)) -> dict:
        return _store().feedback.aggregate_by_run(thread_id, run_id, actor=actor)

    @api.delete(
        RUN_FEEDBACK + "/{feedback_id}",
        response_model=Success,
        responses=_errors(400, 401, 403, 404, 503),
        summary="Delete a vote by id: its owner, or an admin",
    )
    def delete_feedback(
        thread_id: ThreadId, run_id: RunId, feedback_id: FeedbackId, actor: auth.Actor = Depends(caller)
    ) -> dict:
        if not _store().feedback.delete(feedback_id, thread_id=thread_id, run_id=run_id, actor=actor):
            raise NotFound(f"feedback {feedback_id[:100]} not found in run {run_id} of thread {thread_id}")
        return {"success": True}

    @api.get(
        "/runs/{run_id}/feedback",
        response_model=list[Feedback],
        responses={**page_headers, **_errors(400, 401, 403, 404)},
        summary="A run's votes by run id alone, oldest first, paginated",
    )
    def list_feedback_of_run(
        run_id: RunId,
        response: Response,
        limit: int = limit_query,
        offset: int = offset_query,
        actor: auth.Actor = Depends(caller),
    ) -> list[dict]:
        feedback = _store().feedback
        paged(feedback.count_by_run_id(run_id, actor=actor), response)
        return [_public(row) for row in feedback.list_by_run_id(run_id, actor=actor, limit=limit, offset=offset)]

    @api.get(
        "/threads/{thread_id}/feedback",
        response_model=list[Feedback],
        responses={**page_headers, **_errors(400, 401, 403, 404)},
        summary="A whole thread's votes, oldest first, paginated",
    )
    def list_thread_feedback(
        thread_id: ThreadId,
        response: Response,
        limit: int = limit_query,
        offset: int = offset_query,
        actor: auth.Actor = Depends(caller),
    ) -> list[dict]:
        feedback = _store().feedback
        paged(feedback.count_by_thread(thread_id, actor=actor), response)
        return [_public(row) for row in feedback.list_by_thread(thread_id, actor=actor, limit=limit, offset=offset)]

    @api.post(
        "/ingest",
        response_model=ImportResult,
        responses=_errors(400, 401, 403, 413, 503),
        openapi_extra=_INGEST_BODY,
        summary="Import records (JSON array or JSONL), atomically: one bad record and nothing is stored",
    )
    def ingest_records(actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)):
        report = _store().ingest_numbered(_records(raw), actor=actor)
        if not report.ok:
            bad = len(report.errors) + report.more_errors
            detail = f"nothing imported: {bad} bad record{'' if bad == 1 else 's'}"
            return JSONResponse({"detail": detail, **report.as_dict()}, status_code=400)
        return report.as_dict()

    @api.post(
        "/admin/backup",
        responses=_errors(400, 401, 403, 409, 413, 503),
        openapi_extra=_BACKUP_BODY,
        summary="Write a consistent backup of every table into the backup directory (admins)",
    )
    def make_backup(actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)) -> dict:
        auth.authorize(actor, "backup")
        try:
            # No body at all takes the default name; a body, even blank, must be the JSON object.
            payload = json.loads(raw) if raw else {}
        except ValueError as error:
            raise InvalidInput(f"body is not JSON: {error}") from error
        if not isinstance(payload, dict):
            raise InvalidInput('body must be a JSON object, e.g. {"name": "before-upgrade"}')
        name = payload["name"] if "name" in payload else backup.default_name()
        store = _store()
        # A name, not a path: the copy lands in the configured directory and nowhere else.
        target = backup.backup_dir(store) / rules.identifier(name, "name")
        manifest = backup.backup(store, target)
        return {"path": str(target.resolve()), **manifest}

    _without_422(api)
    return api


def _without_422(api: FastAPI) -> None:
    """FastAPI documents 422 for every validated parameter; this API answers 400 instead."""
    generate = api.openapi

    def openapi() -> dict:
        schema = generate()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema

    api.openapi = openapi
