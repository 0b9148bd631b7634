"""The service's resource routes (FastAPI, mounted at /v1): entity lookup, tier list, model info, overrides.

The repair and inspection routers (``repair/api.py``, ``inspection/api.py``, each exposing ``router``)
are included when those modules exist.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from serving import lookup, overrides
from serving.auth import Caller, SettingsDep, require_role
from serving.runtime import FieldError, Runtime, current
from serving.schemas import MAX_PAGE_SIZE, ModelInfo, OverrideRequest, TierList

log = logging.getLogger(__name__)
OPTIONAL_ROUTERS = ("repair.api", "inspection.api")

router = APIRouter(tags=["tiers"])
Reader = Annotated[Caller, Depends(require_role("planner", "repair_officer", "model_operator"))]
Planner = Annotated[Caller, Depends(require_role("planner"))]
Operator = Annotated[Caller, Depends(require_role("planner", "model_operator"))]
RuntimeDep = Annotated[Runtime, Depends(current)]


@router.get("/entities/{uscc}", summary="One entity's current tier, reasons and tier history")
def entity(uscc: str, caller: Reader, settings: SettingsDep) -> dict[str, Any]:
    with engine(settings).connect() as conn:
        return lookup.entity_view(conn, uscc)


@router.get("/tiers", response_model=TierList, summary="Tier list of the latest publication, filtered, paginated")
def tiers(caller: Planner, settings: SettingsDep,
          town_code: Annotated[str | None, Query(max_length=20)] = None,
          industry_code: Annotated[str | None, Query(max_length=8)] = None,
          entity_type: str | None = None, tier: str | None = None,
          page: Annotated[int, Query(ge=1)] = 1,
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
def revoke_override(override_id: int, caller: Planner, settings: SettingsDep) -> dict[str, Any]:
    return overrides.revoke_override(settings, override_id=override_id, actor=caller.key_id, role=caller.role)


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail if detail is not None else message}, status_code=status)


def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    return _error(400, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", errors)


def _user_error(_: Request, exc: UserError) -> JSONResponse:
    if isinstance(exc, FieldError):
        return _error(exc.status, str(exc), [{"loc": list(exc.loc), "msg": str(exc)}])
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return _error(status, str(exc))


def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"error": exc.detail, "detail": exc.detail}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def build_app(*, include_optional: bool = True) -> FastAPI:
    """The /v1 FastAPI app: these routes plus the repair and inspection routers when present."""
    app = FastAPI(title="credit-risk resources (企业信用风险分类)", version="1",
                  description="Tiers, entities, overrides; repair and inspection when installed. "
                  "Authorization: Bearer <key>.")
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.state.routers = ["serving.api"]
    for name in OPTIONAL_ROUTERS if include_optional else ():
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        if getattr(module, "router", None) is None:
            log.warning("%s has no `router`; not mounted", name)
            continue
        app.include_router(module.router)
        app.state.routers.append(name)
    return app
