"""Storage of repair cases, objections, their events and notices, and the outbound sharing records (operational
DB); the warehouse `repairs` and `record_corrections` tables that the sync step writes from them."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.errors import NotFound, UserError
from core.settings import Settings
from features import fingerprints

CASES = sa.table(
    "repair_cases",
    *(sa.column(n) for n in (
        "case_id", "case_type", "procedure", "kind", "uscc", "record_kind", "record_id", "state", "version", "open_key",
        "opened_on", "state_since", "next_step", "due_on", "milestones", "documents", "eligibility", "details",
        "rules_version", "created_at", "created_by", "updated_at", "updated_by",
    )),
)
EVENTS = sa.table(
    "repair_case_events",
    *(sa.column(n) for n in ("event_id", "case_id", "seq", "action", "from_state", "to_state", "on_date", "at",
                             "actor", "reason")),
)
NOTICES = sa.table(
    "repair_notices",
    *(sa.column(n) for n in ("notice_id", "case_id", "seq", "kind", "issued_on", "title", "payload", "text", "html",
                             "created_at", "created_by")),
)
OUTBOX = sa.table(
    "credit_share_outbox",
    *(sa.column(n) for n in ("share_id", "schema_version", "message", "case_id", "uscc", "record_kind", "record_id",
                             "effective_on", "corrections", "authority", "created_at", "created_by", "exported_at",
                             "export_file")),
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


def as_date(value: Any) -> date:
    """A date column's value as a date (SQLite hands back ISO text, PostgreSQL a date)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


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


def add_notice(conn: Connection, **values: Any) -> None:
    conn.execute(sa.insert(NOTICES).values(**values))


def notices_of(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The case's notices as stored (payload JSON decoded), in the order issued."""
    q = sa.select(NOTICES).where(NOTICES.c.case_id == case_id).order_by(NOTICES.c.seq)
    return [{**dict(r), "payload": json.loads(r["payload"])} for r in conn.execute(q).mappings()]


def get_notice(conn: Connection, notice_id: str) -> dict[str, Any]:
    """One stored notice; NotFound when there is none."""
    row = conn.execute(sa.select(NOTICES).where(NOTICES.c.notice_id == notice_id)).mappings().first()
    if row is None:
        raise NotFound(f"notice_id: no notice {notice_id!r}")
    return {**dict(row), "payload": json.loads(row["payload"])}


def add_share(conn: Connection, **values: Any) -> None:
    conn.execute(sa.insert(OUTBOX).values(**values))


def effective_repair_case(conn: Connection, record_kind: str, record_id: str) -> str | None:
    """The case whose completed repair of the record stands (decided in the op DB, maybe not yet synced)."""
    q = sa.select(CASES.c.case_id).where(CASES.c.case_type == "repair", CASES.c.state == "completed",
                                         CASES.c.record_kind == record_kind, CASES.c.record_id == record_id)
    return conn.execute(q).scalar()


def cases_with_events(conn: Connection, actions: set[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every case that had one of ``actions``, with those events in order (for the warehouse sync)."""
    events: dict[str, list[dict[str, Any]]] = {}
    q = sa.select(EVENTS).where(EVENTS.c.action.in_(sorted(actions))).order_by(EVENTS.c.case_id, EVENTS.c.seq)
    for e in conn.execute(q).mappings():
        events.setdefault(e["case_id"], []).append(dict(e))
    ids, out = sorted(events), []
    for i in range(0, len(ids), 500):
        chunk = conn.execute(sa.select(CASES).where(CASES.c.case_id.in_(ids[i:i + 500]))).mappings()
        out += [(_decode(r), events[r["case_id"]]) for r in chunk]
    return sorted(out, key=lambda item: item[0]["case_id"])


# ---------------------------------------------------------------- warehouse (written by the sync step only)

REPAIR_COLUMNS = ("record_kind", "record_id", "uscc", "repaired_date", "known_date", "case_id", "revoked_date")
CORRECTION_COLUMNS = ("record_kind", "record_id", "uscc", "outcome", "field", "value", "effective_date",
                      "known_date", "case_id")


def replace_warehouse_rows(settings: Settings, *, repairs: list[tuple], corrections: list[tuple]) -> None:
    """Rewrite the warehouse `repairs` and `record_corrections` rows of the cases given, in one transaction.

    Rows of the same cases are replaced (idempotent); rows of other cases are left alone.
    """
    from features.warehouse import batch, connect

    with batch(settings, purpose="sync repair and objection decisions", feeds=False):
        _replace_rows(connect(settings), repairs, corrections)


def _replace_rows(con, repairs: list[tuple], corrections: list[tuple]) -> None:
    case_ids = sorted({r[5] for r in repairs} | {c[8] for c in corrections})
    try:
        con.execute("BEGIN")
        if case_ids:  # the rows of these cases are replaced: before, the old ones; after, those written
            marks = ", ".join("?" for _ in case_ids)
            with fingerprints.changing(con, "repairs", f"t.case_id IN ({marks})", case_ids):
                con.execute(f"DELETE FROM repairs WHERE case_id IN ({marks})", case_ids)
                if repairs:
                    con.executemany(f"INSERT INTO repairs ({', '.join(REPAIR_COLUMNS)}) VALUES "
                                    f"({', '.join('?' for _ in REPAIR_COLUMNS)})", repairs)
            with fingerprints.changing(con, "record_corrections", f"t.case_id IN ({marks})", case_ids):
                con.execute(f"DELETE FROM record_corrections WHERE case_id IN ({marks})", case_ids)
                if corrections:
                    con.executemany(f"INSERT INTO record_corrections ({', '.join(CORRECTION_COLUMNS)}) VALUES "
                                    f"({', '.join('?' for _ in CORRECTION_COLUMNS)})", corrections)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def write_repair(settings: Settings, *, record_kind: str, record_id: str, uscc: str, case_id: str,
                 repaired_date: date, revoked_date: date | None = None) -> None:
    """Write one case's warehouse `repairs` row (what the sync step writes for a completed repair)."""
    replace_warehouse_rows(settings, repairs=[(record_kind, record_id, uscc, repaired_date, repaired_date, case_id,
                                               revoked_date)], corrections=[])


def warehouse_rows(settings: Settings, table: str, *, uscc: str | None = None) -> list[dict[str, Any]]:
    """Rows of the warehouse `repairs` or `record_corrections` table (optionally of one entity)."""
    from features.warehouse import connect

    if table not in ("repairs", "record_corrections"):
        raise UserError(f"table: expected repairs or record_corrections, got {table!r}")
    con = connect(settings)
    try:
        sql = f"SELECT * FROM {table}" + (" WHERE uscc = ?" if uscc else "") + " ORDER BY case_id"
        cur = con.execute(sql, [uscc] if uscc else [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def warehouse_repairs(settings: Settings, *, uscc: str | None = None) -> list[dict[str, Any]]:
    """Rows of the warehouse `repairs` table (optionally of one entity)."""
    return warehouse_rows(settings, "repairs", uscc=uscc)
