"""What a route takes from its request, as FastAPI dependencies: the caller (the actor of a bearer
token), the raw body within the size limit, and the page of a list endpoint; and the store they act on.

The tokens and the body limit are the app's (`create_api` reads them once into `app.state`), so an
app made with other settings answers by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import data_layer
from data_layer import auth
from data_layer.api.models import errors, public

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_OFFSET = 2**62

bearer = HTTPBearer(auto_error=False, description="An API token from `python -m data_layer token new`")


def store() -> data_layer.Store:
    return data_layer.shared_store()


async def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> auth.Actor:
    """The actor of the request's bearer token; 401 without a known one."""
    actor = auth.authenticate(credentials.credentials if credentials else None, request.app.state.tokens)
    if actor is None:
        raise HTTPException(
            401, "missing or invalid API token: send Authorization: Bearer TOKEN", {"WWW-Authenticate": "Bearer"}
        )
    return actor


async def body(request: Request) -> bytes:
    """The request body as sent; 413 as soon as it is known to be over the limit, before it is all read."""
    limit = request.app.state.max_body
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


@dataclass(frozen=True)
class Page:
    """One page of a list of votes: `limit` and `offset` from the query; the total of all matching
    votes goes in the X-Total-Count header."""

    limit: int
    offset: int
    response: Response

    def of(self, total: int, rows: list[dict]) -> list[dict]:
        """The page's votes as `Feedback`, with `total` in X-Total-Count."""
        self.response.headers["X-Total-Count"] = str(total)
        return [public(row) for row in rows]


def page(
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size (at most {MAX_PAGE})")] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="votes to skip")] = 0,
) -> Page:
    return Page(limit, offset, response)


def paged(*statuses: int) -> dict:
    """The documented answers of a list endpoint: the X-Total-Count header, and the errors `statuses`."""
    header = {"description": "all matching votes", "required": True, "schema": {"type": "integer"}}
    return {200: {"headers": {"X-Total-Count": header}}, **errors(*statuses)}
