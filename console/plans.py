"""双随机抽查 Plans: draw a plan, its make-up by tier and item, inspector teams with recusal notes, results, CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from console import charts, labels, queries
from console.accounts import Session
from console.web import actor, field_error, form_of, page, parse_date, parse_int, render, run, settings_of
from core import tiers as core_tiers
from core.errors import UserError
from core.opdb import engine
from core.settings import Settings

DRAW_FIELDS = ("period", "capacity", "seed")
RESULT_FIELDS = ("inspection_id", "result", "checked_on", "published_on")
ROWS = 100


def _plans(settings: Settings) -> list[dict[str, Any]]:
    with engine(settings).connect() as conn:
        return queries.plans(conn)


async def _list_page(request: Request, session: Session, *, form=None, errors=None, status=200) -> Response:
    rows = await run(_plans, settings_of(request))
    return render(request, session, "plans.html", status=status, title="双随机抽查", plans=rows, form=form or {},
                  errors=errors or {}, default_period=f"{date.today():%Y-%m}")


@page("planner")
async def plans(request: Request, session: Session) -> Response:
    return await _list_page(request, session)


@page("planner")
async def draw(request: Request, session: Session) -> Response:
    from inspection.plan import make_plan

    form = await form_of(request)
    try:
        capacity = parse_int(form.get("capacity"), "capacity")
        seed = parse_int(form.get("seed"), "seed")
        if form.get("confirm") != "yes":
            raise UserError("confirm: 请勾选确认：抽取结果将被记录且不可重抽")
        summary = await run(make_plan, settings_of(request), period=form.get("period", ""), capacity=capacity,
                            seed=seed, actor=actor(session), role=session.role)
    except UserError as exc:
        errors = field_error(exc, (*DRAW_FIELDS, "confirm"))
        if "_form" in errors and "period" in errors["_form"]:
            errors = {"period": errors["_form"]}
        return await _list_page(request, session, form=form, errors=errors, status=400)
    return RedirectResponse(f"/console/plans/{summary['plan_id']}", status_code=303)


def _plan(settings: Settings, plan_id: str, offset: int) -> dict[str, Any]:
    from inspection.plan import fetch_plan
    from inspection.results import RESULT_LABELS
    from inspection.store import previous_inspectors

    data = fetch_plan(settings, plan_id, limit=ROWS, offset=offset)
    plan = data["plan"]
    with engine(settings).connect() as conn:
        previous = previous_inspectors(conn, exclude_period=plan["period"])
    names = queries.names(settings, [row["uscc"] for row in data["inspections"]])
    for row in data["inspections"]:
        row["name"] = names.get(row["uscc"], "")
        recused = sorted(previous.get(row["uscc"], ()))
        row["recusal"] = f"已回避上次检查人员 {'、'.join(recused)}" if recused else ""
    summary = plan["summary"]
    drawn = {code: v["drawn_share"] for code, v in summary["by_tier"].items()}
    policy = {code: v["policy_ratio"] for code, v in summary["by_tier"].items()}
    chart = charts.tier_bars(drawn, policy, labels={t.code: t.zh for t in core_tiers.tiers()}, title="各分类抽查比例")
    from inspection.policy import load_policy

    return {"plan": plan, "summary": summary, "rows": data["inspections"], "results": RESULT_LABELS,
            "result_workdays": load_policy().result_workdays,
            "tier_chart": chart, "kinds": labels.KINDS}


async def _plan_page(request: Request, session: Session, *, form=None, errors=None, notice=None,
                     status=200) -> Response:
    plan_id = request.path_params["plan_id"]
    try:
        offset = max(0, int(request.query_params.get("offset") or 0))
    except ValueError:
        offset = 0
    try:
        data = await run(_plan, settings_of(request), plan_id, offset)
    except UserError as exc:
        return render(request, session, "error.html", status=404, title="未找到计划", message=str(exc))
    return render(request, session, "plan.html", status=status, title=f"抽查计划 {plan_id}", offset=offset, step=ROWS,
                  form=form or {}, errors=errors or {}, notice=notice, today=date.today().isoformat(), **data)


@page("planner")
async def plan(request: Request, session: Session) -> Response:
    return await _plan_page(request, session, notice=request.query_params.get("done"))


@page("planner")
async def record_result(request: Request, session: Session) -> Response:
    from inspection.results import record_results

    plan_id = request.path_params["plan_id"]
    form = await form_of(request)
    try:
        item = {"inspection_id": form.get("inspection_id", ""), "result": form.get("result", ""),
                "checked_on": parse_date(form.get("checked_on"), "checked_on")}
        if form.get("published_on"):
            item["published_on"] = parse_date(form["published_on"], "published_on")
        done = await run(record_results, settings_of(request), results=[item], plan_id=plan_id,
                         correct=form.get("correct") == "yes", actor=actor(session), role=session.role)
    except UserError as exc:
        errors = field_error(exc, RESULT_FIELDS)
        if "_form" in errors and "result" in errors["_form"].split(":")[0]:
            errors = {"result": errors["_form"]}
        return await _plan_page(request, session, form=form, errors=errors, status=400)
    due = done["results"][0]["due"]
    return RedirectResponse(f"/console/plans/{plan_id}?done=result-{done['results'][0]['inspection_id']}-due-{due}",
                            status_code=303)


@page("planner")
async def plan_csv(request: Request, session: Session) -> Response:
    """The plan's CSV export as written at the draw (one row per inspection, Chinese labels)."""
    plan_id = request.path_params["plan_id"]
    path = settings_of(request).reports_dir / "plans" / f"{plan_id}.csv"
    if "/" in plan_id or not path.is_file():
        return render(request, session, "error.html", status=404, title="未找到导出文件",
                      message=f"计划 {plan_id} 没有导出文件。")
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{plan_id}.csv")
