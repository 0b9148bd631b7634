"""Read side of publications: the latest publication, one entity's current tier and history, the tier list."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import codelists
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
        "descriptive": {**{k: last[k] for k in ("entity_type", "industry_code", "town_code")},
                        "industry_zh": codelists.industry_zh(last["industry_code"]),
                        "town_zh": codelists.town_zh(last["town_code"])},
        "history": [{"publication_id": r["publication_id"], "as_of": r["as_of"], "tier": r["tier"],
                     "probability": r["probability"], "model_version": r["model_version"]} for r in rows],
        "overrides": [{k: o[k] for k in ("override_id", "tier", "expires_on", "created_at", "created_by",
                                         "revoked_at", "active")} for o in overrides],
    }


_COUNTS: dict[tuple[str, str], dict[tuple, int]] = {}  # (database, publication) -> {(tier, town, industry, type): n}
_COUNTS_LOCK = threading.Lock()
_GROUP = ("tier", "town_code", "industry_code", "entity_type")


def publication_counts(conn: Connection, publication_id: str) -> dict[tuple, int]:
    """Published rows of a publication counted by (tier, town, industry, entity type), computed once per process.

    A publication never changes once published, so the counts are kept; any filter's total is a sum of them.
    """
    key = (str(conn.engine.url), publication_id)
    hit = _COUNTS.get(key)
    if hit is None:
        s = PUBLISHED_SCORES
        cols = [s.c[c] for c in _GROUP]
        hit = {tuple(r[:4]): int(r[4]) for r in conn.execute(
            sa.select(*cols, sa.func.count()).where(s.c.publication_id == publication_id).group_by(*cols))}
        with _COUNTS_LOCK:
            if len(_COUNTS) >= 8:
                _COUNTS.clear()
            _COUNTS[key] = hit
    return hit


def active_overrides(conn: Connection, *, today: date) -> dict[str, tuple[int, str]]:
    """``{uscc: (override_id, tier)}`` of the overrides in force (the newest per entity); overrides are few."""
    o = OVERRIDES
    rows = conn.execute(sa.select(o.c.uscc, o.c.override_id, o.c.tier).where(active_clause(today))
                        .order_by(o.c.override_id))
    return {u: (int(i), t) for u, i, t in rows}


_ROW = ("uscc", "tier", "probability", "entity_type", "industry_code", "town_code")


def _rows_of(conn: Connection, publication_id: str, usccs: list[str]) -> dict[str, dict[str, Any]]:
    """Published rows of those credit codes, by primary key."""
    out: dict[str, dict[str, Any]] = {}
    if conn.dialect.name == "sqlite":  # without statistics SQLite would walk the covering order index instead
        q = sa.text(f"SELECT {', '.join(_ROW)} FROM published_scores INDEXED BY sqlite_autoindex_published_scores_1 "
                    "WHERE publication_id = :p AND uscc IN :u").bindparams(sa.bindparam("u", expanding=True))
    else:
        q = sa.text(f"SELECT {', '.join(_ROW)} FROM published_scores WHERE publication_id = :p AND uscc IN :u"
                    ).bindparams(sa.bindparam("u", expanding=True))
    for i in range(0, len(usccs), 500):
        out.update({r["uscc"]: dict(r) for r in conn.execute(q, {"p": publication_id, "u": usccs[i:i + 500]})
                    .mappings()})
    return out


def _key(row: dict[str, Any]) -> tuple[float, str]:
    return (-row["probability"], row["uscc"])


def _merge(rows: list[dict], first: int, extras: list[dict], offset: int, size: int, exhausted: bool) -> list[dict]:
    """The page ``[offset, offset + size)`` of published rows (``rows`` are positions ``first…`` of them) merged
    with ``extras`` (entities overridden into the filtered tier, few), by risk.

    ``first`` is at most ``offset - len(extras)``: an extra ranked above the fetched rows lies before the page,
    one ranked below a full window after it."""
    extras = sorted(extras, key=_key)
    placed = [(first + i + sum(1 for e in extras if _key(e) < _key(r)), r) for i, r in enumerate(rows)]
    for j, e in enumerate(extras):
        above = sum(1 for r in rows if _key(r) < _key(e))
        if (above == 0 and first > 0) or (above == len(rows) and not exhausted):
            continue
        placed.append((first + above + j, e))
    placed.sort(key=lambda p: p[0])
    return [r for pos, r in placed if offset <= pos < offset + size]


def check_filters(*, tier: str | None, entity_type: str | None) -> None:
    """UserError naming the filter when a tier or entity type is not one of the known codes."""
    if tier is not None and tier not in core_tiers.codes():
        raise UserError(f"tier: expected one of {', '.join(core_tiers.codes())}, got {tier!r}")
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        raise UserError(f"entity_type: expected one of {', '.join(ENTITY_TYPES)}, got {entity_type!r}")


def iter_tier_list(conn: Connection, pub: dict[str, Any], *, town_code: str | None = None,
                   industry_code: str | None = None, entity_type: str | None = None, tier: str | None = None,
                   usccs: list[str] | None = None, today: date | None = None, chunk: int = 5_000):
    """Every row of the filtered tier list of ``pub``, in order, as lists of up to ``chunk`` items.

    For exports of the whole list: one streamed query over the one publication (one snapshot of it), the
    active overrides read once at the start, so that the export is the list as it stood when it began.
    """
    check_filters(tier=tier, entity_type=entity_type)
    today = today or datetime.now(UTC).date()
    overrides = active_overrides(conn, today=today)
    pub_id = pub["publication_id"]
    wanted = {"town_code": town_code, "industry_code": industry_code, "entity_type": entity_type}

    def keep(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if tier is None or i["tier"] == tier]

    if usccs is not None:
        found = _rows_of(conn, pub_id, list(dict.fromkeys(usccs)))
        rows = sorted((r for r in found.values() if all(v is None or r[c] == v for c, v in wanted.items())), key=_key)
        items = keep([_item(r, overrides.get(r["uscc"])) for r in rows])
        for i in range(0, len(items), chunk):
            yield items[i:i + chunk]
        return
    s = PUBLISHED_SCORES
    where = [s.c.publication_id == pub_id] + [s.c[c] == v for c, v in wanted.items() if v is not None]
    if tier is not None:
        where.append(sa.or_(s.c.tier == tier, s.c.uscc.in_(list(overrides))) if overrides else s.c.tier == tier)
    q = sa.select(*(s.c[c] for c in _ROW)).where(*where).order_by(s.c.probability.desc(), s.c.uscc)
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(q)
    for part in result.mappings().partitions(chunk):
        items = keep([_item(dict(r), overrides.get(r["uscc"])) for r in part])
        if items:
            yield items


def tier_list(conn: Connection, *, town_code: str | None = None, industry_code: str | None = None,
              entity_type: str | None = None, tier: str | None = None, page: int = 1, page_size: int = 100,
              max_page_size: int = 1000, today: date | None = None,
              usccs: list[str] | None = None) -> dict[str, Any]:
    """A page of the latest publication's entities with their current tier, filtered, ordered by risk.

    ``usccs`` limits the list to those credit codes (e.g. the hits of a name search). The page walks the
    covering index of the publication's order (``ix_published_scores_order``); the total comes from the
    publication's kept counts; the (few) active overrides are read once and applied to the page and the total.
    """
    check_filters(tier=tier, entity_type=entity_type)
    if page < 1:
        raise UserError(f"page: expected 1 or more, got {page}")
    if not 1 <= page_size <= max_page_size:
        raise UserError(f"page_size: expected 1 to {max_page_size}, got {page_size}")
    today = today or datetime.now(UTC).date()
    pub = require_latest(conn)
    pub_id = pub["publication_id"]
    s = PUBLISHED_SCORES
    overrides = active_overrides(conn, today=today)
    ov_rows = _rows_of(conn, pub_id, list(overrides)) if overrides else {}
    wanted = {"town_code": town_code, "industry_code": industry_code, "entity_type": entity_type}

    def matches(row: dict[str, Any]) -> bool:
        return all(v is None or row[c] == v for c, v in wanted.items())

    offset = (page - 1) * page_size
    if usccs is not None:  # a search's hits (a few thousand at most): read by key, filtered and ordered here
        found = _rows_of(conn, pub_id, list(dict.fromkeys(usccs)))
        hits_rows = sorted((r for u, r in found.items() if matches(r) and (
            tier is None or (overrides[u][1] if u in overrides else r["tier"]) == tier)), key=_key)
        return _page(pub, len(hits_rows), page, page_size, hits_rows[offset:offset + page_size], overrides)
    where = [s.c.publication_id == pub_id] + [s.c[c] == v for c, v in wanted.items() if v is not None]
    extras: list[dict[str, Any]] = []
    if tier is not None:
        where.append(s.c.tier == tier)
        if ov_rows:  # overridden entities count by their override, added back below when it is this tier
            where.append(s.c.uscc.not_in(list(ov_rows)))
        extras = [r for u, r in ov_rows.items() if overrides[u][1] == tier and matches(r)]
    counts = publication_counts(conn, pub_id)
    total = sum(n for k, n in counts.items()
                if (tier is None or k[0] == tier) and all(v is None or k[1 + i] == v for i, v in
                                                          enumerate((town_code, industry_code, entity_type))))
    if tier is not None:
        total -= sum(1 for r in ov_rows.values() if r["tier"] == tier and matches(r))
        total += len(extras)
    first = max(0, offset - len(extras))
    window = offset + page_size - first
    rows: list[dict[str, Any]] = []
    if offset < total:
        q = (sa.select(*(s.c[c] for c in _ROW)).where(*where)
             .order_by(s.c.probability.desc(), s.c.uscc).limit(window).offset(first))
        rows = [dict(r) for r in conn.execute(q).mappings()]
    page_rows = _merge(rows, first, extras, offset, page_size, exhausted=len(rows) < window) if extras else \
        rows[offset - first:]
    return _page(pub, total, page, page_size, page_rows, overrides)


def _page(pub: dict[str, Any], total: int, page: int, page_size: int, rows: list[dict[str, Any]],
          overrides: dict[str, tuple[int, str]]) -> dict[str, Any]:
    return {
        "publication_id": pub["publication_id"], "as_of": pub["as_of"], "model_version": pub["model_version"],
        "total": int(total), "page": page, "page_size": page_size,
        "items": [_item(r, overrides.get(r["uscc"])) for r in rows],
    }


@cache
def _tier_zh() -> dict[str, str]:
    return {t.code: t.zh for t in core_tiers.tiers()}


def _item(r: dict[str, Any], override: tuple[int, str] | None) -> dict[str, Any]:
    current = override[1] if override else r["tier"]
    return {"uscc": r["uscc"], "tier": current, "tier_zh": _tier_zh()[current],
            "published_tier": r["tier"], "probability": r["probability"], "overridden": override is not None,
            "entity_type": r["entity_type"], "industry_code": r["industry_code"],
            "industry_zh": codelists.industry_zh(r["industry_code"]), "town_code": r["town_code"],
            "town_zh": codelists.town_zh(r["town_code"])}
