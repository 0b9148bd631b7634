"""Read side of publications: the latest publication, one entity's current tier and history, the tier list."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import tiers as core_tiers
from core import uscc as uscc_check
from core.errors import NotFound, UserError
from features.sources import ENTITY_TYPES
from serving.overrides import OVERRIDES, active_clause, overrides_of
from serving.publish import PUBLICATIONS, PUBLISHED_SCORES
from serving.reasons import override_reason

HISTORY_LIMIT = 24


def latest_publication(conn: Connection) -> dict[str, Any] | None:
    """The newest completed publication (by as_of, then creation time), or None before the first one."""
    row = conn.execute(sa.select(PUBLICATIONS).where(PUBLICATIONS.c.status == "published")
                       .order_by(PUBLICATIONS.c.as_of.desc(), PUBLICATIONS.c.created_at.desc())
                       .limit(1)).mappings().first()
    return dict(row) if row else None


def require_latest(conn: Connection) -> dict[str, Any]:
    pub = latest_publication(conn)
    if pub is None:
        raise NotFound("publication: nothing has been published yet (run `credit-risk score --as-of DATE`)")
    return pub


def _tier(code: str) -> dict[str, str]:
    t = core_tiers.label(code)
    return {"tier": t.code, "tier_zh": t.zh, "tier_en": t.en}


def entity_view(conn: Connection, uscc: str, *, today: date | None = None,
                history_limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    """An entity's current tier (override if active, else published), its reasons and its tier history.

    The current reasons start with the override when one is active (kind ``override``: it takes precedence
    over the model and the direct triggers), followed by the published reasons.
    """
    problem = uscc_check.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    today = today or datetime.now(UTC).date()
    s, p = PUBLISHED_SCORES, PUBLICATIONS
    rows = conn.execute(
        sa.select(s.c.probability, s.c.tier, s.c.reasons, s.c.entity_type, s.c.industry_code, s.c.town_code,
                  p.c.publication_id, p.c.as_of, p.c.model_version, p.c.snapshot_id)
        .select_from(s.join(p, p.c.publication_id == s.c.publication_id))
        .where(s.c.uscc == uscc, p.c.status == "published")
        .order_by(p.c.as_of.desc(), p.c.created_at.desc()).limit(history_limit)).mappings().all()
    if not rows:
        raise NotFound(f"uscc: {uscc} is in no publication")
    last = rows[0]
    latest = require_latest(conn)
    overrides = overrides_of(conn, uscc, today=today)
    active = next((o for o in overrides if o["active"]), None)
    published = {
        **_tier(last["tier"]), "probability": last["probability"], "reasons": json.loads(last["reasons"] or "[]"),
        "publication_id": last["publication_id"], "as_of": last["as_of"], "model_version": last["model_version"],
        "snapshot_id": last["snapshot_id"],
    }
    current_code = active["tier"] if active else last["tier"]
    return {
        "uscc": uscc,
        "current": {**_tier(current_code), "source": "override" if active else "publication",
                    "override_id": active["override_id"] if active else None,
                    "override_expires_on": active["expires_on"] if active else None,
                    "reasons": ([override_reason(active)] if active else []) + published["reasons"]},
        "published": published,
        "in_latest_publication": last["publication_id"] == latest["publication_id"],
        "descriptive": {k: last[k] for k in ("entity_type", "industry_code", "town_code")},
        "history": [{"publication_id": r["publication_id"], "as_of": r["as_of"], "tier": r["tier"],
                     "probability": r["probability"], "model_version": r["model_version"]} for r in rows],
        "overrides": [{k: o[k] for k in ("override_id", "tier", "expires_on", "created_at", "created_by",
                                         "revoked_at", "active")} for o in overrides],
    }


def tier_list(conn: Connection, *, town_code: str | None = None, industry_code: str | None = None,
              entity_type: str | None = None, tier: str | None = None, page: int = 1, page_size: int = 100,
              max_page_size: int = 1000, today: date | None = None,
              usccs: list[str] | None = None) -> dict[str, Any]:
    """A page of the latest publication's entities with their current tier, filtered, ordered by risk.

    ``usccs`` limits the list to those credit codes (e.g. the hits of a name search).
    """
    if tier is not None and tier not in core_tiers.codes():
        raise UserError(f"tier: expected one of {', '.join(core_tiers.codes())}, got {tier!r}")
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        raise UserError(f"entity_type: expected one of {', '.join(ENTITY_TYPES)}, got {entity_type!r}")
    if page < 1:
        raise UserError(f"page: expected 1 or more, got {page}")
    if not 1 <= page_size <= max_page_size:
        raise UserError(f"page_size: expected 1 to {max_page_size}, got {page_size}")
    today = today or datetime.now(UTC).date()
    pub = require_latest(conn)
    s = PUBLISHED_SCORES
    o = sa.select(OVERRIDES.c.uscc, sa.func.max(OVERRIDES.c.override_id).label("override_id")).where(
        active_clause(today)).group_by(OVERRIDES.c.uscc).subquery("active_ids")
    ov = OVERRIDES.alias("ov")
    current = sa.func.coalesce(ov.c.tier, s.c.tier)
    base = (s.outerjoin(o, o.c.uscc == s.c.uscc).outerjoin(ov, ov.c.override_id == o.c.override_id))
    where = [s.c.publication_id == pub["publication_id"]]
    for col, value in (("town_code", town_code), ("industry_code", industry_code), ("entity_type", entity_type)):
        if value is not None:
            where.append(s.c[col] == value)
    if tier is not None:
        where.append(current == tier)
    if usccs is not None:
        where.append(s.c.uscc.in_(usccs))
    total = conn.execute(sa.select(sa.func.count()).select_from(base).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(s.c.uscc, s.c.tier.label("published_tier"), current.label("tier"), s.c.probability,
                  ov.c.override_id, s.c.entity_type, s.c.industry_code, s.c.town_code)
        .select_from(base).where(*where)
        .order_by(s.c.probability.desc(), s.c.uscc).limit(page_size).offset((page - 1) * page_size)
    ).mappings().all()
    return {
        "publication_id": pub["publication_id"], "as_of": pub["as_of"], "model_version": pub["model_version"],
        "total": int(total), "page": page, "page_size": page_size,
        "items": [{"uscc": r["uscc"], "tier": r["tier"], "tier_zh": core_tiers.label(r["tier"]).zh,
                   "published_tier": r["published_tier"], "probability": r["probability"],
                   "overridden": r["override_id"] is not None, "entity_type": r["entity_type"],
                   "industry_code": r["industry_code"], "town_code": r["town_code"]} for r in rows],
    }
