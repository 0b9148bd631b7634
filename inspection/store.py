"""Inspection plans, inspections, assignments and results in the operational DB (migrations 0004, 0008)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.errors import NotFound

_META = sa.MetaData()
PLANS = sa.Table(
    "inspection_plans", _META,
    sa.Column("plan_id", sa.String), sa.Column("period", sa.String), sa.Column("seed", sa.BigInteger),
    sa.Column("capacity", sa.Integer), sa.Column("publication_id", sa.String), sa.Column("as_of", sa.Date),
    sa.Column("target_registry_version", sa.String), sa.Column("inspector_registry_version", sa.String),
    sa.Column("rules_versions", sa.Text), sa.Column("summary", sa.Text), sa.Column("inspection_count", sa.Integer),
    sa.Column("status", sa.String), sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("created_by", sa.String),
)
INSPECTIONS = sa.Table(
    "plan_inspections", _META,
    sa.Column("inspection_id", sa.String), sa.Column("plan_id", sa.String), sa.Column("seq", sa.Integer),
    sa.Column("uscc", sa.String), sa.Column("tier", sa.String), sa.Column("town_code", sa.String),
    sa.Column("entity_type", sa.String), sa.Column("kind", sa.String), sa.Column("items", sa.Text),
    sa.Column("trigger_refs", sa.Text), sa.Column("inspectors", sa.Text), sa.Column("unmet_specialties", sa.Text),
    sa.Column("result", sa.String), sa.Column("checked_on", sa.Date), sa.Column("result_due", sa.Date),
    sa.Column("published_on", sa.Date), sa.Column("result_recorded_at", sa.DateTime(timezone=True)),
    sa.Column("result_recorded_by", sa.String),
    sa.Column("inclusion_probability", sa.Float), sa.Column("drawn_by", sa.Text),  # migration 0008
)
ASSIGNMENTS = sa.Table(
    "inspection_assignments", _META, sa.Column("inspection_id", sa.String), sa.Column("inspector_id", sa.String),
)
INSPECTION_FIELDS = [c.name for c in INSPECTIONS.columns]
_CHUNK = 5000


def save_plan(conn: Connection, plan: dict[str, Any], inspections: pd.DataFrame) -> None:
    """Insert a plan, its inspections (with inspection_id and seq) and their assignments."""
    row = dict(plan)
    for key in ("rules_versions", "summary"):
        row[key] = json.dumps(row.get(key) or {}, ensure_ascii=False, sort_keys=True, default=str)
    conn.execute(sa.insert(PLANS).values(**{k: row[k] for k in (c.name for c in PLANS.columns)}))
    cols = [c for c in INSPECTION_FIELDS if c in inspections.columns]
    records = inspections[cols].astype(object).where(inspections[cols].notna(), None).to_dict("records")
    for start in range(0, len(records), _CHUNK):
        conn.execute(sa.insert(INSPECTIONS), [{**r, "plan_id": plan["plan_id"]} for r in records[start:start + _CHUNK]])
    pairs = [{"inspection_id": r["inspection_id"], "inspector_id": iid}
             for r in records for iid in str(r["inspectors"]).split(";") if iid]
    for start in range(0, len(pairs), _CHUNK):
        conn.execute(sa.insert(ASSIGNMENTS), pairs[start:start + _CHUNK])


def _plan_dict(row) -> dict[str, Any]:
    out = dict(row)
    for key in ("rules_versions", "summary"):
        out[key] = json.loads(out[key] or "{}")
    return out


def plan_for_period(conn: Connection, period: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(PLANS).where(PLANS.c.period == period)).mappings().first()
    return _plan_dict(row) if row else None


def get_plan(conn: Connection, plan_id: str) -> dict[str, Any]:
    """The stored plan header, or NotFound."""
    row = conn.execute(sa.select(PLANS).where(PLANS.c.plan_id == plan_id)).mappings().first()
    if row is None:
        raise NotFound(f"no inspection plan {plan_id!r}")
    return _plan_dict(row)


def list_inspections(conn: Connection, plan_id: str, *, limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """The plan's inspections in plan order."""
    q = sa.select(INSPECTIONS).where(INSPECTIONS.c.plan_id == plan_id).order_by(INSPECTIONS.c.seq).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    rows = conn.execute(q).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=INSPECTION_FIELDS)


def get_inspection(conn: Connection, inspection_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(INSPECTIONS).where(INSPECTIONS.c.inspection_id == inspection_id)).mappings().first()
    if row is None:
        raise NotFound(f"no inspection {inspection_id!r}")
    return dict(row)


def prior_checks(conn: Connection, year: int, *, exclude_period: str | None = None) -> pd.DataFrame:
    """Random checks per uscc in this year's stored plans: uscc, checks, items (';'-joined, sorted, distinct)."""
    q = (sa.select(INSPECTIONS.c.uscc, INSPECTIONS.c["items"])
         .join(PLANS, PLANS.c.plan_id == INSPECTIONS.c.plan_id)
         .where(PLANS.c.period.like(f"{year}%"), INSPECTIONS.c.kind == "random"))
    if exclude_period:
        q = q.where(PLANS.c.period != exclude_period)
    frame = pd.DataFrame(conn.execute(q).all(), columns=["uscc", "items"])
    if frame.empty:
        return pd.DataFrame(columns=["uscc", "checks", "items"])
    return frame.groupby("uscc", as_index=False).agg(
        checks=("items", "size"),
        items=("items", lambda s: ";".join(sorted({c for text in s for c in str(text).split(";") if c}))))


def previous_inspectors(conn: Connection, *, exclude_period: str | None = None) -> dict[str, set[str]]:
    """uscc -> inspector ids on that entity's most recent planned inspection (for recusal)."""
    q = (sa.select(INSPECTIONS.c.uscc, INSPECTIONS.c.inspectors, PLANS.c.created_at, INSPECTIONS.c.seq)
         .join(PLANS, PLANS.c.plan_id == INSPECTIONS.c.plan_id))
    if exclude_period:
        q = q.where(PLANS.c.period != exclude_period)
    frame = pd.DataFrame(conn.execute(q).all(), columns=["uscc", "inspectors", "created_at", "seq"])
    if frame.empty:
        return {}
    frame = frame.sort_values(["created_at", "seq"], kind="stable").drop_duplicates("uscc", keep="last")
    return {u: set(filter(None, str(s).split(";"))) for u, s in zip(frame["uscc"], frame["inspectors"], strict=True)}


def set_result(conn: Connection, inspection_id: str, *, result: str, checked_on: date, due: date,
               actor: str, at: datetime) -> None:
    conn.execute(sa.update(INSPECTIONS).where(INSPECTIONS.c.inspection_id == inspection_id).values(
        result=result, checked_on=checked_on, result_due=due, result_recorded_at=at, result_recorded_by=actor,
        published_on=None))


def set_published(conn: Connection, inspection_id: str, *, published_on: date) -> None:
    conn.execute(sa.update(INSPECTIONS).where(INSPECTIONS.c.inspection_id == inspection_id)
                 .values(published_on=published_on))


def unpublished_results(conn: Connection, *, due_before: date, plan_id: str | None = None) -> list[dict[str, Any]]:
    """Results recorded but not yet published whose due date is before ``due_before``."""
    q = (sa.select(INSPECTIONS.c.inspection_id, INSPECTIONS.c.plan_id, INSPECTIONS.c.uscc, INSPECTIONS.c.tier,
                   INSPECTIONS.c.town_code, INSPECTIONS.c.result, INSPECTIONS.c.checked_on, INSPECTIONS.c.result_due)
         .where(INSPECTIONS.c.result.is_not(None), INSPECTIONS.c.published_on.is_(None),
                INSPECTIONS.c.result_due < due_before)
         .order_by(INSPECTIONS.c.result_due, INSPECTIONS.c.inspection_id))
    if plan_id:
        q = q.where(INSPECTIONS.c.plan_id == plan_id)
    return [dict(r) for r in conn.execute(q).mappings()]
