"""Case status for officers and applicants: current state and next deadline, in Chinese and English."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from core import uscc as uscc_codes
from core.errors import NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from repair import deadlines, rules, store

AUDIENCES = ("officer", "applicant")


def case_status(conn: Connection, case: dict[str, Any], *, today: date, events: bool = True,
                audience: str = "officer") -> dict[str, Any]:
    """One case's status: state, next step and its due day (with overdue/due-soon flag), and its history.

    The applicant's view leaves out who acted, internal reasons and the case version.
    """
    if audience not in AUDIENCES:
        raise UserError(f"audience: expected one of {', '.join(AUDIENCES)}, got {audience!r}")
    out = {
        "case_id": case["case_id"], "case_type": case["case_type"], "uscc": case["uscc"],
        "kind": rules.label("kinds", case["kind"]), "record_kind": case["record_kind"],
        "record_id": case["record_id"], "state": rules.label("states", case["state"]),
        "state_since": case["state_since"], "version": case["version"], "opened_on": case["opened_on"],
        "next_step": rules.label("steps", case["next_step"]) if case["next_step"] else None,
        "due_on": case["due_on"], "urgency": deadlines.urgency(case["due_on"], today=today),
        "open": case["open_key"] is not None, "documents": case["documents"],
        "rules_version": case["rules_version"],
    }
    if case["eligibility"]:
        out["missing_at_opening"] = case["eligibility"].get("missing_conditions", [])
    if events:
        out["events"] = [
            {"seq": e["seq"], "action": e["action"], "from_state": e["from_state"], "to_state": e["to_state"],
             "on": e["on_date"], "at": e["at"], "actor": e["actor"], "reason": e["reason"]}
            for e in store.events_of(conn, case["case_id"])
        ]
    if audience == "applicant":
        out.pop("version")
        for e in out.get("events", []):
            e.pop("actor")
            e.pop("reason")
    return out


def status(settings: Settings, key: str, *, today: date | None = None, audience: str = "officer") -> dict[str, Any]:
    """Status by case id (``RP-…``/``OB-…``) or by credit code (every case of the entity, open ones first).

    Returns:
        ``{"case": {...}}`` for a case id, ``{"uscc", "cases": [...]}`` for a credit code.
    """
    today = today or date.today()
    key = key.strip()
    with engine(settings).connect() as conn:
        if len(key) == uscc_codes.LENGTH and not key.startswith(("RP-", "OB-")):
            problem = uscc_codes.problem(key)
            if problem:
                raise UserError(f"uscc: {problem}")
            cases = store.cases_of(conn, key)
            if not cases:
                raise NotFound(f"uscc: no repair cases or objections for {key}")
            items = [case_status(conn, c, today=today, events=False, audience=audience) for c in cases]
            items.sort(key=lambda c: (not c["open"], c["due_on"] or date.max))
            return {"uscc": key, "today": today, "cases": items}
        return {"today": today, "case": case_status(conn, store.get_case(conn, key), today=today, audience=audience)}
