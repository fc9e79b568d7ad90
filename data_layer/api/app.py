"""`create_api`: the FastAPI app with its settings, its error answers and the routes of `routes.py`.

Errors are `{"detail": ...}`: the data layer's errors with their HTTP status (and Retry-After when
nothing could be stored), request validation as 400 rather than FastAPI's 422, a wrong method as 405
with every allowed method, and a path with a trailing slash as 404 rather than a redirect built from
the request's Host header. The docs page (`/api/docs`) loads its script and stylesheet from this
server, never from another host.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.routing import Match

from data_layer import auth, config
from data_layer.api import dataset_routes, judge_routes, queue_routes
from data_layer.api.routes import ROUTES
from data_layer.errors import DataLayerError, Unavailable

# Swagger UI's script and stylesheet, served from the fastapi-offline package.
DOCS_ASSETS = "/docs-assets"

log = logging.getLogger(__name__)


def create_api() -> FastAPI:
    """The FastAPI app; tokens and the body limit are read once, and a bad setting stops the start."""
    tokens = auth.configured_tokens()
    max_body = config.api_max_body()
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
    api.state.tokens = tokens
    api.state.max_body = max_body
    handlers: tuple[tuple[int | type[Exception], Callable[..., Awaitable[Response]]], ...] = (
        (DataLayerError, data_layer_error),
        (405, method_not_allowed),
        (404, not_found),
        (RequestValidationError, bad_request),
        (Exception, server_error),
    )
    for error, answer in handlers:
        api.add_exception_handler(error, answer)
    for path, endpoint, options in (*ROUTES, *queue_routes.ROUTES, *judge_routes.ROUTES, *dataset_routes.ROUTES):
        api.add_api_route(path, endpoint, **options)
    _without_422(api)
    return api


async def data_layer_error(request: Request, error: DataLayerError) -> JSONResponse:
    # Unavailable: nothing was stored, and the same call may be sent again later.
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Unavailable) else None
    return JSONResponse({"detail": str(error)}, status_code=error.http_status, headers=headers)


async def method_not_allowed(request: Request, error: Exception) -> JSONResponse:
    # Starlette names only the first route that matched the path, and FastAPI has one route per
    # method; a literal segment ("stats") outranks a parameter ("{feedback_id}") matching it too.
    matched = [route for route in request.app.routes if route.matches(request.scope)[0] is not Match.NONE]
    fewest = min((route.path.count("{") for route in matched), default=0)
    methods = {method for route in matched if route.path.count("{") == fewest for method in route.methods}
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(sorted(methods))}
    )


async def not_found(request: Request, error: Exception) -> JSONResponse:
    detail = getattr(error, "detail", "Not Found")
    path = request.scope["path"]
    if path.endswith("/") and any(
        route.matches({**request.scope, "path": path.rstrip("/")})[0] is not Match.NONE for route in request.app.routes
    ):
        detail = "Not Found: API paths end without a slash"
    return JSONResponse({"detail": detail}, status_code=404)


async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": _validation_detail(error)}, status_code=400)


async def server_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("API error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def _validation_detail(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


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

    # FastAPI's documented way to change the schema it serves ("Extending OpenAPI") replaces the method.
    api.openapi = openapi  # type: ignore[method-assign]
