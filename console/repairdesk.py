"""信用修复 Repair desk: the queue by state with deadlines, opening a case, decisions, objections, printable notice."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from console import labels, queries
from console.accounts import Session, actor_names
from console.web import actor, field_error, form_of, page, parse_date, render, run, settings_of
from core.errors import UserError
from core.opdb import engine
from core.settings import Settings

APPLY_FIELDS = ("uscc", "record_id", "record_kind", "on", *labels.DOCUMENTS)
OBJECTION_FIELDS = ("uscc", "record_id", "record_kind", "grounds", "on", "objection", "evidence")
ACTION_FIELDS = ("action", "reason", "on", "confirm", *labels.CASE_DOCUMENTS)


def _queue(settings: Settings) -> dict[str, Any]:
    from repair import rules
    from repair.deadlines import urgency

    today = date.today()
    with engine(settings).connect() as conn:
        open_rows = queries.open_cases(conn)
        closed = queries.closed_cases(conn)
    names = queries.names(settings, [r["uscc"] for r in [*open_rows, *closed]])
    for r in [*open_rows, *closed]:
        r["name"] = names.get(r["uscc"], "")
        r["state_zh"] = rules.label("states", r["state"])["zh"]
        r["kind_zh"] = rules.label("kinds", r["kind"])["zh"]
    for r in open_rows:
        r["urgency"] = urgency(r["due_on"], today=today)
        r["step_zh"] = rules.label("steps", r["next_step"])["zh"] if r["next_step"] else "—"
    by_state = Counter(r["state_zh"] for r in open_rows)
    return {"open": open_rows, "closed": closed, "by_state": sorted(by_state.items()),
            "soon": rules.section("application")["due_soon_workdays"],
            "overdue": sum(r["urgency"] == "overdue" for r in open_rows),
            "due_soon": sum(r["urgency"] == "due_soon" for r in open_rows)}


async def _desk(request: Request, session: Session, *, form=None, errors=None, which=None, status=200) -> Response:
    data = await run(_queue, settings_of(request))
    return render(request, session, "repair.html", status=status, title="信用修复", form=form or {},
                  errors=errors or {}, which=which, documents=labels.DOCUMENTS, today=date.today().isoformat(), **data)


@page("repair_officer")
async def desk(request: Request, session: Session) -> Response:
    return await _desk(request, session, form={"uscc": request.query_params.get("uscc", ""),
                                               "record_id": request.query_params.get("record_id", "")})


@page("repair_officer")
async def open_case(request: Request, session: Session) -> Response:
    from repair.workflow import apply

    form = await form_of(request)
    try:
        on = parse_date(form["on"], "on") if form.get("on") else None
        status = await run(apply, settings_of(request), uscc=form.get("uscc", "").upper(),
                           record_id=form.get("record_id", ""), record_kind=form.get("record_kind") or None,
                           documents={d: form[d] for d in labels.DOCUMENTS if form.get(d)}, on=on, actor=actor(session),
                           role=session.role)
    except UserError as exc:
        errors = field_error(exc, APPLY_FIELDS)
        return await _desk(request, session, form=form, errors=errors, which="apply", status=400)
    return RedirectResponse(f"/console/repair/cases/{status.case_id}", status_code=303)


@page("repair_officer")
async def file_objection(request: Request, session: Session) -> Response:
    from repair.objections import file

    form = await form_of(request)
    try:
        on = parse_date(form["on"], "on") if form.get("on") else None
        status = await run(file, settings_of(request), uscc=form.get("uscc", "").upper(),
                           record_id=form.get("record_id", ""), record_kind=form.get("record_kind") or "abnormal_list",
                           grounds=form.get("grounds") or None, on=on, actor=actor(session), role=session.role,
                           documents={d: form[d] for d in ("objection", "evidence") if form.get(d)} or None)
    except UserError as exc:
        return await _desk(request, session, form=form, errors=field_error(exc, OBJECTION_FIELDS), which="objection",
                           status=400)
    return RedirectResponse(f"/console/repair/cases/{status.case_id}", status_code=303)


def _case(settings: Settings, case_id: str) -> dict[str, Any]:
    from repair import rules
    from repair.status import case_status

    case = case_status(settings, case_id)
    who = actor_names(settings)
    events = [{"seq": e.seq, "action": e.action, "on": e.on, "reason": e.reason,
               "from_zh": rules.label_of("states", e.from_state).zh if e.from_state else "",
               "to_zh": rules.label_of("states", e.to_state).zh, "actor": who.get(e.actor or "", e.actor)}
              for e in case.events]
    return {"case": case, "events": events, "name": queries.names(settings, [case.uscc]).get(case.uscc, ""),
            "documents": {code: rules.label_of("documents", code).zh for code in labels.CASE_DOCUMENTS}}


async def _case_page(request: Request, session: Session, *, form=None, errors=None, status=200) -> Response:
    try:
        data = await run(_case, settings_of(request), request.path_params["case_id"])
    except UserError as exc:
        return render(request, session, "error.html", status=404, title="未找到案件", message=str(exc))
    return render(request, session, "case.html", status=status, title=f"修复案件 {data['case'].case_id}",
                  form=form or {}, errors=errors or {}, today=date.today().isoformat(), **data)


@page("repair_officer")
async def case(request: Request, session: Session) -> Response:
    return await _case_page(request, session)


@page("repair_officer")
async def act(request: Request, session: Session) -> Response:
    from repair.workflow import transition

    case_id = request.path_params["case_id"]
    form = await form_of(request)
    action = form.get("action", "")
    try:
        if action not in labels.ACTIONS:
            raise UserError("action: 请选择一项办理操作")
        if labels.ACTIONS[action][1] and form.get("confirm") != "yes":
            raise UserError(f"confirm: “{labels.ACTIONS[action][0]}”作出后不可撤回，请勾选确认")
        on = parse_date(form["on"], "on") if form.get("on") else None
        version = int(form["version"]) if form.get("version", "").isdigit() else None
        documents = {d: form[d] for d in labels.CASE_DOCUMENTS if form.get(d)} or None
        await run(transition, settings_of(request), case_id, action, reason=form.get("reason") or None, on=on,
                  expected_version=version, documents=documents, actor=actor(session), role=session.role)
    except UserError as exc:
        return await _case_page(request, session, form=form, errors=field_error(exc, ACTION_FIELDS), status=400)
    return RedirectResponse(f"/console/repair/cases/{case_id}", status_code=303)


@page("repair_officer")
async def notice(request: Request, session: Session) -> Response:
    """A notice to the applicant as issued (告知书), as the repair package prints it."""
    from repair.status import notice as stored

    try:
        _, _, page_html = await run(stored, settings_of(request), request.path_params["notice_id"])
    except UserError as exc:
        return render(request, session, "error.html", status=404, title="未找到告知书", message=str(exc))
    # no favicon request: the browser would otherwise ask the service's bearer-key gate for /favicon.ico
    page_html = page_html.replace("<head>", '<head><link rel="icon" href="data:,">', 1)
    return HTMLResponse(page_html, headers={"Cache-Control": "no-store"})
