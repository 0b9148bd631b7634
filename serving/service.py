"""The BentoML service: ``POST /score`` (batch API), the /v1 resource routes behind keys and audit, the /console pages.

Start it with ``credit-risk serve``; the model is loaded once, at start-up.
"""

from __future__ import annotations

import gc
import os
from typing import Annotated

import anyio
import bentoml
from pydantic import Field
from starlette.responses import JSONResponse, Response

from console.app import build_app as build_console
from core.settings import Settings, apply_offline_env
from serving.api import build_app
from serving.auth import get_settings
from serving.lifecycle import die_with_parent
from serving.middleware import ServiceGate
from serving.runtime import FieldError, Runtime, install
from serving.schemas import MAX_BATCH, ErrorResponse, ScoreItem, ScoreResponse

apply_offline_env()
resources = build_app()
console = build_console()
GC_THRESHOLDS = (20_000, 20, 20)  # CPython's defaults are (700, 10, 10)


# One worker (the model is loaded once; scores are read from the operational DB by key); no adaptive batcher and no
# max_concurrency, so the service never sheds load with 503. BentoML's access log and tracing spans
# are off (every request is already in the audit log; there is no tracing backend offline), and so
# are its traffic metrics (labelled by raw path): serving.metrics replaces them.
@bentoml.service(name="credit_risk", workers=1, threads=4, traffic={"timeout": 60},
                 logging={"access": {"enabled": False}},
                 metrics={"enabled": False, "namespace": "bentoml_api_server"},
                 tracing={"excluded_urls": ["/"]})  # no tracing backend offline: skip per-request spans
@bentoml.asgi_app(resources, path="/v1")
@bentoml.asgi_app(console, path="/console")
class CreditRiskService:
    """Enterprise credit-risk scores and tiers (企业信用风险分类)."""

    def __init__(self) -> None:
        die_with_parent()  # a worker never outlives `credit-risk serve` (kill -9 of it included)
        settings = Settings.from_env()
        self.runtime = install(Runtime.start(settings))
        resources.dependency_overrides[get_settings] = lambda: self.runtime.settings
        # Everything loaded so far (libraries, model, publication) lives as long as the process: move it
        # out of the collector's reach, so that full collections no longer walk millions of objects.
        if os.environ.get("CREDIT_RISK_GC_FREEZE", "1") != "0":  # "0": the old behaviour, for benchmarks
            gc.collect()
            gc.freeze()
            # Requests free their objects by reference counting; collect the young generation less often,
            # so that in-flight requests are not promoted into the old generation by the dozen.
            gc.set_threshold(*GC_THRESHOLDS)

    @bentoml.on_shutdown
    def close(self) -> None:
        self.runtime.close()

    @bentoml.api(route="/score")
    async def score(self, items: Annotated[list[ScoreItem], Field(
            min_length=1, max_length=MAX_BATCH, description="entities to score, at most 10,000")],
            ctx: bentoml.Context) -> ScoreResponse:
        """Score a batch: by credit code from the latest publication, or live from a feature record."""
        try:  # in a thread: scores are read from the operational DB by key
            body = await anyio.to_thread.run_sync(self.runtime.score_json, items)
        except FieldError as exc:
            ctx.response.status_code = exc.status
            error = ErrorResponse(error=str(exc), detail=[{"loc": list(exc.loc), "msg": str(exc)}])
            return JSONResponse(error.model_dump(), status_code=exc.status)
        return Response(body, media_type="application/json")


CreditRiskService.add_asgi_middleware(ServiceGate, resources=resources)
