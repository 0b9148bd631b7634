"""ASGI middleware of the service: the gate every request passes before BentoML or the /v1 routes see it.

In order: health probes pass; the bearer key is checked (401, counted, never one audit row per failure);
the role of BentoML-level paths (403); the key's request rate (429, token bucket per key); the body's
content type (415) and size (413); the ``/score`` body against :class:`~serving.schemas.ScoreRequest`
(400 naming the field, without the values). Every authenticated request is audited: who (key id), route,
when, outcome — no bodies. Metrics are labelled by route template (``/v1/entities/{uscc}``), so their
number of series is bounded; ``/metrics`` and ``/docs.json`` are answered here.
The staff console (``/console`` and below) signs its users in with a session cookie and audits its own
requests (``console/web.py``), so the gate passes it through untouched.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
from pydantic import ValidationError
from starlette.routing import compile_path

from serving.auth import CALLER_KEY
from serving.keys import Caller, caller_for, hash_key
from serving.limits import ServiceLimits
from serving.lists import MEDIA_TYPES
from serving.metrics import ServiceMetrics
from serving.schemas import ErrorResponse, ScoreRequest

log = logging.getLogger(__name__)

# A key's role and revocation are re-read from the DB at most this often per process (seconds).
CALLER_TTL = 2.0
HEALTH = frozenset({"/healthz", "/livez", "/readyz"})
CONSOLE = "/console"  # own authentication (session cookie) and audit
# Roles of the BentoML-level paths (admin passes everywhere); paths not listed need any valid key.
PATH_ROLES = {
    "/score": frozenset({"planner", "model_operator"}),
    "/metrics": frozenset({"model_operator"}),
}
SERVICE_ROUTES = frozenset({"/score", "/docs.json", "/metrics", "/", "/schema.json"})
JSON = "application/json"
# Content types a route accepts for its body (all others: JSON only).
BODY_TYPES = {"/v1/lists/lookup": tuple(MEDIA_TYPES.values())}
LARGE_BODY = 256 * 1024  # /score bodies above this are validated in a worker thread


class Refused(Exception):
    """A request the gate answers itself: status, message, and where the problem is."""

    def __init__(self, status: int, message: str, loc: list | None = None, headers=(), *,
                 msg: str | None = None, kind: str | None = None) -> None:
        self.status, self.message, self.loc, self.headers = status, message, loc, list(headers)
        self.msg, self.kind = msg or message, kind
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        detail = [{"loc": self.loc, "msg": self.msg, "type": self.kind}] if self.loc is not None else []
        return ErrorResponse(error=self.message, detail=detail).model_dump()


def _json(status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] = ()) -> tuple[dict, dict]:
    data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                         *extra]}
    return start, {"type": "http.response.body", "body": data}


class ServiceGate:
    """Authenticate, limit, validate, audit and measure every request; answer /readyz, /metrics, /docs.json."""

    def __init__(self, app, *, resources=None, **_: Any) -> None:
        self.app = app
        self.resources = resources  # the /v1 FastAPI app, to name routes by their template
        self.limits = ServiceLimits.from_env()
        self.metrics = ServiceMetrics()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._openapi: bytes | None = None
        self._routes: dict[str, list] | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from serving import runtime as rt

        path = scope.get("path", "")
        if path == "/readyz":
            await self._readyz(scope, receive, send, rt.current())
            return
        if path in HEALTH or path == CONSOLE or path.startswith(CONSOLE + "/"):
            await self.app(scope, receive, send)
            return
        runtime = rt.current()
        started = time.perf_counter()
        route = self.route_of(scope)
        status_box = {"status": 500, "started": False}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"], status_box["started"] = message["status"], True
            await send(message)

        caller = None
        try:
            caller = await self._caller(scope, runtime)
            if caller is None:
                raise Refused(401, "Authorization: expected 'Bearer <key>' with a valid, unrevoked key",
                              headers=[(b"www-authenticate", b"Bearer")])
            scope[CALLER_KEY] = caller
            needed = PATH_ROLES.get(path)
            if needed and caller.role != "admin" and caller.role not in needed:
                raise Refused(403, f"role: {path} needs one of {', '.join(sorted(needed | {'admin'}))}, "
                              f"the key has {caller.role}")
            self._take_token(caller)
            if path == "/metrics":
                await self._plain(send_wrapper, 200, self.metrics.render(runtime), self.metrics.content_type)
                return
            if path == "/docs.json":
                await self._plain(send_wrapper, 200, await self._document(scope, receive), JSON)
                return
            receive = await self._checked_body(scope, receive, path)
            await self.app(scope, receive, send_wrapper)
        except Refused as exc:
            status_box["status"] = exc.status
            await self._reply(send, exc.status, exc.body(), exc.headers)
        except Exception as exc:  # the type only: an exception's text may carry request values
            log.error("unhandled %s on %s %s", type(exc).__name__, scope.get("method"), route)
            status_box["status"] = 500
            if not status_box["started"]:
                await self._reply(send, 500, ErrorResponse(error="internal error; the service log names its kind")
                                  .model_dump())
        finally:
            status = status_box["status"]
            self.metrics.observe(route, scope.get("method", "?"), status, time.perf_counter() - started)
            if caller is None or status == 429:
                runtime.audit.count_refused(status)  # counted, summarised in one audit row per interval
            else:
                final = scope.get(CALLER_KEY) or caller
                runtime.audit.put(
                    actor=final.key_id, role=final.role, action=f"api {scope.get('method', '?')} {route}"[:120],
                    subject=_subject(path), outcome=str(status),
                    inputs={"query_chars": len(scope.get("query_string", b"")),
                            "ms": round(1000 * (time.perf_counter() - started), 1)},
                    versions={"model_version": runtime.model.version if runtime.model else None},
                )

    def route_of(self, scope) -> str:
        """The route template of a request (``/v1/entities/{uscc}``); ``other`` for paths no route has."""
        path = scope.get("path", "")
        if path in SERVICE_ROUTES or path in HEALTH:
            return path
        if path.startswith("/v1/"):
            sub = path[3:]
            for regex, template in self._templates().get(sub.split("/", 2)[1], ()):
                if regex.match(sub):
                    return "/v1" + template
        return "other"

    def _templates(self) -> dict[str, list]:
        """(compiled path, template) of the /v1 routes by first segment, from the resource app's OpenAPI paths."""
        if self._routes is None:
            paths = self.resources.openapi()["paths"] if self.resources is not None else {}
            routes: dict[str, list] = {}
            for p in paths:
                routes.setdefault(p.split("/", 2)[1], []).append((compile_path(p)[0], p))
            self._routes = routes
        return self._routes

    def _take_token(self, caller: Caller) -> None:
        """One request from the key's bucket (rate tokens per second, burst of one second or one request),
        else 429."""
        rate = caller.rate_limit or self.limits.rate_per_key
        burst = max(rate, 1.0)
        now = time.monotonic()
        tokens, last = self._buckets.get(caller.key_id, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[caller.key_id] = (tokens, now)
            wait = max(1, int((1 - tokens) / rate + 0.999))
            raise Refused(429, f"rate: this key may send {rate:g} requests per second; retry in {wait} s",
                          headers=[(b"retry-after", str(wait).encode())])
        self._buckets[caller.key_id] = (tokens - 1, now)

    async def _checked_body(self, scope, receive, path: str):
        """Read the body (at most max_body_bytes), check its type, validate /score; a receive replaying it."""
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        limit = self.limits.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise Refused(413, f"body: expected at most {limit:,} bytes, got {int(declared):,}")
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return receive
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body: expected at most {limit:,} bytes, got more")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body:
            ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
            allowed = BODY_TYPES.get(path, (JSON,))
            if ctype not in allowed:
                raise Refused(415, f"content-type: expected {' or '.join(allowed)}, got {ctype or 'none'}")
        if path == "/score":
            if len(body) > LARGE_BODY:
                await anyio.to_thread.run_sync(_validate_score, body)
            else:
                _validate_score(body)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _document(self, scope, receive) -> bytes:
        """The OpenAPI document: BentoML's, made true to what this service answers (built once)."""
        if self._openapi is None:
            from serving.openapi import document

            captured: dict[str, Any] = {"body": b""}

            async def capture(message) -> None:
                if message["type"] == "http.response.body":
                    captured["body"] += message.get("body", b"")

            await self.app(scope, receive, capture)
            self._openapi = json.dumps(document(json.loads(captured["body"])), ensure_ascii=False).encode()
        return self._openapi

    @staticmethod
    async def _reply(send, status: int, body: dict[str, Any], extra=()) -> None:
        start, msg = _json(status, body, list(extra))
        await send(start)
        await send(msg)

    @staticmethod
    async def _plain(send, status: int, data: bytes, content_type: str) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    @staticmethod
    async def _caller(scope, runtime) -> Caller | None:
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"").decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        return _cached_caller(runtime.settings, key.strip())

    async def _readyz(self, scope, receive, send, runtime) -> None:
        status_box = {"status": 503}

        async def swallow(message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]

        await self.app(scope, receive, swallow)
        state = await anyio.to_thread.run_sync(runtime.readiness)
        ok = status_box["status"] == 200 and state["ready"]
        await self._reply(send, 200 if ok else 503, {**state, "ready": ok})


def _validate_score(body: bytes) -> None:
    """Refuse a /score body that is not a :class:`ScoreRequest` (400 naming the first field, no values)."""
    try:
        ScoreRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        first = errors[0]
        loc = [p for p in first["loc"]]
        where = ".".join(str(p) for p in loc) or "body"
        raise Refused(400, f"{where}: {first['msg']}", loc, msg=first["msg"], kind=first["type"]) from None


_CACHE: dict[str, tuple[Caller | None, float]] = {}


def _cached_caller(settings, key: str) -> Caller | None:
    """The key's caller, remembered for CALLER_TTL seconds (a revoked key stops working within that time)."""
    digest = hash_key(key)
    hit = _CACHE.get(digest)
    now = time.monotonic()
    if hit is not None and now - hit[1] < CALLER_TTL:
        return hit[0]
    caller = caller_for(settings, key)
    if len(_CACHE) > 10_000:
        _CACHE.clear()
    _CACHE[digest] = (caller, now)
    return caller


def _subject(path: str) -> str | None:
    """The enterprise a path is about (``/v1/entities/<uscc>``), else None."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "v1" and parts[1] == "entities":
        return parts[2][:18]
    return None
