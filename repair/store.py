"""Storage of repair cases and objections (operational DB) and of their effect on the warehouse `repairs` table."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.errors import NotFound, UserError
from core.settings import Settings

CASES = sa.table(
    "repair_cases",
    *(sa.column(n) for n in (
        "case_id", "case_type", "kind", "uscc", "record_kind", "record_id", "state", "version", "open_key",
        "opened_on", "state_since", "next_step", "due_on", "milestones", "documents", "eligibility", "details",
        "rules_version", "created_at", "created_by", "updated_at", "updated_by",
    )),
)
EVENTS = sa.table(
    "repair_case_events",
    *(sa.column(n) for n in ("event_id", "case_id", "seq", "action", "from_state", "to_state", "on_date", "at",
                             "actor", "reason")),
)
_JSON = ("milestones", "documents", "eligibility", "details")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for name in _JSON:
        out[name] = json.loads(out[name]) if out.get(name) else {}
    for name in ("opened_on", "state_since", "due_on"):
        if isinstance(out.get(name), str):
            out[name] = date.fromisoformat(out[name])
    return out


def get_case(conn: Connection, case_id: str) -> dict[str, Any]:
    """One case row (JSON columns decoded); NotFound when there is none."""
    row = conn.execute(sa.select(CASES).where(CASES.c.case_id == case_id)).mappings().first()
    if row is None:
        raise NotFound(f"case_id: no repair case or objection {case_id!r}")
    return _decode(row)


def cases_of(conn: Connection, uscc: str) -> list[dict[str, Any]]:
    """Every case of an entity, newest first."""
    q = sa.select(CASES).where(CASES.c.uscc == uscc).order_by(CASES.c.created_at.desc(), CASES.c.case_id)
    return [_decode(r) for r in conn.execute(q).mappings()]


def events_of(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The case's events in order."""
    q = sa.select(EVENTS).where(EVENTS.c.case_id == case_id).order_by(EVENTS.c.seq)
    return [dict(r) for r in conn.execute(q).mappings()]


def open_cases_due_by(conn: Connection, day: date) -> list[dict[str, Any]]:
    """Cases whose next step is due on or before ``day``, earliest first."""
    q = (sa.select(CASES).where(CASES.c.due_on.is_not(None), CASES.c.due_on <= day)
         .order_by(CASES.c.due_on, CASES.c.case_id))
    return [_decode(r) for r in conn.execute(q).mappings()]


def insert_case(conn: Connection, row: dict[str, Any]) -> None:
    """Insert a new case (JSON columns given as Python values)."""
    values = {k: (dumps(v) if k in _JSON else v) for k, v in row.items()}
    conn.execute(sa.insert(CASES).values(**values))


def update_case(conn: Connection, case_id: str, *, expected_version: int, expected_state: str,
                values: dict[str, Any]) -> int:
    """Compare-and-set update: applies only when version and state are still the ones read; returns rows changed."""
    values = {k: (dumps(v) if k in _JSON else v) for k, v in values.items()}
    result = conn.execute(
        sa.update(CASES)
        .where(CASES.c.case_id == case_id, CASES.c.version == expected_version, CASES.c.state == expected_state)
        .values(version=CASES.c.version + 1, **values)
    )
    return result.rowcount


def add_event(conn: Connection, **values: Any) -> None:
    conn.execute(sa.insert(EVENTS).values(**values))


# ---------------------------------------------------------------- warehouse effect


def write_repair(settings: Settings, *, record_kind: str, record_id: str, uscc: str, case_id: str,
                 repaired_date: date | None = None, revoked_date: date | None = None) -> None:
    """Record in the warehouse that a record is repaired from ``repaired_date`` (or that the repair was revoked).

    Idempotent per case: the case's row is replaced. Features stop counting the record from
    ``repaired_date`` unless ``revoked_date`` is set.
    """
    from features.warehouse import connect, first_row

    try:
        con = connect(settings)
    except Exception as exc:  # duckdb.IOException when another process holds the file
        raise UserError(f"warehouse: expected to open {settings.warehouse_path} for writing, got {exc}") from exc
    try:
        con.execute("BEGIN")
        old = first_row(con, "SELECT repaired_date FROM repairs WHERE case_id = ?", [case_id])
        repaired = repaired_date or (old[0] if old else None)
        if repaired is None:
            raise UserError(f"case_id: {case_id} has no repair in the warehouse to revoke")
        con.execute("DELETE FROM repairs WHERE case_id = ?", [case_id])
        con.execute("INSERT INTO repairs (record_kind, record_id, uscc, repaired_date, known_date, case_id, "
                    "revoked_date) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [record_kind, record_id, uscc, repaired, repaired, case_id, revoked_date])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def warehouse_repairs(settings: Settings, *, uscc: str | None = None) -> list[dict[str, Any]]:
    """Rows of the warehouse `repairs` table (optionally of one entity)."""
    from features.warehouse import connect

    con = connect(settings)
    try:
        sql = "SELECT * FROM repairs" + (" WHERE uscc = ?" if uscc else "") + " ORDER BY case_id"
        cur = con.execute(sql, [uscc] if uscc else [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
