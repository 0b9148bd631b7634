"""Manual tier overrides: an authorised user imposes a tier with a reason and an expiry; audited.

The current tier of an entity is its active override (not revoked, not expired), else its published tier.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import audit, rules
from core import tiers as core_tiers
from core import uscc as uscc_check
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from serving.publish import PUBLISHED_SCORES

OVERRIDES = sa.table(
    "tier_overrides",
    sa.column("override_id", sa.Integer), sa.column("uscc"), sa.column("tier"), sa.column("reason"),
    sa.column("created_by"), sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_on", sa.Date), sa.column("revoked_at", sa.DateTime(timezone=True)),
)


def _today() -> date:
    return datetime.now(UTC).date()


def active_clause(today: date):
    """SQL condition for an override that applies on ``today``."""
    return sa.and_(OVERRIDES.c.revoked_at.is_(None), OVERRIDES.c.expires_on >= today)


def set_override(settings: Settings, *, uscc: str, tier: str, reason: str, expires_on: date, actor: str,
                 role: str | None = None, today: date | None = None) -> dict[str, Any]:
    """Impose ``tier`` on ``uscc`` until ``expires_on`` (inclusive); replaces an active override of the entity."""
    today = today or _today()
    cfg = rules.load("overrides")["limits"]
    problem = uscc_check.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    if tier not in core_tiers.codes():
        raise UserError(f"tier: expected one of {', '.join(core_tiers.codes())}, got {tier!r}")
    reason = (reason or "").strip()
    if len(reason) < int(cfg["min_reason_chars"]):
        raise UserError(f"reason: expected at least {cfg['min_reason_chars']} characters, got {len(reason)}")
    latest = today + timedelta(days=int(cfg["max_days"]))
    if not today <= expires_on <= latest:
        raise UserError(f"expires_on: expected a date from {today} to {latest} "
                        f"(rules {rules.version('overrides')}), got {expires_on}")
    now = datetime.now(UTC)
    with engine(settings).begin() as conn:
        known = conn.execute(sa.select(PUBLISHED_SCORES.c.uscc).where(PUBLISHED_SCORES.c.uscc == uscc).limit(1))
        if known.first() is None:
            raise NotFound(f"uscc: {uscc} is in no publication; only published entities can be overridden")
        replaced = [r.override_id for r in conn.execute(sa.select(OVERRIDES.c.override_id).where(
            OVERRIDES.c.uscc == uscc, active_clause(today)))]
        if replaced:
            conn.execute(sa.update(OVERRIDES).where(OVERRIDES.c.override_id.in_(replaced)).values(revoked_at=now))
        override_id = conn.execute(sa.insert(OVERRIDES).values(
            uscc=uscc, tier=tier, reason=reason, created_by=actor, created_at=now, expires_on=expires_on,
        ).returning(OVERRIDES.c.override_id)).scalar_one()
        audit.record(conn, actor=actor, role=role, action="override.set", subject=uscc, outcome="set",
                     inputs={"override_id": override_id, "tier": tier, "expires_on": expires_on,
                             "replaced": replaced, "reason_chars": len(reason)},
                     versions={"rules": {"overrides": rules.version("overrides"), "tiers": rules.version("tiers")}})
    return {"override_id": override_id, "uscc": uscc, "tier": tier, "expires_on": expires_on,
            "replaced": replaced, "created_by": actor}


def revoke_override(settings: Settings, *, override_id: int, actor: str, role: str | None = None) -> dict[str, Any]:
    """End an override before its expiry."""
    now = datetime.now(UTC)
    with engine(settings).begin() as conn:
        row = conn.execute(sa.select(OVERRIDES).where(OVERRIDES.c.override_id == override_id)).mappings().first()
        if row is None:
            raise NotFound(f"override_id: no override {override_id}")
        if row["revoked_at"] is not None:
            raise Conflict(f"override_id: override {override_id} was already revoked at {row['revoked_at']}")
        conn.execute(sa.update(OVERRIDES).where(OVERRIDES.c.override_id == override_id).values(revoked_at=now))
        audit.record(conn, actor=actor, role=role, action="override.revoke", subject=row["uscc"],
                     outcome="revoked", inputs={"override_id": override_id})
    return {"override_id": override_id, "uscc": row["uscc"], "revoked_at": now}


def overrides_of(conn: Connection, uscc: str, *, today: date | None = None) -> list[dict[str, Any]]:
    """Every override of an entity, newest first, each with ``active``."""
    today = today or _today()
    rows = conn.execute(sa.select(OVERRIDES).where(OVERRIDES.c.uscc == uscc)
                        .order_by(OVERRIDES.c.override_id.desc())).mappings()
    return [dict(r) | {"active": r["revoked_at"] is None and r["expires_on"] >= today} for r in rows]


def list_overrides(settings: Settings, *, active_only: bool = True, today: date | None = None) -> list[dict]:
    """Overrides (active ones by default), newest first."""
    today = today or _today()
    q = sa.select(OVERRIDES).order_by(OVERRIDES.c.override_id.desc())
    if active_only:
        q = q.where(active_clause(today))
    with engine(settings).connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
