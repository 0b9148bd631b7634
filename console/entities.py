"""分类结果 Tier list (filters, search, pages, CSV) and 企业画像 Entity page (reasons, history, affiliates, override)."""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from console import charts, labels, queries
from console.accounts import Session, actor_names
from console.web import (
    READERS,
    actor,
    allowed,
    audit,
    field_error,
    form_of,
    page,
    parse_date,
    render,
    run,
    settings_of,
)
from core import rules
from core import tiers as core_tiers
from core.errors import NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from features.sources import ENTITY_TYPES
from inspection.results import RESULT_LABELS

PAGE_SIZE = 50
EXPORT_CHUNK = 5_000  # rows per chunk of the streamed CSV export (one query for the whole list)
FILTERS = ("tier", "town_code", "industry_code", "entity_type", "q")
OVERRIDE_FIELDS = ("tier", "reason", "expires_on")


def _filters(request: Request) -> dict[str, str | None]:
    return {k: (request.query_params.get(k) or "").strip() or None for k in FILTERS}


def _list(settings: Settings, f: dict[str, str | None], page_no: int, page_size: int) -> dict[str, Any]:
    from serving.lookup import latest_publication, tier_list

    hits = queries.search(settings, f["q"]) if f["q"] else None
    with engine(settings).connect() as conn:
        pub = latest_publication(conn)
        if pub is None:
            return {"pub": None}
        result = tier_list(conn, town_code=f["town_code"], industry_code=f["industry_code"],
                           entity_type=f["entity_type"], tier=f["tier"], page=page_no, page_size=page_size,
                           usccs=hits)
        towns = queries.distinct_values(conn, pub["publication_id"], "town_code")
        industries = queries.distinct_values(conn, pub["publication_id"], "industry_code")
    names = queries.names(settings, [item["uscc"] for item in result["items"]])
    for item in result["items"]:
        item["name"] = names.get(item["uscc"], "")
    return {"pub": pub, "result": result, "towns": towns, "industries": industries}


@page("planner")
async def tier_list_page(request: Request, session: Session) -> Response:
    settings = settings_of(request)
    f = _filters(request)
    try:
        page_no = max(1, int(request.query_params.get("page") or 1))
    except ValueError:
        page_no = 1
    error = None
    try:
        data = await run(_list, settings, f, page_no, PAGE_SIZE)
    except UserError as exc:
        data, error = {"pub": None}, str(exc)
    query = urlencode({k: v for k, v in f.items() if v})
    pages = -(-data["result"]["total"] // PAGE_SIZE) if data.get("result") else 0
    return render(request, session, "tiers.html", title="分类结果", f=f, error=error, query=query, page_no=page_no,
                  pages=pages, entity_types=ENTITY_TYPES, tiers=core_tiers.tiers(), **data)


CSV_HEADER = ["统一社会信用代码", "名称", "当前分类", "分类名称", "发布分类", "人工调整", "风险概率", "主体类型",
              "行业代码", "行业名称", "乡镇街道代码", "乡镇街道"]


def _csv_chunks(settings: Settings, f: dict[str, str | None], state: dict[str, Any]) -> Iterator[str]:
    """The CSV of the whole filtered list, chunk by chunk: one streamed read of the latest publication."""
    from serving.lookup import iter_tier_list, latest_publication

    hits = queries.search(settings, f["q"]) if f["q"] else None
    out = io.StringIO()
    csv.writer(out).writerow(CSV_HEADER)
    yield "\ufeff" + out.getvalue()  # BOM: Excel opens the Chinese headers correctly
    with engine(settings).connect() as conn:
        pub = latest_publication(conn)
        if pub is None:
            return
        state["publication_id"] = pub["publication_id"]
        for items in iter_tier_list(conn, pub, town_code=f["town_code"], industry_code=f["industry_code"],
                                    entity_type=f["entity_type"], tier=f["tier"], usccs=hits, chunk=EXPORT_CHUNK):
            names = queries.names(settings, [r["uscc"] for r in items])
            out = io.StringIO()
            writer = csv.writer(out)
            for r in items:
                writer.writerow([r["uscc"], names.get(r["uscc"], ""), r["tier"], r["tier_zh"], r["published_tier"],
                                 "是" if r["overridden"] else "否", f"{r['probability']:.6f}",
                                 labels.ENTITY_TYPES.get(r["entity_type"], r["entity_type"]), r["industry_code"],
                                 r["industry_zh"] or "", r["town_code"], r["town_zh"] or ""])
            state["rows"] += len(items)
            yield out.getvalue()


async def _streamed(chunks: Iterator[str], done) -> AsyncIterator[bytes]:
    """Chunks made by one producer thread (its database read stays on that thread), sent as they come;
    ``done(completed)`` runs at the end, whether the download finished or the client went away."""
    q: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        q.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except Exception as exc:  # handed to the response: the download ends early, and the audit says so
            q.put(exc)

    threading.Thread(target=produce, name="csv-export", daemon=True).start()
    completed = False
    try:
        while True:
            item = await anyio.to_thread.run_sync(q.get)
            if item is end:
                completed = True
                return
            if isinstance(item, Exception):
                raise item
            yield item.encode("utf-8")
    finally:
        stop.set()
        done(completed)


@page("planner")
async def tier_csv(request: Request, session: Session) -> Response:
    """The whole filtered list as CSV, streamed (a 1M-entity list starts at once and never waits on a timeout);
    audited when it ends, with the publication it came from and the rows sent."""
    from serving.lookup import check_filters

    f = _filters(request)
    try:
        check_filters(tier=f["tier"], entity_type=f["entity_type"])
    except UserError as exc:
        return render(request, session, "error.html", status=400, title="导出失败", message=str(exc))
    state: dict[str, Any] = {"publication_id": None, "rows": 0}

    def done(completed: bool) -> None:
        audit(request, session, action="console export tiers.csv", outcome="completed" if completed else "interrupted",
              inputs={"publication_id": state["publication_id"], "rows": state["rows"],
                      "filters": {k: ("…" if k == "q" else v) for k, v in f.items() if v}})

    return StreamingResponse(_streamed(_csv_chunks(settings_of(request), f, state), done),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="tiers.csv"',
                                      "Cache-Control": "no-store"})


_WAREHOUSE_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="entity-warehouse")


def _facts(settings: Settings, uscc: str) -> dict[str, Any]:
    from features.commitments import entity_records

    con = queries.warehouse(settings)  # a cursor on the copy's connection kept open
    try:
        facts = queries.entity_facts(con, uscc)
        # 首违不罚 decisions, failed samples and commitment breaches: visible whether or not a reason names them
        facts["credit_records"] = ([r.describe() for r in entity_records(con, uscc, as_of=date.today())]
                                   if con is not None else [])
        return facts
    finally:
        if con is not None:
            con.close()


def _eligibility(settings: Settings, uscc: str) -> dict[str, Any] | None:
    from repair.eligibility import check_entity

    con = queries.warehouse(settings)
    if con is None:
        return None
    try:
        return check_entity(con, uscc, as_of=date.today())
    except NotFound:
        return None
    finally:
        con.close()


def _entity(settings: Settings, uscc: str, session: Session) -> dict[str, Any]:
    """What the entity page shows: the warehouse facts and the repair eligibility are read side by side (two
    cursors on the serving copy, in threads) while the operational DB is read here."""
    from serving.lookup import entity_view, latest_publication
    from serving.overrides import overrides_of

    facts_job = _WAREHOUSE_READS.submit(_facts, settings, uscc)
    eligibility_job = (_WAREHOUSE_READS.submit(_eligibility, settings, uscc)
                       if allowed(session, ("repair_officer", "planner")) else None)
    try:
        with engine(settings).connect() as conn:  # one operational-DB connection for the page
            view = entity_view(conn, uscc)
            pub = latest_publication(conn)
            overrides = overrides_of(conn, uscc)  # with their reasons, which the API's entity view leaves out
            facts = facts_job.result()
            tiers_of = queries.published_tiers(conn, pub["publication_id"], [a["uscc"] for a in facts["affiliates"]])
    finally:
        eligibility = eligibility_job.result() if eligibility_job is not None else None
    for a in facts["affiliates"]:
        a["tier"] = tiers_of.get(a["uscc"])
    history = list(reversed(view["history"]))
    chart = charts.tier_history([(labels.cn_date(h["as_of"]), h["tier"], h["probability"]) for h in history])
    who = actor_names(settings)
    for o in overrides:
        o["created_by"] = who.get(o["created_by"], o["created_by"])
    view["overrides"] = overrides
    return {"view": view, "facts": facts, "chart": chart, "eligibility": eligibility,
            "name": (facts["entity"] or {}).get("name") or ""}


async def _entity_page(request: Request, session: Session, *, form: dict[str, str] | None = None,
                       errors: dict[str, str] | None = None, notice: str | None = None, status: int = 200) -> Response:
    uscc = request.path_params["uscc"]
    settings = settings_of(request)
    try:
        data = await run(_entity, settings, uscc, session)
    except UserError as exc:
        return render(request, session, "error.html", status=404 if isinstance(exc, NotFound) else 400,
                      title="未找到企业", message=str(exc))
    cfg = rules.load("overrides")["limits"]
    today = date.today()
    return render(request, session, "entity.html", status=status, title=data["name"] or uscc, uscc=uscc,
                  tiers=core_tiers.tiers(), form=form or {}, errors=errors or {}, notice=notice,
                  can_override=allowed(session, ("planner",)), results=RESULT_LABELS,
                  expiry_min=today.isoformat(), expiry_max=(today + timedelta(days=int(cfg["max_days"]))).isoformat(),
                  min_reason=int(cfg["min_reason_chars"]), **data)


@page(*READERS)
async def entity(request: Request, session: Session) -> Response:
    return await _entity_page(request, session, notice=request.query_params.get("done"))


@page(*READERS)
async def whatif(request: Request, session: Session) -> Response:
    """The tier the entity would get if its records eligible now were repaired (the service's champion)."""
    from repair.whatif import whatif as project
    from serving.runtime import current

    uscc = request.path_params["uscc"]
    try:
        result = await run(project, settings_of(request), uscc, model=current().model)
    except UserError as exc:
        return render(request, session, "error.html", status=400, title="无法试算", message=str(exc))
    return render(request, session, "whatif.html", title="修复后分类试算", uscc=uscc, result=result,
                  name=queries.names(settings_of(request), [uscc]).get(uscc, ""))


@page("planner")
async def set_override(request: Request, session: Session) -> Response:
    from serving.overrides import set_override as impose

    uscc = request.path_params["uscc"]
    form = await form_of(request)
    try:
        expires = parse_date(form.get("expires_on"), "expires_on")
        if form.get("confirm") != "yes":
            raise UserError("confirm: 请勾选确认：人工调整将立即改变该企业的当前分类")
        result = await run(impose, settings_of(request), uscc=uscc, tier=form.get("tier", ""),
                           reason=form.get("reason", ""), expires_on=expires, actor=actor(session), role=session.role)
    except UserError as exc:
        return await _entity_page(request, session, form=form, errors=field_error(exc, (*OVERRIDE_FIELDS, "confirm")),
                                  status=400)
    return RedirectResponse(f"/console/entities/{uscc}?done=override-{result['override_id']}", status_code=303)


@page("planner")
async def revoke_override(request: Request, session: Session) -> Response:
    from serving.overrides import revoke_override as revoke

    uscc = request.path_params["uscc"]
    form = await form_of(request)
    try:
        if form.get("confirm") != "yes":
            raise UserError("revoke: 请勾选确认撤销")
        await run(revoke, settings_of(request), override_id=int(request.path_params["override_id"]),
                  actor=actor(session), role=session.role)
    except UserError as exc:
        return await _entity_page(request, session, errors={"revoke": str(exc).partition(": ")[2] or str(exc)},
                                  status=400)
    return RedirectResponse(f"/console/entities/{uscc}?done=revoked", status_code=303)
