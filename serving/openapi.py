"""The OpenAPI document the service serves at ``/docs.json``: BentoML's, made true to what the service answers.

BentoML writes an OpenAPI 3.0.2 document around Pydantic's JSON Schema 2020-12 (``type: null``), so it is
declared 3.1.0, whose schema dialect that is. Each operation documents the statuses the service sends
(400 for any refused input — never FastAPI's 422 —, 401, 403, 404, 409, 413, 415, 429, each with the
:class:`~serving.schemas.ErrorResponse` body), and ``/score`` its real request and per-item response.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic.json_schema import models_json_schema

from serving.limits import MAX_BATCH
from serving.schemas import ErrorResponse, ScoreRequest, ScoreResponse

REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "bad input: the message names the field and what was expected",
    "401": "no valid key (Authorization: Bearer <key>)",
    "403": "the key's role may not use this endpoint",
    "404": "the thing asked for does not exist",
    "409": "the action collides with the current state",
    "413": "body larger than the service accepts",
    "415": "content type the endpoint does not accept",
    "429": "over the key's request rate; retry after Retry-After seconds",
}
HEALTH = ("/healthz", "/livez")
DROPPED_SCHEMAS = ("HTTPValidationError", "ValidationError", "InvalidArgument", "NotFound", "InternalServerError",
                   "TaskStatusResponse", "ScoreResponseIODescriptor", "score__Input")


def document(bentoml_spec: dict[str, Any]) -> dict[str, Any]:
    """The served OpenAPI 3.1 document, from the one BentoML generates for the service."""
    spec = copy.deepcopy(bentoml_spec)
    spec["openapi"] = "3.1.0"
    spec["info"] = {"title": "credit-risk (企业信用风险分类)", "version": _version(), "description": (
        "Enterprise credit-risk tiers. Every endpoint but the health probes needs "
        "`Authorization: Bearer <key>`; refused input answers 400 naming the field.")}
    schemas = {k: v for k, v in spec.get("components", {}).get("schemas", {}).items() if k not in DROPPED_SCHEMAS}
    _, defs = models_json_schema([(ScoreRequest, "validation"), (ScoreResponse, "serialization"),
                                  (ErrorResponse, "serialization")], ref_template=REF)
    schemas.update(defs.get("$defs", {}))
    spec["components"] = {"schemas": schemas, "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API key from `credit-risk keys create`"}}}
    spec["security"] = [{"bearer": []}]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            _fix(path, op)
    spec["paths"]["/score"]["post"] = _score(spec["paths"]["/score"]["post"])
    return spec


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("credit-risk")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
        return "0"


def _error(description: str, status: str) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}}
    if status == "429":
        out["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return out


def _fix(path: str, op: dict[str, Any]) -> None:
    responses = op.setdefault("responses", {})
    for status in ("422", "404", "500", "400"):
        responses.pop(status, None)
    if path in HEALTH:
        op["security"] = []
        responses["200"] = {"description": "alive", "content": {"text/plain": {"schema": {"type": "string"}}}}
        return
    if path == "/readyz":
        op["security"] = []
        body = {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "ready": {"type": "boolean"}, "reason": {"type": ["string", "null"]}}, "required": ["ready"]}}}}
        responses.clear()
        responses["200"] = {"description": "ready: model loaded, audit log writable", **body}
        responses["503"] = {"description": "not ready, and why", **body}
        return
    if path == "/metrics":
        responses["200"] = {"description": "Prometheus metrics by route template",
                            "content": {"text/plain": {"schema": {"type": "string"}}}}
    for status, description in ERRORS.items():
        responses[status] = _error(description, status)


def _score(op: dict[str, Any]) -> dict[str, Any]:
    op["summary"] = "Score a batch of credit codes or feature records (one outcome per item, in order)"
    op["description"] = (
        f"At most {MAX_BATCH:,} items. The answer is 200 with one outcome per item: `scored`, "
        "`not_in_publication` (with the entity's status and last tier), `unknown_code` or `invalid_code` "
        "(naming the failing check character). Only a malformed request (not JSON, no items, too many, an "
        "item with neither `uscc` nor `features`, an incomplete feature record) answers 400.")
    op["requestBody"] = {"required": True, "content": {
        "application/json": {"schema": {"$ref": REF.format(model="ScoreRequest")}}}}
    op["responses"]["200"] = {"description": "one outcome per item, in request order", "content": {
        "application/json": {"schema": {"$ref": REF.format(model="ScoreResponse")}}}}
    return op
