"""Read queries only the console needs: tiers by town and industry, open cases, plans, and warehouse facts.

The warehouse is read through ``features.warehouse.reader``, the service's one entry point: the read-only copy
the batch jobs publish (the console never opens the warehouse the batch jobs write), through a connection kept
open per copy (a cursor per call). Entity names are read for the rows shown, never held for every entity.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import tiers as core_tiers
from core.settings import Settings
from inspection.store import PLANS
from repair.store import CASES
from serving.publish import PUBLISHED_SCORES

_BY_PUBLICATION: dict[tuple, Any] = {}  # a publication never changes once published: its aggregates are kept


def per_publication(conn: Connection, publication_id: str, what: str, compute):
    """``compute()`` once per publication and ``what`` (publications are immutable once published)."""
    key = (str(conn.engine.url), publication_id, what)
    if key not in _BY_PUBLICATION:
        if len(_BY_PUBLICATION) > 256:
            _BY_PUBLICATION.clear()
        _BY_PUBLICATION[key] = compute()
    return _BY_PUBLICATION[key]


def tiers_by(conn: Connection, publication_id: str, column: str, *, limit: int = 12) -> list[tuple[str, dict[str, int]]]:
    """Published tier counts per town or industry (the largest groups first)."""
    return per_publication(conn, publication_id, f"by:{column}:{limit}",
                            lambda: _tiers_by(conn, publication_id, column, limit))


def _tiers_by(conn: Connection, publication_id: str, column: str, limit: int) -> list[tuple[str, dict[str, int]]]:
    s = PUBLISHED_SCORES
    col = s.c[column]
    rows = conn.execute(sa.select(col, s.c.tier, sa.func.count()).where(s.c.publication_id == publication_id)
                        .group_by(col, s.c.tier)).all()
    groups: dict[str, dict[str, int]] = {}
    for key, tier, n in rows:
        groups.setdefault(key or "未知", dict.fromkeys(core_tiers.codes(), 0))[tier] = int(n)
    ordered = sorted(groups.items(), key=lambda kv: -sum(kv[1].values()))
    return ordered[:limit]


def tier_shares(conn: Connection, publication_id: str) -> dict[str, int]:
    """Published tier counts of a publication (every tier, zero when absent)."""
    s = PUBLISHED_SCORES

    def compute() -> dict[str, int]:
        rows = conn.execute(sa.select(s.c.tier, sa.func.count()).where(s.c.publication_id == publication_id)
                            .group_by(s.c.tier)).all()
        return dict.fromkeys(core_tiers.codes(), 0) | {t: int(n) for t, n in rows}

    return per_publication(conn, publication_id, "shares", compute)


def distinct_values(conn: Connection, publication_id: str, column: str) -> list[str]:
    """The towns or industries of a publication, for the filters."""
    s = PUBLISHED_SCORES
    q = sa.select(s.c[column]).where(s.c.publication_id == publication_id).distinct().order_by(s.c[column])
    return per_publication(conn, publication_id, f"distinct:{column}", lambda: [v for (v,) in conn.execute(q) if v])


def published_tiers(conn: Connection, publication_id: str, usccs: Iterable[str]) -> dict[str, str]:
    """Tier of each of ``usccs`` in a publication (those it holds)."""
    codes = list(usccs)
    if not codes:
        return {}
    s = PUBLISHED_SCORES
    return dict(conn.execute(sa.select(s.c.uscc, s.c.tier).where(s.c.publication_id == publication_id,
                                                                  s.c.uscc.in_(codes))).all())


def open_cases(conn: Connection, *, limit: int = 500) -> list[dict[str, Any]]:
    """Open repair cases and objections, the earliest due first."""
    c = CASES
    q = (sa.select(c.c.case_id, c.c.case_type, c.c.kind, c.c.uscc, c.c.record_id, c.c.state, c.c.next_step,
                   c.c.due_on, c.c.opened_on).where(c.c.open_key.is_not(None))
         .order_by(c.c.due_on.is_(None), c.c.due_on, c.c.case_id).limit(limit))
    return [_dated(r) for r in conn.execute(q).mappings()]


def _dated(row) -> dict[str, Any]:
    """A case row with its dates as dates (SQLite hands the untyped columns back as text)."""
    out = dict(row)
    for name in ("opened_on", "state_since", "due_on"):
        if isinstance(out.get(name), str):
            out[name] = date.fromisoformat(out[name])
    return out


def closed_cases(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    c = CASES
    q = (sa.select(c.c.case_id, c.c.case_type, c.c.kind, c.c.uscc, c.c.record_id, c.c.state, c.c.state_since)
         .where(c.c.open_key.is_(None)).order_by(c.c.state_since.desc(), c.c.case_id).limit(limit))
    return [_dated(r) for r in conn.execute(q).mappings()]


def plans(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    p = PLANS
    q = (sa.select(p.c.plan_id, p.c.period, p.c.seed, p.c.capacity, p.c.publication_id, p.c.inspection_count,
                   p.c.created_at).order_by(p.c.created_at.desc()).limit(limit))
    return [dict(r) for r in conn.execute(q).mappings()]


def warehouse(settings: Settings):
    """A read-only connection to the published warehouse copy (None before the first one); the caller closes it."""
    from core.errors import Busy
    from features.warehouse import reader

    try:
        return reader(settings)
    except Busy:
        return None


def names(settings: Settings, usccs: Iterable[str]) -> dict[str, str]:
    """Registered names of those credit codes, read from the warehouse copy (nothing kept per entity in memory)."""
    codes = list(dict.fromkeys(usccs))
    if not codes:
        return {}
    con = warehouse(settings)
    if con is None:
        return {}
    try:
        out: dict[str, str] = {}
        for i in range(0, len(codes), 10_000):
            out.update(con.execute("SELECT uscc, name FROM entities WHERE uscc IN (SELECT unnest(?))",
                                   [codes[i:i + 10_000]]).fetchall())
        return out
    finally:
        con.close()


def search(settings: Settings, text: str, *, limit: int = 5000) -> list[str]:
    """Credit codes whose code starts with, or whose name contains, ``text`` (one scan of the warehouse copy)."""
    text = text.strip().upper() if text.strip().isascii() else text.strip()
    if not text:
        return []
    con = warehouse(settings)
    if con is None:
        return []
    try:
        return [u for (u,) in con.execute(
            "SELECT uscc FROM entities WHERE starts_with(uscc, ?) OR contains(name, ?) ORDER BY uscc LIMIT ?",
            [text, text, limit]).fetchall()]
    finally:
        con.close()


def entity_facts(con, uscc: str) -> dict[str, Any]:
    """From the warehouse: registration facts, current affiliates (shared person or enterprise link), inspections."""
    if con is None:
        return {"entity": None, "affiliates": [], "inspections": []}
    row = con.execute("SELECT name, entity_type, industry_code, town_code, established, status, address "
                      "FROM entities WHERE uscc = ?", [uscc]).fetchone()
    entity = dict(zip(("name", "entity_type", "industry_code", "town_code", "established", "status", "address"),
                      row, strict=True)) if row else None
    affiliates = con.execute(  # one pass over relations: a shared person, or an enterprise link either way
        "WITH mine AS (SELECT person_key, related_uscc FROM relations WHERE uscc = ? AND end_date IS NULL), "
        "linked AS (SELECT DISTINCT r.uscc, r.relation_type FROM relations r WHERE r.end_date IS NULL AND r.uscc <> ? "
        "AND (r.person_key IN (SELECT person_key FROM mine WHERE person_key IS NOT NULL) OR r.related_uscc = ? "
        "OR r.uscc IN (SELECT related_uscc FROM mine WHERE related_uscc IS NOT NULL)) ORDER BY 1 LIMIT 60) "
        "SELECT l.uscc, l.relation_type, e.name FROM linked l LEFT JOIN entities e ON e.uscc = l.uscc ORDER BY 1",
        [uscc, uscc, uscc]).fetchall()
    inspections = con.execute("SELECT inspection_date, kind, items, result FROM inspections WHERE uscc = ? "
                              "ORDER BY inspection_date DESC LIMIT 20", [uscc]).fetchall()
    return {"entity": entity,
            "affiliates": [{"uscc": u, "name": n or "", "relations": sorted({t for v, t, _ in affiliates if v == u})}
                           for u, n in dict((u, n) for u, _, n in affiliates).items()],
            "inspections": [dict(zip(("date", "kind", "items", "result"), r, strict=True)) for r in inspections]}
