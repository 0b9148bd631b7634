"""ASGI middleware of the service: bearer-key gate, per-request audit, and a talking /readyz.

Every path except the health probes needs a valid key (401 otherwise; a key's role and revocation
are re-read at most every CALLER_TTL seconds); the BentoML API paths
check their roles here, the /v1 routes check theirs with ``serving.auth.require_role``. Every
request (health probes excepted) is audited: who (key id), endpoint, when, outcome — no bodies.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio

from serving.auth import CALLER_KEY
from serving.keys import Caller, caller_for, hash_key

# A key's role and revocation are re-read from the DB at most this often per process (seconds).
CALLER_TTL = 2.0
HEALTH = frozenset({"/healthz", "/livez", "/readyz"})
# Roles of the BentoML-level paths (admin passes everywhere); paths not listed need any valid key.
PATH_ROLES = {
    "/score": frozenset({"planner", "model_operator"}),
    "/metrics": frozenset({"model_operator"}),
}


def _json(status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] = ()) -> tuple[dict, dict]:
    data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                         *extra]}
    return start, {"type": "http.response.body", "body": data}


class ServiceGate:
    """Authenticate, authorise BentoML paths, audit every request, and describe readiness on /readyz."""

    def __init__(self, app, **_: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from serving import runtime as rt

        path = scope.get("path", "")
        if path == "/readyz":
            await self._readyz(scope, receive, send, rt.current())
            return
        if path in HEALTH:
            await self.app(scope, receive, send)
            return
        runtime = rt.current()
        started = time.perf_counter()
        status_box = {"status": 500}
        caller = await self._caller(scope, runtime)

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        try:
            if caller is None:
                await self._reply(send, 401, {"error": "Authorization: expected 'Bearer <key>' with a valid, "
                                              "unrevoked key"}, [(b"www-authenticate", b"Bearer")])
                status_box["status"] = 401
                return
            scope[CALLER_KEY] = caller
            needed = PATH_ROLES.get(path)
            if needed and caller.role != "admin" and caller.role not in needed:
                await self._reply(send, 403, {"error": f"role: {path} needs one of "
                                              f"{', '.join(sorted(needed | {'admin'}))}, the key has {caller.role}"})
                status_box["status"] = 403
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            final = scope.get(CALLER_KEY) or caller
            runtime.audit.put(
                actor=final.key_id if final else "anonymous", role=final.role if final else None,
                action=f"api {scope.get('method', '?')} {path}"[:120], subject=_subject(path),
                outcome=str(status_box["status"]),
                inputs={"query": scope.get("query_string", b"").decode("latin-1")[:200],
                        "ms": round(1000 * (time.perf_counter() - started), 1)},
                versions={"model_version": runtime.model.version if runtime.model else None},
            )

    @staticmethod
    async def _reply(send, status: int, body: dict[str, Any], extra=()) -> None:
        start, msg = _json(status, body, list(extra))
        await send(start)
        await send(msg)

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
