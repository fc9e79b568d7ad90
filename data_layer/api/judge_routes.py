"""The LLM judges' endpoints: each judge's numbers against people and its disagreements. Each calls
`store.judges`, which authorizes the caller itself; a judge's token gives verdicts through the run
feedback PUT (`judge_body.judge_verdict`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel

from data_layer import auth
from data_layer.api.dependencies import caller, store
from data_layer.api.models import ID_PATTERN, errors
from data_layer.api.routes import declarer

ROUTES: list = []
route = declarer(ROUTES)

JudgeName = Annotated[str, Path(pattern=ID_PATTERN, max_length=200)]
Calibration = Query(
    "sampled", description="calibrate on randomly sampled runs only (`sampled`) or on every run people rated"
)


class Table(BaseModel):
    tp: int
    fn: int
    fp: int
    tn: int


class JudgeNumbers(BaseModel):
    judge: str | None = None
    judged_runs: int
    raw_rate: float | None
    raw_low: float | None
    raw_high: float | None
    calibration_runs: int
    table: Table
    sensitivity: float | None
    sensitivity_low: float | None
    sensitivity_high: float | None
    specificity: float | None
    specificity_low: float | None
    specificity_high: float | None
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    corrected_rate: float | None
    corrected_low: float | None
    corrected_high: float | None
    reason: str | None
    more_calibration_to_halve: int | None


class JudgeDetail(JudgeNumbers):
    sampled_only: bool
    by: str | None = None
    groups: list[dict] = []
    # per rubric criterion both the judge and the reviewers scored: `criterion`, `kind`, `runs`, and a
    # binary one's `table` and hit rates (as above), another's `matches`, `match_rate`, `match_low`/`high`
    criteria: list[dict] = []


class Disagreement(BaseModel):
    run_id: str
    thread_id: str
    judge_rating: Literal[1, -1]
    people: Literal["good", "bad"]
    rationale: str | None
    reviewer_comments: str | None
    assistant_id: str | None
    model_name: str | None
    run_created_at: str


@route(
    "GET",
    "/judges",
    response_model=list[JudgeNumbers],
    responses=errors(400, 401, 403),
    summary="Every judge's raw and corrected pass rate and its hit rates against people",
)
def list_judges(
    actor: auth.Actor = Depends(caller), calibration: Literal["sampled", "all"] = Calibration
) -> list[dict]:
    return store().judges.summary(actor=actor, sampled_only=calibration == "sampled")


@route(
    "GET",
    "/judges/{judge}",
    response_model=JudgeDetail,
    responses=errors(400, 401, 403, 404),
    summary="One judge's numbers, overall, split by assistant, model or week, and per rubric criterion",
)
def get_judge(
    judge: JudgeName,
    actor: auth.Actor = Depends(caller),
    by: Literal["assistant_id", "model_name", "week"] | None = Query(None, description="split by"),
    calibration: Literal["sampled", "all"] = Calibration,
) -> dict:
    return store().judges.calibration(judge, by=by, sampled_only=calibration == "sampled", actor=actor)


@route(
    "GET",
    "/judges/{judge}/disagreements",
    response_model=list[Disagreement],
    responses=errors(400, 401, 403),
    summary="Runs where the judge and people disagree, newest first, with the rationale and reviewers' comments",
)
def judge_disagreements(
    judge: JudgeName,
    actor: auth.Actor = Depends(caller),
    calibration: Literal["sampled", "all"] = Query("all"),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[dict]:
    return store().judges.disagreements(
        judge, sampled_only=calibration == "sampled", limit=limit, offset=offset, actor=actor
    )
