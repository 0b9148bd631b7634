"""总览 Overview and 模型 Model pages: the latest publication, its distribution, migration, drift and overdue work."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from console import charts, queries
from console import labels as zh
from console.accounts import Session
from console.web import READERS, allowed, page, render, run, settings_of
from core import rules
from core import tiers as core_tiers
from core.opdb import engine
from core.settings import Settings


def _overview(settings: Settings, session: Session) -> dict[str, Any]:
    from cycle.store import cycles
    from serving.lookup import latest_publication
    from serving.publish import migration, previous_publication

    eng = engine(settings)
    out: dict[str, Any] = {"pub": None}
    with eng.connect() as conn:
        pub = latest_publication(conn)
        if pub is not None:
            counts = queries.tier_shares(conn, pub["publication_id"])
            total = sum(counts.values()) or 1
            policy = rules.load("tiers")["policy"]
            targets = policy["target_shares"] if policy["kind"] == "target_shares" else None
            shares = {t: n / total for t, n in counts.items()}
            labels = {t.code: t.zh for t in core_tiers.tiers()}
            prev = previous_publication(conn, pub)
            mig = queries.per_publication(conn, pub["publication_id"], f"migration:{prev['publication_id']}", lambda: migration(
                settings, conn, previous_id=prev["publication_id"], current_id=pub["publication_id"])) if prev else None
            towns = queries.tiers_by(conn, pub["publication_id"], "town_code")
            industries = queries.tiers_by(conn, pub["publication_id"], "industry_code")
            out.update(pub=pub, counts=counts, total=total, shares=shares, targets=targets, prev=prev, mig=mig,
                       tier_chart=charts.tier_bars(shares, targets, labels=labels),
                       mig_chart=charts.migration_grid(mig["matrix"]) if mig else None,
                       town_chart=charts.stacked_bars([(zh.town(k), v) for k, v in towns], title="各乡镇街道分类"),
                       industry_chart=charts.stacked_bars([(zh.industry(k), v) for k, v in industries],
                                                          title="各行业分类"))
    last = cycles(eng, limit=1)
    out["cycle"] = last[0] if last else None
    if allowed(session, ("planner",)):
        from inspection.policy import load_policy
        from inspection.results import overdue

        out["late_results"] = overdue(settings)
        out["result_workdays"] = load_policy().result_workdays
    if allowed(session, ("repair_officer",)):
        from repair.deadlines import due

        out["repair_due"] = due(settings)
    return out


@page(*READERS)
async def overview(request: Request, session: Session) -> Response:
    data = await run(_overview, settings_of(request), session)
    return render(request, session, "overview.html", title="总览", **data)


def _model(settings: Settings) -> dict[str, Any]:
    from serving.runtime import current

    info, error = None, None
    try:
        info = current().model_info()
    except Exception as exc:  # noqa: BLE001 - shown on the page: the service runs without a model
        error = str(exc)
    registry, registry_error = [], None
    try:
        registry = _registry(settings)
    except Exception as exc:  # noqa: BLE001 - an unreachable registry is reported, not fatal
        registry_error = f"{type(exc).__name__}: {exc}"[:300]
    reports = sorted((p for p in settings.reports_dir.rglob("*.html")), key=lambda p: p.stat().st_mtime,
                     reverse=True)[:20] if settings.reports_dir.exists() else []
    return {"info": info, "error": error, "registry": registry, "registry_error": registry_error,
            "reports": [str(p.relative_to(settings.reports_dir)) for p in reports]}


def _registry(settings: Settings) -> list[dict[str, Any]]:
    """The registered versions (newest first) with their aliases and the metrics of their runs."""
    from training import registry as reg
    from training.model import MODEL_NAME

    client = reg.client(settings)
    current = reg.champion(settings)
    champion = str(current.version) if current is not None else None
    rows = []
    for v in sorted(client.search_model_versions(f"name='{MODEL_NAME}'"), key=lambda v: -int(v.version))[:5]:
        metrics = reg.run_metrics(settings, v.run_id) if v.run_id else {}
        rows.append({"version": v.version, "champion": str(v.version) == champion,
                     "created": v.creation_timestamp, "metrics": metrics, "tags": dict(v.tags or {})})
    return rows


@page("planner", "model_operator")
async def model(request: Request, session: Session) -> Response:
    data = await run(_model, settings_of(request))
    return render(request, session, "model.html", title="模型", **data)


@page("planner", "model_operator")
async def report(request: Request, session: Session) -> Response:
    """A training or cycle report (HTML under the home's reports folder)."""
    settings = settings_of(request)
    root = settings.reports_dir.resolve()
    target = (root / request.path_params["name"]).resolve()
    if root not in target.parents or target.suffix != ".html" or not target.is_file():
        return render(request, session, "error.html", status=404, title="未找到报告",
                      message="没有这份报告（只提供报告目录中的 HTML 文件）。")
    return FileResponse(target, media_type="text/html")
