"""Planner endpoints (mounted under /v1): draw a plan, fetch it, record and publish results, overdue report."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from core import inspection_results
from serving.auth import Caller, SettingsDep, require_role
from serving.limits import MAX_OFFSET
from serving.schemas import Day

router = APIRouter(prefix="/inspection", tags=["inspection"])
Planner = Annotated[Caller, Depends(require_role("planner"))]
ResultCode = Literal[inspection_results.codes()]  # core/rules/inspection_results.toml


class PlanRequest(BaseModel):
    period: str = Field(pattern=r"^\d{4}(-[A-Za-z0-9]{1,20})?$", description="plan period, year first: 2026, 2026-Q1")
    capacity: int = Field(ge=0, le=10_000_000, description="most random (proactive) inspections in the plan")
    seed: int = Field(ge=0, le=2**63 - 1, description="seed of the draw, recorded with the plan")
    publication_id: str | None = Field(None, max_length=64, description="publication to plan from (default newest)")


class ResultIn(BaseModel):
    inspection_id: str = Field(min_length=1, max_length=120, description="inspection id from the plan")
    result: ResultCode = Field(description="检查结果 code")
    checked_on: Day = Field(description="last day of the check; results are due 20 working days later")
    published_on: Day | None = Field(None, description="date the result was made public, when already done")


class ResultsRequest(BaseModel):
    results: list[ResultIn] = Field(min_length=1, max_length=5000, description="outcomes to record")
    correct: bool = Field(False, description="replace results already recorded")


class PublishRequest(BaseModel):
    inspection_ids: list[str] = Field(min_length=1, max_length=5000, description="inspections whose results were published")
    published_on: Day = Field(description="publication date (一公开)")


@router.post("/plans", status_code=201, summary="Draw the plan of a period (tiered double-random, audited)")
def draw_plan(body: PlanRequest, caller: Planner, settings: SettingsDep) -> dict[str, Any]:
    from inspection.plan import make_plan

    return make_plan(settings, period=body.period, capacity=body.capacity, seed=body.seed,
                     publication_id=body.publication_id, actor=caller.key_id, role=caller.role)


@router.get("/plans/{plan_id}", summary="A plan's header, summary and inspections (paged)")
def get_plan(plan_id: str, caller: Planner, settings: SettingsDep,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500,
             offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> dict[str, Any]:
    from inspection.plan import fetch_plan

    return fetch_plan(settings, plan_id, limit=limit, offset=offset)


@router.post("/plans/{plan_id}/results", summary="Record inspection outcomes of a plan (the next batch step feeds the warehouse)")
def post_results(plan_id: str, body: ResultsRequest, caller: Planner, settings: SettingsDep) -> dict[str, Any]:
    from inspection.results import record_results

    return record_results(settings, results=[r.model_dump() for r in body.results], correct=body.correct,
                          plan_id=plan_id, actor=caller.key_id, role=caller.role)


@router.post("/results/published", summary="Record that results were published")
def post_published(body: PublishRequest, caller: Planner, settings: SettingsDep) -> dict[str, Any]:
    from inspection.results import mark_published

    return mark_published(settings, inspection_ids=body.inspection_ids, published_on=body.published_on,
                          actor=caller.key_id, role=caller.role)


@router.get("/overdue", summary="Results not published within 20 working days")
def get_overdue(caller: Planner, settings: SettingsDep, on: Day | None = None,
                plan_id: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, Any]:
    from inspection.results import overdue

    return overdue(settings, on=on, plan_id=plan_id)
