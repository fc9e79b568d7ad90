"""The review queues' endpoints: list and read queues, take the next item, submit a vote on it, see
progress and the estimate. Each calls `store.queues`, which authorizes the caller itself."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel

from data_layer import auth, rules
from data_layer.api.dependencies import body, caller, store
from data_layer.api.models import ID_PATTERN, QUEUE_VOTE_BODY, QUEUE_VOTE_FIELDS, Feedback, RunId, errors, public
from data_layer.api.routes import declarer, vote_fields

ROUTES: list = []
route = declarer(ROUTES)

QueueName = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]


class Queue(BaseModel):
    name: str
    instructions: str
    selection: dict
    sample_rate: float
    reviewers_per_item: int
    blind: bool
    seed: int
    assignees: list[str]
    rubric: list[dict] = []
    created_at: str
    created_by: str
    closed_at: str | None
    items: int
    sampled_items: int
    done: int


class Run(BaseModel):
    run_id: str
    thread_id: str
    assistant_id: str | None
    status: str | None
    model_name: str | None


class Item(BaseModel):
    queue: str
    reason: Literal["sampled", "selected", "both"]
    run: Run


class ReviewerProgress(BaseModel):
    reviewer: str
    done: int
    remaining: int
    pace_per_hour: float | None
    last_hour: int
    agreement: float | None
    behind: bool
    even_share: float | None


class Progress(BaseModel):
    queue: str
    items: int
    done: int
    remaining: int
    votes_needed: int
    left_for_me: int
    average_done: float
    behind: list[str]
    reviewers: list[ReviewerProgress]


class Estimate(BaseModel):
    queue: str
    estimate: float | None
    low: float | None
    high: float | None
    sampled_items: int
    rated_items: int
    disputed_items: int
    selected_only_items: int
    end_user_rate: float | None
    end_user_votes: int
    reason: str | None = None
    in_words: str
    by: str | None = None
    groups: list[dict] = []


@route("GET", "/queues", response_model=list[Queue], responses=errors(401, 403), summary="Every review queue")
def list_queues(actor: auth.Actor = Depends(caller)) -> list[dict]:
    return store().queues.list(actor=actor)


@route("GET", "/queues/{name}", response_model=Queue, responses=errors(400, 401, 403, 404), summary="One review queue")
def get_queue(name: QueueName, actor: auth.Actor = Depends(caller)) -> dict:
    return store().queues.get(name, actor=actor)


@route(
    "POST",
    "/queues/{name}/next",
    response_model=Item | None,
    responses=errors(400, 401, 403, 404, 503),
    summary="Claim the caller's next item of the queue (null when nothing is left for the caller)",
)
def next_item(name: QueueName, actor: auth.Actor = Depends(caller)) -> dict | None:
    return store().queues.next_item(name, actor=actor)


@route(
    "PUT",
    "/queues/{name}/items/{run_id}/vote",
    response_model=Feedback,
    response_model_exclude_unset=True,
    responses=errors(400, 401, 403, 404, 413, 503),
    openapi_extra=QUEUE_VOTE_BODY,
    summary="The caller's whole-run vote on an item of the queue; its claim is released",
)
def submit(name: QueueName, run_id: RunId, actor: auth.Actor = Depends(caller), raw: bytes = Depends(body)) -> dict:
    vote = vote_fields(raw, QUEUE_VOTE_FIELDS)
    return public(store().queues.submit(name, run_id, actor=actor, **vote))


@route(
    "GET",
    "/queues/{name}/progress",
    response_model=Progress,
    responses=errors(400, 401, 403, 404),
    summary="Items done and left, what is left for the caller, and each reviewer's pace, agreement and whether "
    "they are behind (every reviewer for a lead or an admin, else the caller's own row)",
)
def progress(name: QueueName, actor: auth.Actor = Depends(caller)) -> dict:
    return store().queues.progress(name, actor=actor)


@route(
    "GET",
    "/queues/{name}/estimate",
    response_model=Estimate,
    responses=errors(400, 401, 403, 404),
    summary="The share of good runs in all traffic, from the queue's random sample, with its 95 % interval",
)
def queue_estimate(
    name: QueueName,
    actor: auth.Actor = Depends(caller),
    by: Literal["assistant_id", "model_name", "week"] | None = Query(None, description="split by"),
) -> dict:
    return store().queues.estimate(rules.identifier(name, "queue name"), by=by, actor=actor)


class Statistic(BaseModel):
    value: float | None
    low: float | None
    high: float | None
    reason: str | None = None


class CriterionAgreement(BaseModel):
    criterion: str
    kind: Literal["binary", "ordinal", "categorical"]
    level: Literal["nominal", "ordinal"]
    items_compared: int
    items_with_k_votes: int
    fleiss_kappa: Statistic
    krippendorff_alpha: Statistic


class Agreement(BaseModel):
    queue: str
    reviewers_per_item: int
    items_compared: int
    items_with_k_votes: int
    fleiss_kappa: Statistic
    krippendorff_alpha: Statistic
    criteria: list[CriterionAgreement] = []


@route(
    "GET",
    "/queues/{name}/agreement",
    response_model=Agreement,
    responses=errors(400, 401, 403, 404),
    summary="Fleiss' kappa and Krippendorff's alpha of the queue's reviewers, on the thumbs and per criterion of "
    "its rubric (`criteria`), with 95 % bootstrap intervals",
)
def queue_agreement(name: QueueName, actor: auth.Actor = Depends(caller)) -> dict:
    return store().queues.agreement(name, actor=actor)
