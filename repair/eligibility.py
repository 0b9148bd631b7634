"""Repair eligibility: every negative record of an entity, whether and when it can be repaired, what is missing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import duckdb

from core import uscc as uscc_codes
from core.errors import NotFound, UserError
from core.publicity import penalty_class, publicity_end, publicity_rules
from core.settings import Settings
from core.workdays import add_months
from features.warehouse import first_row
from repair import rules

IN_EFFECT, ENDED, REPAIRED = "in_effect", "ended", "repaired"


@dataclass(frozen=True)
class RecordCheck:
    """One negative record and its repair eligibility as of a date."""

    kind: str  # repair kind: penalty_publicity | serious_list_removal | abnormal_list_removal | individual_abnormal
    record_kind: str  # penalty | serious_list | abnormal_list (the warehouse `repairs.record_kind`)
    record_id: str
    event_date: date
    state: str  # in_effect | ended | repaired
    repairable: bool  # can be repaired at all (now or once the missing conditions are met)
    eligible_now: bool  # repairable and nothing missing as of the date
    earliest_date: date | None  # first day the time conditions are met (None: never, or unknown yet)
    missing_conditions: tuple[str, ...] = ()
    to_verify: tuple[str, ...] = ()  # conditions the officer checks on the application's documents
    not_repairable_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["missing_conditions"] = list(self.missing_conditions)
        out["to_verify"] = list(self.to_verify)
        out["kind_label"] = rules.label("kinds", self.kind)
        out["conditions_detail"] = [rules.label("conditions", c) for c in self.missing_conditions]
        if self.not_repairable_reason:
            out["not_repairable_label"] = rules.label("conditions", self.not_repairable_reason)
        return out


@dataclass
class _Facts:
    """Everything known about one entity as of a date, read from the warehouse."""

    uscc: str
    as_of: date
    entity_type: str | None
    penalties: list[dict[str, Any]]
    abnormal: list[dict[str, Any]]
    serious: list[dict[str, Any]]
    annual_reports: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    repairs: list[dict[str, Any]]


def check(settings: Settings, uscc: str, *, as_of: date | None = None) -> dict[str, Any]:
    """:func:`check_entity` on the settings' warehouse (as of today by default)."""
    from features.warehouse import reader

    con = reader(settings)
    try:
        return check_entity(con, uscc, as_of=as_of or date.today())
    finally:
        con.close()


def check_entity(con: duckdb.DuckDBPyConnection, uscc: str, *, as_of: date) -> dict[str, Any]:
    """Eligibility of every negative record of ``uscc`` known by ``as_of``.

    Args:
        con: a warehouse connection (features.warehouse.connect).
        uscc: the entity's credit code.
        as_of: the date the rules are applied on.

    Returns:
        ``{"uscc", "as_of", "entity_type", "rules_version", "records": [RecordCheck.as_dict(), ...]}``.
    """
    checks = evaluate(con, uscc, as_of=as_of)
    facts_type = _entity_type(con, uscc)
    return {
        "uscc": uscc, "as_of": as_of, "entity_type": facts_type, "rules_versions": rules.versions(),
        "records": [c.as_dict() for c in checks],
        "eligible_now": sum(c.eligible_now for c in checks),
    }


def evaluate(con: duckdb.DuckDBPyConnection, uscc: str, *, as_of: date) -> list[RecordCheck]:
    """The :class:`RecordCheck` of every negative record of ``uscc`` known by ``as_of``."""
    problem = uscc_codes.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    facts = _load(con, uscc, as_of)
    if facts.entity_type is None and not (facts.penalties or facts.abnormal or facts.serious):
        raise NotFound(f"uscc: no entity {uscc} in the warehouse")
    checks = [_penalty(p, facts) for p in facts.penalties]
    checks += [_serious(s, facts) for s in facts.serious]
    checks += [_abnormal(a, facts) for a in facts.abnormal]
    return sorted(checks, key=lambda c: (c.event_date, c.record_kind, c.record_id))


def find(con: duckdb.DuckDBPyConnection, uscc: str, record_id: str, *, as_of: date,
         record_kind: str | None = None) -> RecordCheck:
    """The check of one record of the entity; NotFound when the entity has no such record."""
    hits = [c for c in evaluate(con, uscc, as_of=as_of)
            if c.record_id == record_id and (record_kind is None or c.record_kind == record_kind)]
    if not hits:
        raise NotFound(f"record_id: entity {uscc} has no negative record {record_id!r} known by {as_of}")
    if len(hits) > 1:
        kinds = ", ".join(sorted(c.record_kind for c in hits))
        raise UserError(f"record_id: {record_id!r} names several records ({kinds}); give the record kind")
    return hits[0]


# ---------------------------------------------------------------- loading


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _entity_type(con: duckdb.DuckDBPyConnection, uscc: str) -> str | None:
    row = first_row(con, "SELECT entity_type FROM entities WHERE uscc = ? LIMIT 1", [uscc])
    return row[0] if row else None


def _load(con: duckdb.DuckDBPyConnection, uscc: str, as_of: date) -> _Facts:
    known = "COALESCE(known_date, {event}) <= ?"
    voided, fixes = _objection_outcomes(con, uscc, as_of)
    penalties = _rows(con, "SELECT * FROM penalties WHERE uscc = ? AND decided_date <= ? AND "
                      + known.format(event="decided_date") + " AND NOT COALESCE(leniency, FALSE)",
                      [uscc, as_of, as_of])
    abnormal = _rows(con, "SELECT * FROM abnormal_list WHERE uscc = ? AND listed_date <= ? AND "
                     + known.format(event="listed_date"), [uscc, as_of, as_of])
    serious = _rows(con, "SELECT * FROM serious_list WHERE uscc = ? AND listed_date <= ? AND "
                    + known.format(event="listed_date"), [uscc, as_of, as_of])
    penalties = [_corrected(p, fixes.get(p["penalty_id"], {})) for p in penalties
                 if ("penalty", p["penalty_id"]) not in voided]
    abnormal = [a for a in abnormal if ("abnormal_list", a["listing_id"]) not in voided]
    serious = [s for s in serious if ("serious_list", s["listing_id"]) not in voided]
    reports = _rows(con, "SELECT year, filed_date FROM annual_reports WHERE uscc = ?", [uscc])
    changes = _rows(con, "SELECT item, change_date FROM changes WHERE uscc = ? AND change_date <= ?",
                    [uscc, as_of])
    repairs = _rows(con, "SELECT * FROM repairs WHERE uscc = ? AND COALESCE(known_date, repaired_date) <= ?",
                    [uscc, as_of])
    return _Facts(uscc, as_of, _entity_type(con, uscc), penalties, abnormal, serious, reports, changes, repairs)


def _objection_outcomes(con: duckdb.DuckDBPyConnection, uscc: str,
                        as_of: date) -> tuple[set[tuple[str, str]], dict[str, dict[str, str]]]:
    """What upheld objections did to the entity's records by ``as_of``: the voided records (no negative record
    any more) and the corrected penalty fields ({penalty_id: {field: value}}, the latest correction wins)."""
    rows = con.execute("SELECT record_kind, record_id, outcome, field, value FROM record_corrections "
                       "WHERE uscc = ? AND effective_date <= ? AND COALESCE(known_date, effective_date) <= ? "
                       "ORDER BY effective_date, case_id", [uscc, as_of, as_of]).fetchall()
    voided = {(kind, rid) for kind, rid, outcome, _, _ in rows if outcome == "void"}
    fixes: dict[str, dict[str, str]] = {}
    for kind, rid, outcome, name, value in rows:
        if kind == "penalty" and outcome == "correct":
            fixes.setdefault(rid, {})[name] = value
    return voided, fixes


def _corrected(row: dict[str, Any], fixes: dict[str, str]) -> dict[str, Any]:
    out = dict(row)
    for name, value in fixes.items():
        out[name] = (float(value) if name == "fine_amount" else date.fromisoformat(value) if name == "publicity_end"
                     else value)
    return out


# ---------------------------------------------------------------- shared helpers


def _repair_status(facts: _Facts, record_kind: str, record_id: str) -> tuple[bool, date | None]:
    """(repaired as of the date, date of the latest revocation on or before it)."""
    repaired, revoked_on = False, None
    for r in facts.repairs:
        if r["record_kind"] != record_kind or r["record_id"] != record_id:
            continue
        revoked = r["revoked_date"]
        if revoked is not None and revoked <= facts.as_of:
            revoked_on = max(revoked_on or revoked, revoked)
        elif r["repaired_date"] is not None and r["repaired_date"] <= facts.as_of:
            repaired = True
    return repaired, revoked_on


def _listing_in_effect(row: dict[str, Any], record_kind: str, facts: _Facts, *, auto_months: int | None) -> bool:
    removed = row["removed_date"]
    if removed is not None and removed <= facts.as_of:
        return False
    if auto_months is not None and add_months(row["listed_date"], auto_months) <= facts.as_of:
        return False
    return not _repair_status(facts, record_kind, row["listing_id"])[0]


def _on_list(rows: list[dict[str, Any]], record_kind: str, facts: _Facts, *, auto_months: int | None) -> bool:
    return any(_listing_in_effect(r, record_kind, facts, auto_months=auto_months) for r in rows)


def _sanctions(row: dict[str, Any]) -> set[str]:
    return {s.strip() for s in str(row.get("sanctions") or "").split(";") if s.strip()}


def _needs_payment(row: dict[str, Any], payment_sanctions: list[str]) -> bool:
    return bool(_sanctions(row) & set(payment_sanctions)) or (row.get("fine_amount") or 0) > 0


def _paid(row: dict[str, Any], as_of: date) -> bool:
    paid = row.get("fine_paid_date")
    return paid is not None and paid <= as_of


def _closed(kind: str, record_kind: str, row_id: str, event: date, state: str, reason: str,
            details: dict[str, Any]) -> RecordCheck:
    return RecordCheck(kind, record_kind, row_id, event, state, False, False, None,
                       not_repairable_reason=reason, details=details)


def _finish(kind: str, record_kind: str, row_id: str, event: date, earliest: date | None, missing: list[str],
            to_verify: list[str], details: dict[str, Any]) -> RecordCheck:
    return RecordCheck(kind, record_kind, row_id, event, IN_EFFECT, True, not missing, earliest,
                       tuple(missing), tuple(to_verify), details=details)


# ---------------------------------------------------------------- penalty publicity ended early


def _penalty(p: dict[str, Any], facts: _Facts) -> RecordCheck:
    r = rules.section("penalty_publicity")
    kind, rid, decided = "penalty_publicity", p["penalty_id"], p["decided_date"]
    sanctions = _sanctions(p)
    repaired, revoked_on = _repair_status(facts, "penalty", rid)
    cls = penalty_class(procedure=p["procedure"], severity=p["severity"], sanctions=sanctions,
                        fine_amount=p.get("fine_amount"), entity_type=facts.entity_type)
    start = revoked_on or decided  # a revoked repair restarts the publicity
    if revoked_on is None and p.get("publicity_end") is not None:
        end = p["publicity_end"]
    else:
        end = publicity_end(cls, decided=decided, published=revoked_on or p.get("published_date"),
                            restriction_end=p.get("restriction_end"))
    details = {"domain": p["domain"], "severity": p["severity"], "sanctions": sorted(sanctions), "fine_amount": p.get("fine_amount"),
               "publicity_class": cls.code, "publicity_start": start, "publicity_end": end, "restarted_on": revoked_on}
    never = sorted(sanctions & set(r["never_repairable_sanctions"]))
    if never:
        return _closed(kind, "penalty", rid, decided, IN_EFFECT if end > facts.as_of else ENDED,
                       "never_repairable_sanction", {**details, "blocking_sanctions": never})
    if repaired:
        return _closed(kind, "penalty", rid, decided, REPAIRED, "already_repaired", details)
    if not cls.published:  # a simple-procedure penalty or a warning alone is never in publicity
        return _closed(kind, "penalty", rid, decided, ENDED, "not_published", details)
    if end <= facts.as_of:
        return _closed(kind, "penalty", rid, decided, ENDED, "ended", details)
    months = r["min_publicity_months_by_domain"].get(p["domain"], r["min_publicity_months"])
    if cls.months <= months:  # the publicity ends by itself before it could be ended early (3-month class)
        return _closed(kind, "penalty", rid, decided, IN_EFFECT, "short_publicity", details)

    earliest = add_months(start, months)
    if revoked_on is not None:
        earliest = max(earliest, add_months(revoked_on, r["reapply_bar_months_after_revocation"]))
    missing = []
    if facts.as_of < earliest:
        missing.append("reapply_bar" if revoked_on is not None and earliest > add_months(start, months)
                       else "waiting_period")
    if _needs_payment(p, r["payment_sanctions"]) and not _paid(p, facts.as_of):
        missing.append("fine_paid")
    if r["same_domain_blocks"] and any(
            q["penalty_id"] != rid and q["domain"] == p["domain"] and q["decided_date"] > decided
            for q in facts.penalties):
        missing.append("no_new_same_domain_penalty")
    if _on_list(facts.abnormal, "abnormal_list", facts, auto_months=None):
        missing.append("not_on_abnormal_list")
    if _on_list(facts.serious, "serious_list", facts, auto_months=publicity_rules()["serious_auto_removal_months"]):
        missing.append("not_on_serious_list")
    return _finish(kind, "penalty", rid, decided, earliest, missing, ["harm_removed"],
                   {**details, "waiting_months": months})


# ---------------------------------------------------------------- serious list early removal


def _serious(s: dict[str, Any], facts: _Facts) -> RecordCheck:
    r = rules.section("serious_list")
    kind, rid, listed = "serious_list_removal", s["listing_id"], s["listed_date"]
    repaired, revoked_on = _repair_status(facts, "serious_list", rid)
    start = revoked_on or listed
    auto = add_months(start, publicity_rules()["serious_auto_removal_months"])
    details = {"domain": s["domain"], "penalty_id": s.get("penalty_id"), "auto_removal_date": auto,
               "restarted_on": revoked_on}
    if repaired:
        return _closed(kind, "serious_list", rid, listed, REPAIRED, "already_repaired", details)
    removed = s["removed_date"]
    if (removed is not None and removed <= facts.as_of and revoked_on is None) or auto <= facts.as_of:
        return _closed(kind, "serious_list", rid, listed, ENDED, "ended", details)

    earliest = add_months(start, r["min_listed_months"])
    if revoked_on is not None:
        earliest = max(earliest, add_months(revoked_on, r["reapply_bar_months_after_revocation"]))
    missing, to_verify = [], ["harm_removed", "no_statutory_restriction"]
    if facts.as_of < earliest:
        missing.append("listed_one_year" if revoked_on is None else "reapply_bar")
    linked = [p for p in facts.penalties if p["penalty_id"] == s.get("penalty_id")]
    if linked:
        pay = rules.section("penalty_publicity")["payment_sanctions"]
        if any(_needs_payment(p, pay) and not _paid(p, facts.as_of) for p in linked):
            missing.append("obligations_fulfilled")
    else:
        to_verify.insert(0, "obligations_fulfilled")
    heavy_sev, heavy_sanc = set(r["heavier_penalty_severities"]), set(r["heavier_penalty_sanctions"])
    if any(p["decided_date"] > listed and p["penalty_id"] != s.get("penalty_id")
           and (p["severity"] in heavy_sev or _sanctions(p) & heavy_sanc) for p in facts.penalties):
        missing.append("no_later_heavier_penalty")
    return _finish(kind, "serious_list", rid, listed, earliest, missing, to_verify, details)


# ---------------------------------------------------------------- abnormal list removal


def _abnormal(a: dict[str, Any], facts: _Facts) -> RecordCheck:
    r = rules.section("abnormal_list")
    kind = "individual_abnormal" if facts.entity_type in r["individual_entity_types"] else "abnormal_list_removal"
    rid, listed = a["listing_id"], a["listed_date"]
    repaired, revoked_on = _repair_status(facts, "abnormal_list", rid)
    details = {"reason": a["reason"], "restarted_on": revoked_on}
    if repaired:
        return _closed(kind, "abnormal_list", rid, listed, REPAIRED, "already_repaired", details)
    removed = a["removed_date"]
    if removed is not None and removed <= facts.as_of and revoked_on is None:
        return _closed(kind, "abnormal_list", rid, listed, ENDED, "ended", details)

    start = revoked_on or listed
    earliest: date | None = add_months(start, r["reapply_bar_months_after_revocation"])
    missing: list[str] = []
    to_verify: list[str] = []
    if revoked_on is not None and facts.as_of < earliest:
        missing.append("reapply_bar")
    reason = a["reason"]
    if reason == "no_annual_report":
        due = publicity_rules()["report_due"]
        met_on = _reports_filed_on(facts, listed, due)
        if met_on is None:
            missing.append("annual_reports_filed")
            details["unfiled_years"] = _unfiled_years(facts, listed, due)
        earliest = None if met_on is None else max(earliest, met_on)
    elif reason == "name_not_changed":
        met_on = _changed_on(facts, "name", start)
        if met_on is None:
            missing.append("name_changed")
        earliest = None if met_on is None else max(earliest, met_on)
    elif reason == "unreachable":
        met_on = _changed_on(facts, "address", start)
        if met_on is None:
            to_verify.append("reachable")  # proof of reachability comes with the application
        else:
            earliest = max(earliest, met_on)
    else:  # no_disclosure
        to_verify.append("disclosure_made")
    return _finish(kind, "abnormal_list", rid, listed, earliest, missing, to_verify, details)


def _due_years(facts: _Facts, listed: date, due: tuple[int, int]) -> list[int]:
    month, day = due
    last_due = facts.as_of.year - 1 if facts.as_of > date(facts.as_of.year, month, day) else facts.as_of.year - 2
    return list(range(listed.year - 1, max(last_due, listed.year - 1) + 1))


def _unfiled_years(facts: _Facts, listed: date, due: tuple[int, int]) -> list[int]:
    filed = {r["year"] for r in facts.annual_reports
             if r["filed_date"] is not None and r["filed_date"] <= facts.as_of}
    return [y for y in _due_years(facts, listed, due) if y not in filed]


def _reports_filed_on(facts: _Facts, listed: date, due: tuple[int, int]) -> date | None:
    """The day the last missing report was filed, or None while one is still missing."""
    if _unfiled_years(facts, listed, due):
        return None
    dates = {r["year"]: r["filed_date"] for r in facts.annual_reports}
    return max(dates[y] for y in _due_years(facts, listed, due))


def _changed_on(facts: _Facts, item: str, since: date) -> date | None:
    days = [c["change_date"] for c in facts.changes if c["item"] == item and c["change_date"] >= since]
    return min(days) if days else None
