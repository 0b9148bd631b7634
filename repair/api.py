"""Repair endpoints (role ``repair_officer``): eligibility, cases, objections, notices, status, deadlines, what-if."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from repair.deadlines import DueList
from repair.notices import Notice
from repair.status import CaseView, EntityCases
from serving.auth import Caller, SettingsDep, require_role
from serving.limits import MAX_ID
from serving.schemas import Day

USCC_PATTERN = r"^[0-9A-HJ-NP-RTUWXY]{18}$"
Officer = Annotated[Caller, Depends(require_role("repair_officer"))]
Code = Annotated[str, Path(pattern=USCC_PATTERN, description="unified social credit code (18 characters)")]

router = APIRouter(prefix="/repair", tags=["repair"])


class ApplyRequest(BaseModel):
    uscc: str = Field(pattern=USCC_PATTERN, description="applicant's unified social credit code")
    record_id: str = Field(min_length=1, max_length=64, description="penalty decision number or listing id")
    record_kind: str | None = Field(None, pattern="^(penalty|abnormal_list|serious_list)$",
                                    description="needed only when record_id is ambiguous")
    documents: dict[str, str] = Field(default_factory=dict, description="document type -> reference: "
                                      "application, commitment (守信承诺书), proof; missing ones open the case in "
                                      "待补正 with a one-time notice")
    on: Day | None = Field(None, description="application date (default today)")


class ActionRequest(BaseModel):
    action: str = Field(pattern="^[a-z_]{3,20}$", description="one of the case's procedure actions (CaseView."
                        "actions lists those allowed now): request_cure, cure, expire_cure, accept, refuse, review, "
                        "approve, deny, complete, revoke; for objections accept, not_accept, uphold, dismiss, void, "
                        "correct")
    reason: str | None = Field(None, max_length=2000, description="why (required for negative decisions)")
    documents: dict[str, str] | None = Field(None, description="documents handed in (cure)")
    corrections: dict[str, str] | None = Field(None, description="field -> corrected value (correct)")
    on: Day | None = Field(None, description="the day the step takes effect (default today)")
    expected_version: int | None = Field(None, ge=1, le=MAX_ID, description="the case version you read (409 if changed)")


class ObjectionRequest(BaseModel):
    uscc: str = Field(pattern=USCC_PATTERN)
    record_kind: str = Field("abnormal_list", pattern="^(penalty|abnormal_list|serious_list|inspection|complaint|"
                             "opinion)$", description="the kind of record objected to")
    record_id: str | None = Field(None, min_length=1, max_length=64, description="the record objected to")
    listing_id: str | None = Field(None, min_length=1, max_length=64,
                                   description="an abnormal-list listing (same as record_id with abnormal_list)")
    grounds: str | None = Field(None, max_length=2000)
    documents: dict[str, str] | None = Field(None, description="objection (异议申请书), evidence")
    on: Day | None = Field(None, description="filing date (default today)")


def _service_model() -> Any:
    """The champion the running service loaded once; None outside the service (what-if then loads it)."""
    from core.errors import Conflict
    from serving.runtime import current

    try:
        return current().model
    except Conflict:
        return None


def _actor(caller: Caller) -> str:
    return f"key:{caller.key_id}"


@router.get("/eligibility/{uscc}", summary="Every negative record: repairable, earliest date, missing conditions")
def eligibility(uscc: Code, caller: Officer, settings: SettingsDep, as_of: Day | None = None) -> dict[str, Any]:
    from repair.eligibility import check

    return check(settings, uscc, as_of=as_of)


@router.post("/cases", status_code=201, response_model=CaseView,
             summary="Register a repair application (refused at once if ineligible; 待补正 if documents are missing)")
def apply(body: ApplyRequest, caller: Officer, settings: SettingsDep) -> CaseView:
    from repair.workflow import apply as apply_case

    return apply_case(settings, uscc=body.uscc, record_id=body.record_id, record_kind=body.record_kind,
                      documents=body.documents, actor=_actor(caller), role=caller.role, on=body.on)


@router.post("/cases/{case_id}/actions", response_model=CaseView, summary="Move a repair case or objection one step")
def act(case_id: Annotated[str, Path(max_length=32)], body: ActionRequest, caller: Officer,
        settings: SettingsDep) -> CaseView:
    from repair.workflow import transition

    return transition(settings, case_id, body.action, actor=_actor(caller), role=caller.role, reason=body.reason,
                      on=body.on, expected_version=body.expected_version, documents=body.documents,
                      corrections=body.corrections)


@router.get("/cases/{case_id}", response_model=CaseView,
            summary="A case's state, next deadline, reasons, notices and history")
def case(case_id: Annotated[str, Path(max_length=32)], caller: Officer, settings: SettingsDep,
         audience: Annotated[str, Query(pattern="^(officer|applicant)$")] = "officer") -> CaseView:
    from repair.status import case_status

    return case_status(settings, case_id, audience=audience)


@router.get("/entities/{uscc}/cases", response_model=EntityCases, summary="Every repair case and objection of an entity")
def entity_cases(uscc: Code, caller: Officer, settings: SettingsDep,
                 audience: Annotated[str, Query(pattern="^(officer|applicant)$")] = "officer") -> EntityCases:
    from repair.status import entity_cases as cases_of

    return cases_of(settings, uscc, audience=audience)


@router.get("/notices/{notice_id}", response_model=Notice, summary="A notice as issued (告知书)")
def notice(notice_id: Annotated[str, Path(max_length=48)], caller: Officer, settings: SettingsDep) -> Notice:
    from repair.status import notice as stored

    return stored(settings, notice_id)[0]


@router.get("/notices/{notice_id}/page", response_class=HTMLResponse, summary="A notice as a printable page")
def notice_page(notice_id: Annotated[str, Path(max_length=48)], caller: Officer, settings: SettingsDep) -> HTMLResponse:
    from repair.status import notice as stored

    return HTMLResponse(stored(settings, notice_id)[2])


@router.post("/objections", status_code=201, response_model=CaseView,
             summary="File an objection (异议) to any credit record of the entity")
def objection(body: ObjectionRequest, caller: Officer, settings: SettingsDep) -> CaseView:
    from core.errors import UserError
    from repair.objections import file

    record_id = body.record_id or body.listing_id
    if record_id is None:
        raise UserError("record_id: expected the id of the record objected to, got none")
    kind = "abnormal_list" if body.listing_id and not body.record_id else body.record_kind
    return file(settings, uscc=body.uscc, record_kind=kind, record_id=record_id, grounds=body.grounds,
                documents=body.documents, actor=_actor(caller), role=caller.role, on=body.on)


@router.get("/due", response_model=DueList, summary="Overdue and due-soon steps")
def due(caller: Officer, settings: SettingsDep,
        soon: Annotated[int | None, Query(ge=0, le=60)] = None) -> DueList:
    from repair.deadlines import due as due_list

    return due_list(settings, soon_workdays=soon)


@router.get("/whatif/{uscc}", summary="Projected tier if the currently eligible records were repaired")
def whatif(uscc: Code, caller: Officer, settings: SettingsDep, model: Annotated[Any, Depends(_service_model)],
           as_of: Day | None = None) -> dict[str, Any]:
    from repair.whatif import whatif as project

    return project(settings, uscc, as_of=as_of, model=model)
