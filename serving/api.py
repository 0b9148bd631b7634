"""The service's resource routes (FastAPI, mounted at /v1): entity lookup, tier list, model info, overrides.

The repair, inspection and restriction-check routers (``repair/api.py``, ``inspection/api.py``,
``serving/api_restrictions.py``) are included beside them.
Every refused input answers 400 with :class:`~serving.schemas.ErrorResponse` (never FastAPI's 422).
"""

from __future__ import annotations

import io
import logging
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Busy, Conflict, NotFound, UserError
from core.opdb import engine
from inspection.api import router as inspection_router
from repair.api import router as repair_router
from serving import lookup, overrides
from serving.api_restrictions import router as restrictions_router
from serving.auth import Caller, SettingsDep, require_role
from serving.commitments_api import router as commitments_router
from serving.limits import MAX_ID, MAX_PAGE
from serving.lists import MEDIA_TYPES, annotate_list, warehouse_names
from serving.runtime import FieldError, Runtime, current
from serving.schemas import MAX_PAGE_SIZE, ErrorResponse, ModelInfo, OverrideRequest, TierList

log = logging.getLogger(__name__)
ROUTERS = (repair_router, inspection_router, restrictions_router, commitments_router)  # beside this module's own routes

router = APIRouter(tags=["tiers"])
Reader = Annotated[Caller, Depends(require_role("planner", "repair_officer", "model_operator"))]
Planner = Annotated[Caller, Depends(require_role("planner"))]
Operator = Annotated[Caller, Depends(require_role("planner", "model_operator"))]
RuntimeDep = Annotated[Runtime, Depends(current)]


@router.get("/entities/{uscc}", summary="One entity's current tier, reasons and tier history")
def entity(uscc: Annotated[str, Path(max_length=32)], caller: Reader, settings: SettingsDep) -> dict[str, Any]:
    with engine(settings).connect() as conn:
        return lookup.entity_view(conn, uscc)


@router.get("/tiers", response_model=TierList, summary="Tier list of the latest publication, filtered, paginated")
def tiers(caller: Planner, settings: SettingsDep,
          town_code: Annotated[str | None, Query(max_length=20)] = None,
          industry_code: Annotated[str | None, Query(max_length=8)] = None,
          entity_type: Annotated[str | None, Query(max_length=40)] = None,
          tier: Annotated[str | None, Query(max_length=4)] = None,
          page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
          page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100) -> dict[str, Any]:
    with engine(settings).connect() as conn:
        return lookup.tier_list(conn, town_code=town_code, industry_code=industry_code, entity_type=entity_type,
                                tier=tier, page=page, page_size=page_size, max_page_size=MAX_PAGE_SIZE)


@router.get("/model", response_model=ModelInfo, summary="The serving model: version, training window, metrics")
def model_info(caller: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    return runtime.model_info()


@router.post("/overrides", status_code=201, summary="Impose a tier on an entity, with a reason and an expiry")
def create_override(body: OverrideRequest, caller: Planner, settings: SettingsDep) -> dict[str, Any]:
    return overrides.set_override(settings, uscc=body.uscc, tier=body.tier, reason=body.reason,
                                  expires_on=body.expires_on, actor=caller.key_id, role=caller.role)


@router.post("/overrides/{override_id}/revoke", summary="End an override before its expiry")
def revoke_override(override_id: Annotated[int, Path(ge=1, le=MAX_ID)], caller: Planner, settings: SettingsDep) -> dict[str, Any]:
    return overrides.revoke_override(settings, override_id=override_id, actor=caller.key_id, role=caller.role)


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.post("/lists/lookup", summary="A CSV (UTF-8/GBK) or .xlsx list of codes or names, back with tiers",
             response_class=Response, openapi_extra={
                 "requestBody": {"required": True, "content": dict.fromkeys(MEDIA_TYPES.values(), _BINARY)},
                 "responses": {"200": {"description": "the same list with matched_uscc, outcome, tier, tier_zh, "
                                       "reasons_zh, entity_status, last_tier, publication_id and match_note "
                                       "appended, in the same format and encoding",
                                       "content": dict.fromkeys(MEDIA_TYPES.values(), _BINARY)}}})
async def lookup_list(request: Request, caller: Reader, runtime: RuntimeDep) -> Response:
    body = await request.body()  # bounded by the service gate's body limit
    if not body:
        raise UserError("body: expected a CSV or .xlsx list, got an empty body")

    def work() -> tuple[bytes, str]:
        out = io.BytesIO()
        with warehouse_names(runtime.settings) as names:
            summary = annotate_list(io.BytesIO(body), out, resolve=runtime.codes.outcomes, match_names=names)
        charset = f"; charset={summary.encoding}" if summary.encoding else ""
        return out.getvalue(), MEDIA_TYPES[summary.fmt] + charset

    data, media = await anyio.to_thread.run_sync(work)
    return Response(data, media_type=media)


def _error(status: int, message: str, detail: list | None = None, headers=None) -> JSONResponse:
    body = ErrorResponse(error=message, detail=detail or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    return _error(400, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", errors)


def _user_error(_: Request, exc: UserError) -> JSONResponse:
    if isinstance(exc, FieldError):
        return _error(exc.status, str(exc), [{"loc": list(exc.loc), "msg": str(exc)}])
    if isinstance(exc, Busy):  # e.g. no warehouse copy published yet: try again shortly
        return _error(503, str(exc), headers={"Retry-After": "5"})
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return _error(status, str(exc))


def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = 400 if exc.status_code == 422 else exc.status_code
    return _error(status, str(exc.detail), headers=getattr(exc, "headers", None))


def build_app() -> FastAPI:
    """The /v1 FastAPI app: these routes, the repair and the inspection routers."""
    app = FastAPI(title="credit-risk resources (企业信用风险分类)", version="1",
                  description="Tiers, entities, overrides, repair, inspection and restriction checks. "
                              "Authorization: Bearer <key>.",
                  docs_url=None, redoc_url=None)  # the service's OpenAPI page is /docs.json
    app.include_router(router)
    for r in ROUTERS:
        app.include_router(r)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app
