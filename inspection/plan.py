"""Make an inspection plan: registries → draw → assignment → store, audit and export (CSV and JSON)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core import audit, opdb
from core.errors import Conflict, UserError
from core.settings import Settings
from inspection import store
from inspection.assign import assign
from inspection.draw import Draw, draw
from inspection.policy import SamplingPolicy, load_policy
from inspection.registries import (
    Inspectors,
    Targets,
    generate_inspectors,
    load_inspectors,
    load_targets,
    load_triggers,
)

PERIOD = re.compile(r"^(\d{4})(-[A-Za-z0-9]{1,20})?$")
DEFAULT_REGISTRY = "inspectors.csv"
KIND_LABELS = {"random": ("随机抽查", "random draw"), "complaint": ("投诉举报", "complaint or report"),
               "opinion_alert": ("舆情监测预警", "public-opinion alert"), "case_lead": ("案件线索", "case lead")}


def make_plan(settings: Settings, *, period: str, capacity: int, seed: int, actor: str,
              inspectors_path: str | Path | None = None, publication_id: str | None = None,
              policy: SamplingPolicy | None = None, role: str | None = None) -> dict[str, Any]:
    """Draw, assign, store, audit and export the plan of ``period`` (e.g. ``2026`` or ``2026-Q1``).

    Args:
        settings: where the operational DB, warehouse and reports live.
        period: plan period id, starting with its calendar year.
        capacity: most random (proactive) inspections; triggered ones come on top.
        seed: the recorded seed of the draw and of the inspector draw.
        actor: who draws, for the audit log.
        inspectors_path: inspector registry file (CSV/Parquet); default ``<home>/inspectors.csv`` when it
            exists, else a registry generated deterministically for the district.
        publication_id: publication to plan from (default: newest published).

    Returns:
        The plan summary: plan_id, seed, inspections, by_tier, by_town, by_item, floor, registries, files.
        Drawing a period again with identical inputs returns the stored plan; different inputs are refused.
    """
    match = PERIOD.match(period or "")
    if not match:
        raise UserError(f"expected a period like 2026 or 2026-Q1 (year first), got {period!r}")
    policy = policy or load_policy()
    targets = load_targets(settings, publication_id=publication_id)
    if targets.frame.empty:
        raise UserError(f"publication {targets.publication_id} has no active entities to plan for")
    default_registry = settings.home / DEFAULT_REGISTRY
    inspectors_path = inspectors_path or (default_registry if default_registry.is_file() else None)
    inspectors = (load_inspectors(inspectors_path) if inspectors_path
                  else generate_inspectors(targets.frame, policy, seed=seed))
    eng = opdb.engine(settings)
    with eng.connect() as conn:
        prior = store.prior_checks(conn, int(match.group(1)), exclude_period=period)
        previous = store.previous_inspectors(conn, exclude_period=period)
        existing = store.plan_for_period(conn, period)
    plan_id = _plan_id(period, seed, capacity, targets, inspectors, policy, prior)
    if existing is not None:
        if existing["plan_id"] == plan_id:
            return {**existing["summary"], "existing": True}
        raise Conflict(f"period {period} already has plan {existing['plan_id']} (drawn by {existing['created_by']} "
                       f"at {existing['created_at']}); a draw is never repeated with other inputs")
    from features import warehouse

    con = warehouse.reader(settings)
    try:
        triggers = load_triggers(con, as_of=targets.as_of, policy=policy)
    finally:
        con.close()
    drawn = draw(targets.frame, policy=policy, capacity=capacity, seed=seed, prior=prior, triggers=triggers)
    assigned = assign(drawn.inspections, inspectors.frame, policy=policy, seed=seed, previous=previous)
    assigned.insert(0, "seq", range(1, len(assigned) + 1))
    assigned.insert(0, "inspection_id", [f"{plan_id}-{i:06d}" for i in assigned["seq"]])
    summary = _summary(plan_id, period, drawn, assigned, targets, inspectors, policy)
    files = export(settings, summary, assigned, policy=policy)
    summary["files"] = files
    now = datetime.now(UTC)
    header = {
        "plan_id": plan_id, "period": period, "seed": seed, "capacity": capacity,
        "publication_id": targets.publication_id, "as_of": targets.as_of,
        "target_registry_version": targets.version, "inspector_registry_version": inspectors.version,
        "rules_versions": policy.versions, "summary": summary, "inspection_count": len(assigned),
        "status": "drawn", "created_at": now, "created_by": actor,
    }
    try:
        with eng.begin() as conn:
            _save(conn, header, assigned, summary, actor, role, targets, inspectors, policy)
    except sa.exc.IntegrityError:
        raise Conflict(f"period {period} was drawn by someone else meanwhile; fetch that plan instead") from None
    return summary


def _save(conn, header: dict[str, Any], assigned: pd.DataFrame, summary: dict[str, Any], actor: str,
          role: str | None, targets: Targets, inspectors: Inspectors, policy: SamplingPolicy) -> None:
    """Store the plan and audit the draw in one transaction."""
    store.save_plan(conn, header, assigned)
    audit.record(conn, actor=actor, role=role, action="inspection.plan", subject=header["plan_id"],
                 outcome=f"drawn: {summary['random']} random + {summary['triggered']} triggered inspections",
                 inputs={"period": header["period"], "capacity": header["capacity"], "seed": header["seed"],
                         "publication_id": targets.publication_id, "inspectors": inspectors.origin},
                 versions={**policy.versions, "target_registry": targets.version,
                           "inspector_registry": inspectors.version})


def _plan_id(period: str, seed: int, capacity: int, targets: Targets, inspectors: Inspectors,
             policy: SamplingPolicy, prior: pd.DataFrame) -> str:
    prior_hash = hashlib.sha256(prior.sort_values("uscc").to_csv(index=False).encode()).hexdigest()[:12]
    text = json.dumps([period, seed, capacity, targets.publication_id, targets.version, inspectors.version,
                       policy.versions, prior_hash], sort_keys=True)
    return f"PLAN-{period}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _listed(col: pd.Series) -> pd.Series:
    """The ';'-joined values of a column, one per row (an empty plan's column has no string dtype)."""
    return col.astype("string").str.split(";").explode()


def _summary(plan_id: str, period: str, drawn: Draw, assigned: pd.DataFrame, targets: Targets,
             inspectors: Inspectors, policy: SamplingPolicy) -> dict[str, Any]:
    random_mask = assigned["kind"] == "random"
    tier_pop = targets.frame["tier"].value_counts()
    by_tier = {}
    for code, rule in policy.tiers.items():
        drawn_n = int((random_mask & (assigned["tier"] == code)).sum())
        pop = int(tier_pop.get(code, 0))
        by_tier[code] = {"entities": pop, "random": drawn_n,
                         "triggered": int((~random_mask & (assigned["tier"] == code)).sum()),
                         "drawn_share": round(drawn_n / pop, 4) if pop else 0.0,
                         "policy_ratio": rule.ratio, "proactive": rule.proactive,
                         "max_checks_per_year": rule.max_checks_per_year, "max_checks_source": rule.cap_source}
    by_town = {str(k): int(v) for k, v in assigned["town_code"].fillna("?").value_counts().sort_index().items()}
    item_counts = _listed(assigned["items"])
    item_counts = item_counts[item_counts != ""].value_counts()
    by_item = {it.code: {"zh": it.zh, "en": it.en, "inspections": int(item_counts.get(it.code, 0))}
               for it in policy.items}
    by_kind = {k: int(v) for k, v in assigned["kind"].value_counts().sort_index().items()}
    unmet = int((assigned["unmet_specialties"] != "").sum())
    load = _listed(assigned["inspectors"]).value_counts()
    return {
        "plan_id": plan_id, "period": period, "seed": drawn.seed, "capacity": drawn.capacity,
        "publication_id": targets.publication_id, "as_of": targets.as_of.isoformat(),
        "inspections": len(assigned), "random": int(random_mask.sum()), "triggered": int((~random_mask).sum()),
        "ratio_kept": drawn.ratio_kept, "by_tier": by_tier, "by_town": by_town, "by_item": by_item,
        "by_kind": by_kind, "floor": drawn.floor, "required": drawn.required, "notes": drawn.notes,
        "unmet_specialty_inspections": unmet,
        "workload": {"inspectors": int(len(inspectors.frame)), "used": int(len(load)),
                     "max": int(load.max()) if len(load) else 0, "min_used": int(load.min()) if len(load) else 0},
        "registries": {"targets": targets.version, "inspectors": inspectors.version,
                       "inspectors_origin": inspectors.origin},
        "rules_versions": policy.versions,
    }


def export(settings: Settings, summary: dict[str, Any], assigned: pd.DataFrame, *,
           policy: SamplingPolicy) -> dict[str, str]:
    """Write ``reports/plans/<plan_id>.csv`` (one row per inspection, zh labels), ``.json`` (summary + rows)
    and ``_summary.csv`` (random and triggered inspections by tier, town and item)."""
    folder = settings.reports_dir / "plans"
    folder.mkdir(parents=True, exist_ok=True)
    out = assigned.drop(columns=[c for c in ("result", "checked_on", "result_due", "published_on")
                                 if c in assigned.columns]).copy()
    out["kind_zh"] = out["kind"].map(lambda k: KIND_LABELS.get(k, (k, k))[0])
    zh = {it.code: it.zh for it in policy.items}
    out["items_zh"] = out["items"].map(lambda s: "；".join(zh.get(c, c) for c in s.split(";") if c))
    csv_path = folder / f"{summary['plan_id']}.csv"
    json_path = folder / f"{summary['plan_id']}.json"
    out.to_csv(csv_path, index=False, encoding="utf-8-sig")  # BOM so that Excel opens the Chinese labels
    payload = {"summary": summary, "inspections": out.astype(object).where(out.notna(), None).to_dict("records")}
    json_path.write_text(json.dumps(payload, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    summary_path = folder / f"{summary['plan_id']}_summary.csv"
    rows = [("tier", k, v["random"], v["triggered"]) for k, v in summary["by_tier"].items()]
    rows += [("town", k, int(((out["town_code"].fillna("?") == k) & (out["kind"] == "random")).sum()),
              int(((out["town_code"].fillna("?") == k) & (out["kind"] != "random")).sum()))
             for k in summary["by_town"]]
    item_hits = out.assign(item=out["items"].astype("string").str.split(";")).explode("item")
    rows += [("item", it.code, int(((item_hits["item"] == it.code) & (item_hits["kind"] == "random")).sum()),
              int(((item_hits["item"] == it.code) & (item_hits["kind"] != "random")).sum())) for it in policy.items]
    pd.DataFrame(rows, columns=["by", "key", "random", "triggered"]).to_csv(summary_path, index=False,
                                                                            encoding="utf-8-sig")
    return {"csv": str(csv_path), "json": str(json_path), "summary_csv": str(summary_path)}


def fetch_plan(settings: Settings, plan_id: str, *, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    """A stored plan: its header (with summary) and inspections (paged)."""
    with opdb.engine(settings).connect() as conn:
        header = store.get_plan(conn, plan_id)
        rows = store.list_inspections(conn, plan_id, limit=limit, offset=offset)
    return {"plan": header, "inspections": rows.astype(object).where(rows.notna(), None).to_dict("records")}
