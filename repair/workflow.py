"""Repair case workflow: apply → accepted | refused → under_review → approved | denied → completed; → revoked.

The transition engine here is shared with objections (repair/objections.py): every transition is a
compare-and-set on the case's ``version`` (two officers at once: one wins, the other gets a Conflict),
writes a case event and an audit entry in the same transaction, and moves the next deadline.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from core import audit
from core import uscc as uscc_codes
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from repair import deadlines, eligibility, rules, store


@dataclass(frozen=True)
class Machine:
    """A case type's states and transitions."""

    case_type: str
    transitions: dict[str, tuple[frozenset[str], str]]  # action -> (states it may start from, state it leads to)
    next_step: dict[str, str]  # state -> the step whose deadline runs in it
    closing: frozenset[str]  # states that close the case (a new case for the record may then be opened)
    reason_required: frozenset[str]  # actions that must say why


REPAIR = Machine(
    case_type="repair",
    transitions={
        "accept": (frozenset({"applied"}), "accepted"),
        "refuse": (frozenset({"applied"}), "refused"),
        "review": (frozenset({"accepted"}), "under_review"),
        "approve": (frozenset({"under_review"}), "approved"),
        "deny": (frozenset({"under_review"}), "denied"),
        "complete": (frozenset({"approved"}), "completed"),
        "revoke": (frozenset({"approved", "completed"}), "revoked"),
    },
    next_step={"applied": "accept", "accepted": "decide", "under_review": "decide", "approved": "complete"},
    closing=frozenset({"refused", "denied", "completed", "revoked"}),
    reason_required=frozenset({"refuse", "deny", "revoke"}),
)
MACHINES: dict[str, Machine] = {"repair": REPAIR}


def register(machine: Machine) -> None:
    """Make a case type's machine known to :func:`transition`."""
    MACHINES[machine.case_type] = machine


def today() -> date:
    return date.today()


def apply(settings: Settings, *, uscc: str, record_id: str, documents: dict[str, str], actor: str,
          on: date | None = None, record_kind: str | None = None, role: str | None = None) -> dict[str, Any]:
    """Open a repair case for one negative record, with the application's documents.

    Args:
        settings: where the warehouse and the operational DB live.
        uscc: the applicant entity's credit code.
        record_id: the penalty decision number or listing id to repair.
        documents: document type -> reference (``application``, ``commitment`` 守信承诺书, ``proof``).
        actor: who registers the application (audit).
        on: the application date (default today).
        record_kind: penalty | abnormal_list | serious_list, when ``record_id`` alone is ambiguous.

    Returns:
        The case status (see :func:`repair.status.case_status`).
    """
    on = _check_day(on, earliest=None)
    required = list(rules.section("application")["required_documents"])
    missing = [d for d in required if not str((documents or {}).get(d) or "").strip()]
    if missing:
        raise UserError(f"documents: expected {', '.join(required)}; missing {', '.join(missing)}")
    check = _eligibility(settings, uscc, record_id, on=on, record_kind=record_kind)
    if check.state == eligibility.REPAIRED:
        raise Conflict(f"record_id: {record_kind or check.record_kind} {record_id} is already repaired")
    if not check.repairable:
        why = rules.label("conditions", check.not_repairable_reason or "ended")
        raise UserError(f"record_id: {check.record_kind} {record_id} is not repairable: {why['en']} ({why['zh']})")
    documents = {d: str(documents[d]) for d in documents}
    return open_case(settings, machine=REPAIR, state="applied", prefix="RP", uscc=uscc, kind=check.kind,
                     record_kind=check.record_kind, record_id=record_id, actor=actor, role=role, on=on,
                     documents=documents, eligibility=check.as_dict(), details={})


def open_case(settings: Settings, *, machine: Machine, state: str, prefix: str, uscc: str, kind: str,
              record_kind: str, record_id: str, actor: str, on: date, documents: dict[str, Any],
              eligibility: dict[str, Any], details: dict[str, Any], role: str | None = None) -> dict[str, Any]:
    """Insert a new case in its first state, with its first event, deadline and audit entry."""
    from repair import status

    case_id = f"{prefix}-{on:%Y%m%d}-{secrets.token_hex(3).upper()}"
    milestones = {state: on}
    step = machine.next_step.get(state)
    now = datetime.now(UTC)
    open_key = f"{machine.case_type}:{record_kind}:{record_id}"
    row = {
        "case_id": case_id, "case_type": machine.case_type, "kind": kind, "uscc": uscc,
        "record_kind": record_kind, "record_id": record_id, "state": state, "version": 1, "open_key": open_key,
        "opened_on": on, "state_since": on, "next_step": step, "due_on": deadlines.due_date(kind, step, milestones),
        "milestones": milestones, "documents": documents, "eligibility": eligibility, "details": details,
        "rules_version": rules.version(), "created_at": now, "created_by": actor, "updated_at": now,
        "updated_by": actor,
    }
    eng = engine(settings)
    try:
        with eng.begin() as conn:
            store.insert_case(conn, row)
            store.add_event(conn, case_id=case_id, seq=1, action="open", from_state=None, to_state=state,
                            on_date=on, at=now, actor=actor, reason=None)
            audit.record(conn, actor=actor, role=role, action=f"{machine.case_type}.open", subject=case_id,
                         outcome=state, inputs={"uscc": uscc, "kind": kind, "record_kind": record_kind,
                                                "record_id": record_id, "on": on, "documents": sorted(documents)},
                         versions=_versions())
    except sa.exc.IntegrityError:
        with eng.connect() as conn:
            other = conn.execute(sa.select(store.CASES.c.case_id).where(store.CASES.c.open_key == open_key)).scalar()
        raise Conflict(f"record_id: {record_kind} {record_id} already has an open {machine.case_type} case "
                       f"{other}; act on that case instead") from None
    with eng.connect() as conn:
        return status.case_status(conn, store.get_case(conn, case_id), today=today())


def transition(settings: Settings, case_id: str, action: str, *, actor: str, reason: str | None = None,
               on: date | None = None, expected_version: int | None = None,
               role: str | None = None) -> dict[str, Any]:
    """Move a case (repair or objection) by ``action``; refuses illegal moves and concurrent edits.

    Args:
        case_id: the case or objection id.
        action: e.g. accept, refuse, review, approve, deny, complete, revoke (repair cases) or
            accept, not_accept, uphold, dismiss, correct (objections).
        actor: who acts (audit); reason: why (required for refusals, denials, dismissals and revocations).
        on: the day the step takes effect (default today; not before the current state began, not in the future).
        expected_version: the case version the officer looked at; a Conflict if someone acted since.

    Returns:
        The case status after the move.
    """
    from repair import objections, status  # noqa: F401  (objections registers its machine)

    eng = engine(settings)
    with eng.connect() as conn:
        case = store.get_case(conn, case_id)
    machine = MACHINES[case["case_type"]]
    try:
        to_state, on = _validate(machine, case, action, reason=reason, on=on, expected_version=expected_version)
        if machine.case_type == "repair" and action == "approve":
            _require_still_eligible(settings, case, on)
        _apply_transition(settings, eng, machine, case, action, to_state, actor=actor, role=role, reason=reason,
                          on=on)
    except UserError as exc:
        with eng.begin() as conn:
            audit.record(conn, actor=actor, role=role, action=f"{machine.case_type}.{action}", subject=case_id,
                         outcome=f"refused: {exc}", inputs={"uscc": case["uscc"], "from": case["state"],
                                                            "on": on, "version": case["version"]},
                         versions=_versions())
        raise
    with eng.connect() as conn:
        return status.case_status(conn, store.get_case(conn, case_id), today=today())


def _validate(machine: Machine, case: dict[str, Any], action: str, *, reason: str | None, on: date | None,
              expected_version: int | None) -> tuple[str, date]:
    if action not in machine.transitions:
        raise UserError(f"action: expected one of {', '.join(machine.transitions)} for a {machine.case_type} "
                        f"case, got {action!r}")
    if expected_version is not None and expected_version != case["version"]:
        raise Conflict(f"case {case['case_id']} changed since you read it (version {case['version']}, you had "
                       f"{expected_version}); reload it and decide again")
    sources, to_state = machine.transitions[action]
    if case["state"] not in sources:
        here = rules.label("states", case["state"])
        allowed = [a for a, (src, _) in machine.transitions.items() if case["state"] in src]
        raise Conflict(f"action: cannot {action} case {case['case_id']} in state {here['code']} ({here['zh']}); "
                       f"{action} needs state {' or '.join(sorted(sources))}; allowed now: "
                       f"{', '.join(allowed) or 'nothing (the case is closed)'}")
    if action in machine.reason_required and not (reason or "").strip():
        raise UserError(f"reason: expected a reason to {action} case {case['case_id']}, got none")
    return to_state, _check_day(on, earliest=case["state_since"])


def _check_day(on: date | None, *, earliest: date | None) -> date:
    day = on or today()
    if day > today():
        raise UserError(f"on: expected a date not after today ({today()}), got {day}")
    if earliest is not None and day < earliest:
        raise UserError(f"on: expected a date on or after {earliest} (when the case reached its current state), "
                        f"got {day}")
    return day


def _eligibility(settings: Settings, uscc: str, record_id: str, *, on: date,
                 record_kind: str | None) -> eligibility.RecordCheck:
    from features.warehouse import connect

    problem = uscc_codes.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    con = connect(settings)
    try:
        return eligibility.find(con, uscc, record_id, as_of=on, record_kind=record_kind)
    finally:
        con.close()


def _require_still_eligible(settings: Settings, case: dict[str, Any], on: date) -> None:
    try:
        check = _eligibility(settings, case["uscc"], case["record_id"], on=on, record_kind=case["record_kind"])
    except NotFound:
        raise Conflict(f"record_id: {case['record_kind']} {case['record_id']} is no longer in the warehouse") from None
    if not check.eligible_now:
        missing = check.missing_conditions or (check.not_repairable_reason or "ended",)
        labels = "; ".join(f"{rules.label('conditions', c)['en']} ({rules.label('conditions', c)['zh']})"
                           for c in missing)
        raise Conflict(f"action: cannot approve case {case['case_id']} on {on}: conditions not met: {labels}")


def _apply_transition(settings: Settings, eng: sa.Engine, machine: Machine, case: dict[str, Any], action: str,
                      to_state: str, *, actor: str, role: str | None, reason: str | None, on: date) -> None:
    milestones = {**case["milestones"], to_state: on}
    step = machine.next_step.get(to_state)
    now = datetime.now(UTC)
    values = {
        "state": to_state, "state_since": on, "milestones": milestones, "next_step": step,
        "due_on": deadlines.due_date(case["kind"], step, milestones), "updated_at": now, "updated_by": actor,
    }
    if to_state in machine.closing:
        values["open_key"] = None
    with eng.begin() as conn:
        changed = store.update_case(conn, case["case_id"], expected_version=case["version"],
                                    expected_state=case["state"], values=values)
        if changed != 1:
            raise Conflict(f"case {case['case_id']} was changed by someone else while you acted (you had version "
                           f"{case['version']}); reload it: your {action} was not applied")
        store.add_event(conn, case_id=case["case_id"], seq=case["version"] + 1, action=action,
                        from_state=case["state"], to_state=to_state, on_date=on, at=now, actor=actor, reason=reason)
        audit.record(conn, actor=actor, role=role, action=f"{machine.case_type}.{action}", subject=case["case_id"],
                     outcome=to_state, inputs={"uscc": case["uscc"], "record_kind": case["record_kind"],
                                               "record_id": case["record_id"], "from": case["state"], "on": on,
                                               "reason": reason},
                     versions=_versions())
        _warehouse_effect(settings, machine, case, action, on)  # a failure here rolls the transition back


def _warehouse_effect(settings: Settings, machine: Machine, case: dict[str, Any], action: str, on: date) -> None:
    """Completing a repair (or correcting a listing) marks the record repaired; revoking a completed repair undoes it."""
    key = dict(record_kind=case["record_kind"], record_id=case["record_id"], uscc=case["uscc"],
               case_id=case["case_id"])
    if (machine.case_type, action) in {("repair", "complete"), ("objection", "correct")}:
        store.write_repair(settings, repaired_date=on, **key)
    elif machine.case_type == "repair" and action == "revoke" and case["state"] == "completed":
        store.write_repair(settings, revoked_date=on, **key)


def sync_warehouse(settings: Settings) -> dict[str, int]:
    """Rewrite the warehouse `repairs` rows of every completed, revoked or corrected case (idempotent)."""
    with engine(settings).connect() as conn:
        cases = [store._decode(r) for r in conn.execute(sa.select(store.CASES).where(
            store.CASES.c.state.in_(("completed", "revoked", "corrected")))).mappings()]
    written = 0
    for case in cases:
        key = dict(record_kind=case["record_kind"], record_id=case["record_id"], uscc=case["uscc"],
                   case_id=case["case_id"])
        ms = case["milestones"]
        repaired = ms.get("completed") or ms.get("corrected")
        if repaired is None:  # revoked before completion: nothing was repaired
            continue
        revoked = ms.get("revoked")
        store.write_repair(settings, repaired_date=date.fromisoformat(repaired),
                           revoked_date=date.fromisoformat(revoked) if revoked else None, **key)
        written += 1
    return {"cases": len(cases), "written": written}


def _versions() -> dict[str, str]:
    return rules.versions()
