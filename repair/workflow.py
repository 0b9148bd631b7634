"""Repair and objection cases: the engine that moves a case by the actions its graded procedure declares.

No procedure is written here: the states, actions, documents and deadlines come from
core/rules/repair.toml (repair/procedures.py). Every move is a compare-and-set on the case's
``version`` (two officers at once: one wins, the other gets a Conflict) and writes, in one
operational-DB transaction, the case, its event, the notice the action issues, the outbound record
for the credit-sharing platform when the decision changes a record, and the audit entry. The warehouse
learns of decisions only through the batch step :func:`sync_warehouse` (`credit-risk repair sync`).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core import audit
from core import uscc as uscc_codes
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from repair import deadlines, eligibility, notices, procedures, rules, store
from repair.procedures import Action, Procedure
from repair.status import CaseView, case_view


def today() -> date:
    return date.today()


def apply(settings: Settings, *, uscc: str, record_id: str, documents: dict[str, str] | None, actor: str,
          on: date | None = None, record_kind: str | None = None, role: str | None = None) -> CaseView:
    """Register a repair application for one negative record; the procedure follows from the record.

    Eligibility is checked at registration: a record that cannot be repaired (or not yet) is refused
    at once (不予受理, with a notice saying why and, when it can be repaired later, from when). An
    application missing documents the procedure requires opens in 待补正 with a one-time notice of
    everything missing and its deadline. Otherwise the case waits for the acceptance decision.

    Args:
        settings: where the warehouse and the operational DB live.
        uscc: the applicant entity's credit code.
        record_id: the penalty decision number or listing id to repair.
        documents: document type -> reference (e.g. ``application``, ``commitment`` 守信承诺书, ``proof``).
        actor: who registers the application (audit).
        on: the application date (default today).
        record_kind: penalty | abnormal_list | serious_list, when ``record_id`` alone is ambiguous.

    Returns:
        The case (:class:`repair.status.CaseView`).
    """
    on = check_day(on, earliest=None)
    check = _eligibility(settings, uscc, record_id, on=on, record_kind=record_kind)
    with engine(settings).connect() as conn:
        done = store.effective_repair_case(conn, check.record_kind, record_id)
    if check.state == eligibility.REPAIRED or done:
        raise Conflict(f"record_id: {check.record_kind} {record_id} is already repaired"
                       + (f" (case {done})" if done else ""))
    proc = procedures.for_record(check.kind, severity=check.details.get("severity"),
                                 restarted=check.details.get("restarted_on") is not None)
    docs = given_documents(documents)
    then: tuple[str, str | None, date | None] | None = None
    if not check.eligible_now:
        then = ("refuse", _ineligible_reason(check), check.earliest_date if check.repairable else None)
    elif [d for d in proc.documents if d not in docs]:
        then = ("request_cure", None, None)
    return open_case(settings, procedure=proc, prefix="RP", uscc=uscc, kind=check.kind,
                     record_kind=check.record_kind, record_id=record_id, actor=actor, role=role, on=on,
                     documents=docs, eligibility=check.as_dict(), details={}, then=then)


def open_case(settings: Settings, *, procedure: Procedure, prefix: str, uscc: str, kind: str, record_kind: str,
              record_id: str, actor: str, on: date, documents: dict[str, str], eligibility: dict[str, Any],
              details: dict[str, Any], role: str | None = None,
              then: tuple[str, str | None, date | None] | None = None) -> CaseView:
    """Insert a new case in its procedure's first state, with its event, deadline and audit entry.

    ``then`` is an action taken at registration in the same transaction: ``(action, reason, earliest)``.
    """
    case_id = f"{prefix}-{on:%Y%m%d}-{secrets.token_hex(3).upper()}"
    state = procedure.first_state
    milestones = {state: on}
    step = procedure.next_step.get(state)
    now = datetime.now(UTC)
    open_key = f"{procedure.case_type}:{record_kind}:{record_id}"
    row = {
        "case_id": case_id, "case_type": procedure.case_type, "procedure": procedure.code, "kind": kind,
        "uscc": uscc, "record_kind": record_kind, "record_id": record_id, "state": state, "version": 1,
        "open_key": open_key, "opened_on": on, "state_since": on, "next_step": step,
        "due_on": deadlines.due_date(procedure, step, milestones), "milestones": milestones, "documents": documents,
        "eligibility": eligibility, "details": details, "rules_version": rules.version(), "created_at": now,
        "created_by": actor, "updated_at": now, "updated_by": actor,
    }
    eng = engine(settings)
    try:
        with eng.begin() as conn:
            store.insert_case(conn, row)
            store.add_event(conn, case_id=case_id, seq=1, action="open", from_state=None, to_state=state,
                            on_date=on, at=now, actor=actor, reason=None)
            audit.record(conn, actor=actor, role=role, action=f"{procedure.case_type}.open", subject=case_id,
                         outcome=state, inputs={"uscc": uscc, "kind": kind, "procedure": procedure.code,
                                                "record_kind": record_kind, "record_id": record_id, "on": on,
                                                "documents": sorted(documents)},
                         versions=rules.versions())
            if then is not None:
                action, reason, earliest = then
                _move(conn, procedure, store.get_case(conn, case_id), procedure.actions[action], actor=actor,
                      role=role, on=on, reason=reason, earliest=earliest)
    except sa.exc.IntegrityError:
        with eng.connect() as conn:
            other = conn.execute(sa.select(store.CASES.c.case_id).where(store.CASES.c.open_key == open_key)).scalar()
        raise Conflict(f"record_id: {record_kind} {record_id} already has an open {procedure.case_type} case "
                       f"{other}; act on that case instead") from None
    with eng.connect() as conn:
        return case_view(conn, store.get_case(conn, case_id), today=today())


def transition(settings: Settings, case_id: str, action: str, *, actor: str, reason: str | None = None,
               on: date | None = None, expected_version: int | None = None, role: str | None = None,
               documents: dict[str, str] | None = None, corrections: dict[str, str] | None = None) -> CaseView:
    """Move a case (repair or objection) by one action of its procedure; refuses illegal moves and stale edits.

    Args:
        case_id: the case or objection id.
        action: one of the procedure's actions (``CaseView.actions`` lists those allowed now).
        actor: who acts (audit); reason: why (required where the procedure says so).
        on: the day the step takes effect (default today; not before the current state began, not in the future).
        expected_version: the case version the officer looked at; a Conflict if someone acted since.
        documents: the documents handed in (补正).
        corrections: field -> corrected value, for an upheld objection that corrects the record.

    Returns:
        The case after the move.
    """
    eng = engine(settings)
    with eng.connect() as conn:
        case = store.get_case(conn, case_id)
    proc = procedures.of_case(case)
    try:
        act, on = _validate(proc, case, action, reason=reason, on=on, expected_version=expected_version,
                            documents=documents, corrections=corrections)
        if act.check_eligible:
            _require_still_eligible(settings, case, on)
        with eng.begin() as conn:
            _move(conn, proc, case, act, actor=actor, role=role, on=on, reason=reason, documents=documents,
                  corrections=corrections)
    except UserError as exc:
        with eng.begin() as conn:
            audit.record(conn, actor=actor, role=role, action=f"{case['case_type']}.{action}", subject=case_id,
                         outcome=f"refused: {exc}", inputs={"uscc": case["uscc"], "from": case["state"],
                                                            "on": on, "version": case["version"]},
                         versions=rules.versions())
        raise
    with eng.connect() as conn:
        return case_view(conn, store.get_case(conn, case_id), today=today())


def check_day(on: date | None, *, earliest: date | None) -> date:
    """The day a step takes effect: not in the future, not before ``earliest``."""
    day = on or today()
    if day > today():
        raise UserError(f"on: expected a date not after today ({today()}), got {day}")
    if earliest is not None and day < earliest:
        raise UserError(f"on: expected a date on or after {earliest} (when the case reached its current state), "
                        f"got {day}")
    return day


def given_documents(documents: dict[str, str] | None) -> dict[str, str]:
    """The documents handed in: type -> reference, blank references dropped."""
    return {str(k).strip(): str(v).strip() for k, v in (documents or {}).items() if str(v or "").strip()}


def _missing(proc: Procedure, documents: dict[str, str]) -> list[str]:
    return [d for d in proc.documents if d not in documents]


def _ineligible_reason(check: eligibility.RecordCheck) -> str:
    codes = list(check.missing_conditions) or [check.not_repairable_reason or "ended"]
    return "；".join(rules.label("conditions", c)["zh"] for c in codes)


def _validate(proc: Procedure, case: dict[str, Any], action: str, *, reason: str | None, on: date | None,
              expected_version: int | None, documents: dict[str, str] | None,
              corrections: dict[str, str] | None) -> tuple[Action, date]:
    if action not in proc.actions:
        raise UserError(f"action: expected one of {', '.join(proc.actions)} for a case under the {proc.code} "
                        f"procedure, got {action!r}")
    if expected_version is not None and expected_version != case["version"]:
        raise Conflict(f"case {case['case_id']} changed since you read it (version {case['version']}, you had "
                       f"{expected_version}); reload it and decide again")
    act = proc.actions[action]
    if case["state"] not in act.sources:
        here = rules.label("states", case["state"])
        allowed = proc.allowed(case["state"])
        raise Conflict(f"action: cannot {action} case {case['case_id']} in state {here['code']} ({here['zh']}); "
                       f"{action} needs state {' or '.join(sorted(act.sources))}; allowed now: "
                       f"{', '.join(allowed) or 'nothing (the case is closed)'}")
    if act.reason_required and not (reason or "").strip():
        raise UserError(f"reason: expected a reason to {action} case {case['case_id']}, got none")
    if act.once and act.to in case["milestones"]:
        raise Conflict(f"action: {action} may be taken once per case (一次性告知), and case {case['case_id']} "
                       f"already had it on {case['milestones'][act.to]}")
    day = check_day(on, earliest=case["state_since"])
    if act.after_due and (case["due_on"] is None or day <= case["due_on"]):
        raise Conflict(f"on: {action} only after the {case['next_step']} deadline {case['due_on']}, got {day}")
    if act.takes_documents:
        still = _missing(proc, {**case["documents"], **given_documents(documents)})
        if not given_documents(documents) or still:
            labels = ", ".join(f"{d} ({rules.label('documents', d)['zh']})" for d in still) or "at least one"
            raise UserError(f"documents: expected the missing documents; still missing {labels}")
    if act.effect == "correct":
        from repair.objections import check_corrections

        check_corrections(case["record_kind"], corrections)
    return act, day


def _move(conn, proc: Procedure, case: dict[str, Any], act: Action, *, actor: str, role: str | None, on: date,
          reason: str | None, documents: dict[str, str] | None = None, corrections: dict[str, str] | None = None,
          earliest: date | None = None) -> None:
    """One action inside the caller's transaction: case (compare-and-set), event, notice, sharing record, audit."""
    milestones = {**case["milestones"], act.to: on}
    step = proc.next_step.get(act.to)
    docs = {**case["documents"], **given_documents(documents)}
    due = deadlines.due_date(proc, step, milestones)
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "state": act.to, "state_since": on, "milestones": milestones, "next_step": step, "due_on": due,
        "documents": docs, "updated_at": now, "updated_by": actor,
    }
    if act.to in proc.closing:
        values["open_key"] = None
    if corrections:
        values["details"] = {**case["details"], "corrections": dict(corrections)}
    changed = store.update_case(conn, case["case_id"], expected_version=case["version"],
                                expected_state=case["state"], values=values)
    if changed != 1:
        raise Conflict(f"case {case['case_id']} was changed by someone else while you acted (you had version "
                       f"{case['version']}); reload it: your {act.code} was not applied")
    seq = case["version"] + 1
    store.add_event(conn, case_id=case["case_id"], seq=seq, action=act.code, from_state=case["state"],
                    to_state=act.to, on_date=on, at=now, actor=actor, reason=reason)
    notice_id = None
    if act.notice:
        reached = [date.fromisoformat(str(case["milestones"][s])) for s in act.sources if s in case["milestones"]]
        notice = notices.build(kind=act.notice, case=case, seq=seq, issued_on=on, reason=reason,
                               missing=_missing(proc, docs), due_on=due or case["due_on"], earliest=earliest,
                               decided_on=min(reached) if reached else None)
        store.add_notice(conn, notice_id=notice.notice_id, case_id=case["case_id"], seq=seq, kind=notice.kind,
                         issued_on=on, title=notice.title, payload=store.dumps(notice.as_dict()),
                         text=notices.render_text(notice), html=notices.render_html(notice), created_at=now,
                         created_by=actor)
        notice_id = notice.notice_id
    share_id = None
    if act.effect and (act.effect != "restore" or proc.effect_states("repair") & set(case["milestones"])):
        share = rules.table()["sharing"]
        share_id = f"{case['case_id']}-S{seq}"
        store.add_share(conn, share_id=share_id, schema_version=share["schema_version"],
                        message=share["messages"][act.effect], case_id=case["case_id"], uscc=case["uscc"],
                        record_kind=case["record_kind"], record_id=case["record_id"], effective_on=on,
                        corrections=store.dumps(corrections) if corrections else None,
                        authority=rules.table()["notice"]["authority"], created_at=now, created_by=actor)
    audit.record(conn, actor=actor, role=role, action=f"{proc.case_type}.{act.code}", subject=case["case_id"],
                 outcome=act.to, inputs={"uscc": case["uscc"], "record_kind": case["record_kind"],
                                         "record_id": case["record_id"], "procedure": proc.code,
                                         "from": case["state"], "on": on, "reason": reason, "notice": notice_id,
                                         "share": share_id, "corrections": sorted(corrections or {})},
                 versions=rules.versions())


def _eligibility(settings: Settings, uscc: str, record_id: str, *, on: date,
                 record_kind: str | None) -> eligibility.RecordCheck:
    from features.warehouse import reader

    problem = uscc_codes.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    con = reader(settings)
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


def close_overdue(settings: Settings, *, actor: str, today: date | None = None,
                  role: str | None = None) -> list[CaseView]:
    """Take every action that the procedures allow only once a step is overdue (逾期未补正 → 终止办理).

    Each closure is a normal action (event, notice, audit, compare-and-set), dated the day after the
    deadline passed or ``today`` when later; cases another officer moves meanwhile are left to them.
    """
    day = today or date.today()
    with engine(settings).connect() as conn:
        due = [c for c in store.open_cases_due_by(conn, day - timedelta(days=1)) if c["open_key"] is not None]
    closed = []
    for case in due:
        proc = procedures.of_case(case)
        action = next((a for a in proc.actions.values() if a.after_due and case["state"] in a.sources), None)
        if action is None:
            continue
        try:
            closed.append(transition(settings, case["case_id"], action.code, actor=actor, role=role,
                                     on=min(day, case["due_on"] + timedelta(days=1)),
                                     expected_version=case["version"]))
        except Conflict:
            continue
    return closed


# ---------------------------------------------------------------- the batch step


@dataclass(frozen=True)
class SyncSummary:
    """What :func:`sync_warehouse` wrote."""

    cases: int  # cases whose decisions change a record
    repairs: int  # warehouse `repairs` rows written
    corrections: int  # warehouse `record_corrections` rows written

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sync_warehouse(settings: Settings) -> SyncSummary:
    """Write the warehouse `repairs` and `record_corrections` rows of every decided case (idempotent).

    The batch step through which the warehouse learns of repair and objection decisions taken in the
    operational DB: a completed repair (and its revocation), a voided or corrected record.
    """
    actions = {a.code for code in procedures.all_codes() for a in procedures.get(code).actions.values() if a.effect}
    with engine(settings).connect() as conn:
        items = store.cases_with_events(conn, actions)
    repairs, corrections, cases = [], [], 0
    for case, events in items:
        proc = procedures.of_case(case)
        effects = [(proc.actions[e["action"]].effect, store.as_date(e["on_date"])) for e in events
                   if e["action"] in proc.actions and proc.actions[e["action"]].effect]
        if not effects:
            continue
        cases += 1
        key = (case["record_kind"], case["record_id"], case["uscc"])
        repaired = next((d for eff, d in effects if eff == "repair"), None)
        restored = next((d for eff, d in effects if eff == "restore"), None)
        if repaired is not None:
            repairs.append((*key, repaired, repaired, case["case_id"], restored))
        for eff, day in effects:
            if eff == "void":
                corrections.append((*key, "void", None, None, day, day, case["case_id"]))
            elif eff == "correct":
                for name, value in sorted(case["details"].get("corrections", {}).items()):
                    corrections.append((*key, "correct", name, str(value), day, day, case["case_id"]))
    store.replace_warehouse_rows(settings, repairs=repairs, corrections=corrections)
    return SyncSummary(cases=cases, repairs=len(repairs), corrections=len(corrections))
