"""What every console page shares: the session from its cookie, role walls, CSRF, rendering, audit, form errors."""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from console import labels
from console.accounts import Session, session_for
from core.errors import UserError
from core.settings import Settings

COOKIE = "crk_console"
BASE = "/console"
ADMIN = "admin"
READERS = ("planner", "repair_officer", "model_operator")  # the API's Reader: every role may look
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
_ENV.filters.update(cn_date=labels.cn_date, num=labels.num, pct=labels.pct, tier_zh=labels.tier_zh, town=labels.town,
                    industry=labels.industry)
_ENV.globals.update(BASE=BASE, labels=labels)

Handler = Callable[[Request, Session], Awaitable[Response]]


def settings_of(request: Request) -> Settings:
    """The settings of the running service (``app.state.settings`` when tests build the app alone)."""
    settings = getattr(request.app.state, "settings", None)
    if settings is not None:
        return settings
    from serving.runtime import current

    return current().settings


def render(request: Request, session: Session | None, template: str, *, status: int = 200, **context: Any) -> Response:
    """Render a page of the layout, with the navigation the session's role may use."""
    nav = [item for item in labels.NAV if session and allowed(session, item[2])]
    body = _ENV.get_template(template).render(request=request, session=session, nav=nav, path=request.url.path,
                                              role_zh=labels.ROLES.get(session.role) if session else None, **context)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def allowed(session: Session, roles: tuple[str, ...]) -> bool:
    return session.role == ADMIN or session.role in roles


def audit(request: Request, session: Session | None, *, action: str, outcome: str, subject: str | None = None,
          inputs: dict[str, Any] | None = None) -> None:
    """Queue one audit entry through the service's audit writer (no personal data: users by id)."""
    from serving.runtime import current

    current().audit.put(actor=f"user:{session.user_id}" if session else "anonymous",
                        role=session.role if session else None, action=action[:120], subject=subject,
                        outcome=str(outcome), inputs=inputs or {})


def actor(session: Session) -> str:
    """How decisions taken in the console name their author (the same id as in the audit log)."""
    return f"user:{session.user_id}"


def page(*roles: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a page handler: sign-in required, role wall (403), CSRF on POST, one audit entry per request."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            settings = settings_of(request)
            session = await anyio.to_thread.run_sync(session_for, settings, request.cookies.get(COOKIE))
            path = request.url.path
            if session is None:
                return RedirectResponse(f"{BASE}/login?next={quote(path)}", status_code=303)
            if roles and not allowed(session, roles):
                response = render(request, session, "error.html", status=403, title="无权访问",
                                  message=f"此页面仅限{labels.roles_zh(roles)}使用；您的角色是"
                                          f"{labels.ROLES.get(session.role, session.role)}。")
            elif request.method == "POST" and not await csrf_ok(request, session.csrf):
                response = render(request, session, "error.html", status=403, title="表单已失效",
                                  message="表单校验码不符（页面可能已过期），请返回刷新后重新提交。")
            else:
                response = await handler(request, session)
            audit(request, session, action=f"console {request.method} {path}", outcome=str(response.status_code),
                  subject=request.path_params.get("uscc") or request.path_params.get("case_id")
                  or request.path_params.get("plan_id") or request.path_params.get("entry_id"),
                  inputs={"query": _audited_query(request), "ms": round(1000 * (time.perf_counter() - started), 1)})
            return response

        return endpoint

    return wrap


def _audited_query(request: Request) -> str:
    """The query string for the audit log, with the free-text search (it may hold a person's name) left out."""
    parts = [f"{k}={'…' if k == 'q' else v}" for k, v in request.query_params.multi_items()]
    return "&".join(parts)[:200]


async def csrf_ok(request: Request, expected: str) -> bool:
    form = await request.form()
    return hmac.compare_digest(str(form.get("csrf", "")), expected)


async def form_of(request: Request) -> dict[str, str]:
    """The posted form as plain strings (the CSRF token left out)."""
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if k != "csrf"}


def field_error(exc: UserError, fields: tuple[str, ...]) -> dict[str, str]:
    """Place an error from a pipeline step next to its field: ``"tier: expected …"`` goes to ``tier``."""
    text = str(exc)
    head, sep, rest = text.partition(":")
    name = head.strip().split(".")[-1]
    if sep and name in fields:
        return {name: rest.strip()}
    return {"_form": text}


def parse_date(value: str | None, name: str) -> date:
    """A form's YYYY-MM-DD date, or a UserError naming the field."""
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise UserError(f"{name}: 应为 YYYY-MM-DD 格式的日期，收到 {value!r}") from None


def parse_int(value: str | None, name: str, *, least: int = 0) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise UserError(f"{name}: 应为整数，收到 {value!r}") from None
    if number < least:
        raise UserError(f"{name}: 应不小于 {least}，收到 {number}")
    return number


async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking pipeline call in a worker thread."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
