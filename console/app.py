"""The console's ASGI app (mounted at /console by the service): sign-in, sign-out and the page routes."""

from __future__ import annotations

import hmac
import logging
import secrets

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console import entities, overview, plans, repairdesk, restrictions
from console.accounts import login_rules, sign_in, sign_out
from console.web import BASE, COOKIE, audit, page, render, settings_of

log = logging.getLogger(__name__)
LOGIN_CSRF = "crk_console_login"
REFUSED = {"bad_credentials": "用户名或密码不正确。",
           "locked": "连续登录失败次数过多，账号已临时锁定，请稍后再试或联系系统管理员。",
           "disabled": "该账号已停用，请联系系统管理员。"}


def _next(request: Request, value: str | None) -> str:
    """Only console paths are followed after sign-in (no open redirect)."""
    value = value or f"{BASE}/"
    return value if value.startswith(f"{BASE}/") and not value.startswith("//") else f"{BASE}/"


def _login_form(request: Request, *, error: str | None = None, name: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, None, "login.html", status=status, title="登录", csrf=token, error=error, name=name,
                      next=_next(request, request.query_params.get("next")))
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", path=BASE, max_age=3600,
                        secure=request.url.scheme == "https")
    return response


async def login_page(request: Request) -> Response:
    return _login_form(request)


async def login(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not hmac.compare_digest(str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF, "-")):
        audit(request, None, action="console.login", outcome="refused: csrf")
        return _login_form(request, error="登录表单已失效，请重新输入。", name=name, status=403)
    result = await anyio.to_thread.run_sync(lambda: sign_in(settings_of(request), name=name,
                                                            password=str(form.get("password", ""))))
    if result.session is None:
        return _login_form(request, error=REFUSED[result.refused], name=name, status=401)
    target = _next(request, str(form.get("next", "")))
    if result.session.role == "external_dept" and target == f"{BASE}/":  # their one page
        target = f"{BASE}/restrictions"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, result.token, httponly=True, samesite="strict", path=BASE,
                        max_age=int(float(login_rules()["session_hours"]) * 3600), secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_CSRF, path=BASE)
    return response


@page()
async def logout(request: Request, session) -> Response:
    await anyio.to_thread.run_sync(sign_out, settings_of(request), request.cookies.get(COOKIE, ""))
    response = RedirectResponse(f"{BASE}/login", status_code=303)
    response.delete_cookie(COOKIE, path=BASE)
    return response


async def not_found(request: Request, exc) -> Response:
    return render(request, None, "error.html", status=404, title="页面不存在",
                  message=f"没有这个页面：{request.url.path}")


async def method_not_allowed(request: Request, exc) -> Response:
    return render(request, None, "error.html", status=405, title="操作无效", message="请从页面上的表单提交。")


async def server_error(request: Request, exc) -> Response:
    log.exception("console page %s failed", request.url.path, exc_info=exc)
    return render(request, None, "error.html", status=500, title="系统错误",
                  message="页面处理出错，已记录日志。请稍后重试；如反复出现，请联系系统管理员。")


def build_app(settings=None) -> Starlette:
    """The console app; ``settings`` for tests that run it without the service (default: the service's)."""
    routes = [
        Route("/", overview.overview),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/tiers", entities.tier_list_page),
        Route("/tiers.csv", entities.tier_csv),
        Route("/entities/{uscc}", entities.entity),
        Route("/entities/{uscc}/whatif", entities.whatif),
        Route("/entities/{uscc}/override", entities.set_override, methods=["POST"]),
        Route("/entities/{uscc}/override/{override_id:int}/revoke", entities.revoke_override, methods=["POST"]),
        Route("/plans", plans.plans),
        Route("/plans", plans.draw, methods=["POST"]),
        Route("/plans/{plan_id}", plans.plan),
        Route("/plans/{plan_id}/results", plans.record_result, methods=["POST"]),
        Route("/plans/{plan_id}/export.csv", plans.plan_csv),
        Route("/repair", repairdesk.desk),
        Route("/repair/cases", repairdesk.open_case, methods=["POST"]),
        Route("/repair/objections", repairdesk.file_objection, methods=["POST"]),
        Route("/repair/cases/{case_id}", repairdesk.case),
        Route("/repair/cases/{case_id}/actions", repairdesk.act, methods=["POST"]),
        Route("/repair/notices/{notice_id}", repairdesk.notice),
        Route("/model", overview.model),
        Route("/restrictions", restrictions.check),
        Route("/reports/{name:path}", overview.report),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed,
                                                        Exception: server_error})
    app.state.settings = settings
    return app

