"""Objections (异议) to any credit record the bureau holds about an enterprise: penalty publicity, list
entries, inspection results, complaints and opinion items (the data behind a tier).

An objection follows the ``objection`` procedure of core/rules/repair.toml: filed (or 待补正), accepted
or not, verified within the deadline, then upheld — the record is voided or corrected, not "repaired" —
or dismissed with the reason the record is kept.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from core import uscc as uscc_codes
from core.errors import Conflict, NotFound, UserError
from core.settings import Settings
from features.sources import SOURCES
from repair import procedures, rules, workflow
from repair.status import CaseView

# record kind -> warehouse source table
TABLES = {"penalty": "penalties", "abnormal_list": "abnormal_list", "serious_list": "serious_list",
          "inspection": "inspections", "complaint": "complaints", "opinion": "opinions"}
# record kind -> the fields an upheld objection may correct: those the features apply corrections to
# (features/sql/penalties_held.sql, repair/eligibility.py); other records can only be voided
CORRECTABLE = {"penalty": ("domain", "procedure", "severity", "sanctions", "fine_amount", "publicity_end")}


def record_kinds() -> list[str]:
    """The record kinds an enterprise may object to (core/rules/repair.toml [objection] record_kinds)."""
    kinds = list(rules.section("objection")["record_kinds"])
    unknown = sorted(set(kinds) - set(TABLES))
    if unknown:
        raise UserError(f"core/rules/repair.toml [objection] record_kinds: no warehouse table for {unknown}")
    return kinds


def file(settings: Settings, *, uscc: str, record_id: str, actor: str, record_kind: str = "abnormal_list",
         grounds: str | None = None, documents: dict[str, str] | None = None, on: date | None = None,
         role: str | None = None) -> CaseView:
    """File an objection to one record of the entity.

    Args:
        uscc: the entity; record_kind/record_id: the record objected to (e.g. ``penalty`` and its decision
            number); grounds: a short statement (kept with the case, not in the audit log).
        documents: document type -> reference (``objection`` 异议申请书, ``evidence``); missing ones open the
            objection in 待补正 with a one-time notice.
        on: the filing date (default today); some kinds must be filed within a window from the record's date.

    Returns:
        The objection (state ``filed`` or ``awaiting_cure``, next step with its due day).
    """
    on = workflow.check_day(on, earliest=None)
    if record_kind not in record_kinds():
        raise UserError(f"record_kind: expected one of {', '.join(record_kinds())}, got {record_kind!r}")
    record = _record(settings, uscc, record_kind, record_id)
    event = record["event_date"]
    if event is not None and event > on:
        raise UserError(f"on: expected a filing date on or after the record's date ({event}), got {on}")
    if record["voided"]:
        raise Conflict(f"record_id: {record_kind} {record_id} was already voided or corrected by objection "
                       f"{record['voided']}")
    removed = record.get("removed_date")
    if removed is not None and removed <= on:
        raise Conflict(f"record_id: {record_kind} {record_id} was already removed on {removed}")
    window = rules.section("objection")["file_within_days"].get(record_kind)
    last = event + timedelta(days=int(window)) if window is not None and event is not None else None
    if last is not None and on > last:
        raise UserError(f"on: objections to {record_kind} {record_id} (dated {event}) must be filed by {last}, "
                        f"got {on}")
    proc = procedures.for_record("objection")
    # a written statement of the grounds stands for the objection statement when no documents are listed
    docs = workflow.given_documents(documents) or ({"objection": "grounds"} if (grounds or "").strip() else {})
    missing = [d for d in proc.documents if d not in docs]
    details = {"grounds": (grounds or "").strip()[:2000], "record_date": event, "file_by": last}
    return workflow.open_case(settings, procedure=proc, prefix="OB", uscc=uscc, kind="objection",
                              record_kind=record_kind, record_id=record_id, actor=actor, role=role, on=on,
                              documents=docs, eligibility={}, details=details,
                              then=("request_cure", None, None) if missing else None)


def check_corrections(record_kind: str, corrections: dict[str, str] | None) -> None:
    """A correction gives new values, valid for their column, to fields the features apply corrections to."""
    if not corrections:
        raise UserError("corrections: expected field=value pairs to correct the record, got none")
    allowed = CORRECTABLE.get(record_kind, ())
    if not allowed:
        raise UserError(f"corrections: a {record_kind} record can only be voided (action void), not corrected")
    unknown = sorted(set(corrections) - set(allowed))
    if unknown:
        raise UserError(f"corrections: {TABLES[record_kind]} has no correctable fields {unknown}; expected some of "
                        f"{', '.join(allowed)}")
    columns = {c.name: c for c in SOURCES[TABLES[record_kind]].columns}
    for name, value in corrections.items():
        problem = _bad_value(columns[name], str(value))
        if problem:
            raise UserError(f"corrections: {name}: {problem}")


def _bad_value(column, value: str) -> str | None:
    if column.kind == "enum" and value not in column.values:
        return f"expected one of {', '.join(column.values)}, got {value!r}"
    if column.kind == "list" and not set(value.split(";")) <= set(column.values):
        return f"expected ';'-separated values among {', '.join(column.values)}, got {value!r}"
    if column.kind == "money":
        try:
            if float(value) < 0:
                return f"expected an amount of at least 0, got {value!r}"
        except ValueError:
            return f"expected an amount in yuan, got {value!r}"
    if column.kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"expected a date as YYYY-MM-DD, got {value!r}"
    return None


def _record(settings: Settings, uscc: str, record_kind: str, record_id: str) -> dict[str, Any]:
    from features.warehouse import first_row, reader

    problem = uscc_codes.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    table = SOURCES[TABLES[record_kind]]
    key = table.key[0]
    names = {c.name for c in table.columns}
    removed = "removed_date" if "removed_date" in names else "NULL"
    con = reader(settings)
    try:
        row = first_row(con, f'SELECT "{table.event_date}", {removed} FROM "{table.name}" '
                        f'WHERE uscc = ? AND "{key}" = ?', [uscc, record_id])
        voided = first_row(con, "SELECT case_id FROM record_corrections WHERE record_kind = ? AND record_id = ?",
                           [record_kind, record_id])
    finally:
        con.close()
    if row is None:
        raise NotFound(f"record_id: entity {uscc} has no {record_kind} record {record_id!r}")
    return {"event_date": row[0], "removed_date": row[1], "voided": voided[0] if voided else None}
