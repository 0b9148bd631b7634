"""舆情台账 Opinion ledger: entries by deadline (overdue ones and those due soon stand out), one entry with its
state changes, and the transition form (reason required; a refused form comes back as it was sent)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console.accounts import Session
from console.web import actor, field_error, form_of, page, render, run, settings_of
from core.errors import NotFound, UserError

ROLES = ("planner",)  # the API's role for the ledger (opinion_ledger/api.py)
FIELDS = ("to", "reason", "version")
URGENCY = {"overdue": "已逾期", "due_soon": "即将到期", "on_time": "未到期", "met": "已回应"}


def _local(value) -> str:
    from opinion_ledger import rules

    return value.astimezone(rules.zone()).strftime("%Y-%m-%d %H:%M")


def _states() -> list[tuple[str, str]]:
    from opinion_ledger import rules

    return [(s, rules.label(s)["zh"]) for s in rules.states()]


@page(*ROLES)
async def ledger(request: Request, session: Session) -> Response:
    from opinion_ledger import rules
    from opinion_ledger.workflow import list_entries

    q = request.query_params
    state = q.get("state") or None
    overdue = True if q.get("overdue") == "1" else None
    try:
        page_no = max(1, int(q.get("page", "1")))
    except ValueError:
        page_no = 1
    try:
        out = await run(list_entries, settings_of(request), state=state, overdue=overdue, page=page_no, page_size=50)
        everything = await run(list_entries, settings_of(request), page_size=1)
        late = await run(list_entries, settings_of(request), overdue=True, page_size=1)
    except UserError as exc:
        return render(request, session, "error.html", status=400, title="舆情台账", message=str(exc))
    return render(request, session, "ledger.html", title="舆情台账", out=out, total=everything.total,
                  overdue_total=late.total, state=state or "", overdue=bool(overdue), states=_states(),
                  urgency=URGENCY, local=_local, hours=rules.deadline_hours(), soon=rules.due_soon_hours(),
                  zone=str(rules.zone()))


async def _entry_page(request: Request, session: Session, *, form=None, errors=None, status=200) -> Response:
    from opinion_ledger import rules
    from opinion_ledger.workflow import show

    try:
        entry = await run(show, settings_of(request), request.path_params["entry_id"])
    except NotFound as exc:
        return render(request, session, "error.html", status=404, title="未找到台账条目", message=str(exc))
    return render(request, session, "ledger_entry.html", status=status, title=f"舆情台账 · {entry.entry_id}",
                  e=entry, form=form or {}, errors=errors or {}, urgency=URGENCY, local=_local,
                  labels_of={s: zh for s, zh in _states()}, zone=str(rules.zone()))


@page(*ROLES)
async def entry(request: Request, session: Session) -> Response:
    return await _entry_page(request, session)


@page(*ROLES)
async def move(request: Request, session: Session) -> Response:
    from opinion_ledger.workflow import transition

    entry_id = request.path_params["entry_id"]
    form = await form_of(request)
    try:
        if not form.get("to"):
            raise UserError("to: 请选择下一状态")
        if not form.get("reason"):
            raise UserError("reason: 请填写处置说明（必填）")
        version = int(form["version"]) if form.get("version", "").isdigit() else None
        await run(transition, settings_of(request), entry_id, to=form["to"], reason=form["reason"],
                  expected_version=version, actor=actor(session), role=session.role)
    except NotFound as exc:
        return render(request, session, "error.html", status=404, title="未找到台账条目", message=str(exc))
    except UserError as exc:
        return await _entry_page(request, session, form=form, errors=field_error(exc, FIELDS), status=400)
    return RedirectResponse(f"/console/opinions/ledger/{entry_id}", status_code=303)
