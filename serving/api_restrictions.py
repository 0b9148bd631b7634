"""Restriction-check routes (失信联合惩戒查询), mounted at /v1: one code, or a batch of up to 10,000.

Every role may call them, and the role ``external_dept`` (other departments) may call only these. Every
check is audited: one row per request, a batch with its counts (serving/restrictions.py audit_entry).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from serving.auth import Caller, SettingsDep, require_role
from serving.limits import MAX_CODE_CHARS, MAX_DATE, MIN_DATE
from serving.restrictions import (
    RestrictionBatch,
    RestrictionCheck,
    RestrictionRequest,
    audit_entry,
    check_codes,
)
from serving.runtime import Runtime, current

router = APIRouter(tags=["restrictions"])
Checker = Annotated[Caller, Depends(require_role("external_dept", "planner", "repair_officer", "model_operator"))]
RuntimeDep = Annotated[Runtime, Depends(current)]
_PURPOSE = "only the measures relevant to this purpose (credit, procurement, approval, export_refund, honours, " \
           "funding, consumption)"


def _audit(runtime: Runtime, caller: Caller, batch: RestrictionBatch, codes: list[str], *, single: bool) -> None:
    runtime.audit.put(actor=caller.key_id, role=caller.role, **audit_entry(batch, codes, single=single))


@router.get("/restrictions/{uscc}", response_model=RestrictionCheck,
            summary="Joint-punishment measures in effect for one credit code (失信联合惩戒查询)")
def restriction(uscc: Annotated[str, Path(max_length=MAX_CODE_CHARS)], caller: Checker, settings: SettingsDep,
                runtime: RuntimeDep,
                purpose: Annotated[str | None, Query(max_length=40, description=_PURPOSE)] = None,
                as_of: Annotated[date | None, Query(ge=MIN_DATE, le=MAX_DATE,
                                                    description="the day to check; default today")] = None) -> Response:
    batch = check_codes(settings, [uscc], purpose=purpose, on=as_of)
    _audit(runtime, caller, batch, [uscc], single=True)
    return Response(batch.items[0].model_dump_json(), media_type="application/json")


@router.post("/restrictions", response_model=RestrictionBatch,
             summary="Joint-punishment measures for up to 10,000 credit codes, one answer per code in order")
def restrictions(body: RestrictionRequest, caller: Checker, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    batch = check_codes(settings, body.codes, purpose=body.purpose, on=body.as_of)
    _audit(runtime, caller, batch, body.codes, single=False)
    return Response(batch.model_dump_json(), media_type="application/json")
