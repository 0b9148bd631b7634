"""Case status for officers and applicants (:class:`CaseView`): state, next deadline, reasons and notices.

The applicant's view leaves out who acted, internal notes and the case version, and shows the reason of
every decision notified to the applicant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Connection

from core import uscc as uscc_codes
from core.errors import NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from repair import deadlines, procedures, rules, store
from repair.notices import Notice, record_words
from repair.rules import Label

AUDIENCES = ("officer", "applicant")


@dataclass(frozen=True)
class EventView:
    """One step of a case's history."""

    seq: int
    action: str
    from_state: str | None
    to_state: str
    on: date
    at: datetime | str | None
    actor: str | None  # None in the applicant's view
    reason: str | None  # the applicant sees the reasons of notified decisions only
    notice_id: str | None


@dataclass(frozen=True)
class Eligibility:
    """The record's repair conditions as checked at registration."""

    repairable: bool
    eligible_now: bool
    earliest_date: date | None  # when a record that cannot be repaired yet can be
    missing_conditions: tuple[Label, ...]
    to_verify: tuple[Label, ...]
    not_repairable: Label | None


@dataclass(frozen=True)
class CaseView:
    """A repair case or objection as the officer or the applicant sees it."""

    case_id: str
    case_type: str  # repair | objection
    procedure: Label
    kind: Label
    uscc: str
    record_kind: str
    record_id: str
    record: str  # the record in words (编号为…的行政处罚信息)
    state: Label
    state_since: date
    opened_on: date
    open: bool
    next_step: Label | None
    due_on: date | None
    urgency: str | None  # overdue | due_soon | on_time
    documents: dict[str, str]
    missing_documents: tuple[Label, ...]
    actions: tuple[str, ...]  # allowed now (empty in the applicant's view)
    reasons: tuple[str, ...]  # the reasons of the notified decisions, oldest first
    eligibility: Eligibility | None
    notices: tuple[Notice, ...]
    events: tuple[EventView, ...]
    version: int | None  # None in the applicant's view
    rules_version: str
    audience: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EntityCases:
    """Every case of an entity, open ones first."""

    uscc: str
    today: date
    cases: tuple[CaseView, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def case_view(conn: Connection, case: dict[str, Any], *, today: date, events: bool = True,
              audience: str = "officer") -> CaseView:
    """The :class:`CaseView` of a stored case row."""
    if audience not in AUDIENCES:
        raise UserError(f"audience: expected one of {', '.join(AUDIENCES)}, got {audience!r}")
    proc = procedures.of_case(case)
    officer = audience == "officer"
    stored = store.notices_of(conn, case["case_id"])
    notice_of = {n["seq"]: n for n in stored}
    history = []
    if events:
        for e in store.events_of(conn, case["case_id"]):
            notified = e["seq"] in notice_of
            history.append(EventView(
                seq=e["seq"], action=e["action"], from_state=e["from_state"], to_state=e["to_state"],
                on=store.as_date(e["on_date"]), at=e["at"], actor=e["actor"] if officer else None,
                reason=e["reason"] if officer or notified else None,
                notice_id=notice_of[e["seq"]]["notice_id"] if notified else None))
    issued = tuple(Notice.from_dict(n["payload"]) for n in stored)
    return CaseView(
        case_id=case["case_id"], case_type=case["case_type"], procedure=proc.label(),
        kind=rules.label_of("kinds", case["kind"]), uscc=case["uscc"], record_kind=case["record_kind"],
        record_id=case["record_id"], record=record_words(case["record_kind"], case["record_id"]),
        state=rules.label_of("states", case["state"]), state_since=case["state_since"], opened_on=case["opened_on"],
        open=case["open_key"] is not None,
        next_step=rules.label_of("steps", case["next_step"]) if case["next_step"] else None,
        due_on=case["due_on"], urgency=deadlines.urgency(case["due_on"], today=today),
        documents=dict(case["documents"]),
        missing_documents=tuple(rules.label_of("documents", d) for d in proc.documents if d not in case["documents"]),
        actions=tuple(proc.allowed(case["state"])) if officer else (),
        reasons=tuple(n.reason for n in issued), eligibility=_eligibility(case["eligibility"]),
        notices=issued, events=tuple(history), version=case["version"] if officer else None,
        rules_version=case["rules_version"], audience=audience,
    )


def _eligibility(stored: dict[str, Any]) -> Eligibility | None:
    if not stored:
        return None
    earliest = stored.get("earliest_date")
    reason = stored.get("not_repairable_reason")
    return Eligibility(
        repairable=bool(stored.get("repairable")), eligible_now=bool(stored.get("eligible_now")),
        earliest_date=date.fromisoformat(earliest) if isinstance(earliest, str) else earliest,
        missing_conditions=tuple(rules.label_of("conditions", c) for c in stored.get("missing_conditions", [])),
        to_verify=tuple(rules.label_of("conditions", c) for c in stored.get("to_verify", [])),
        not_repairable=rules.label_of("conditions", reason) if reason else None)


def case_status(settings: Settings, case_id: str, *, today: date | None = None,
                audience: str = "officer") -> CaseView:
    """One case (``RP-…``/``OB-…``) with its history and notices."""
    with engine(settings).connect() as conn:
        return case_view(conn, store.get_case(conn, case_id.strip()), today=today or date.today(), audience=audience)


def entity_cases(settings: Settings, uscc: str, *, today: date | None = None,
                 audience: str = "officer") -> EntityCases:
    """Every case of an entity (without histories), open ones first, then by due day."""
    today = today or date.today()
    problem = uscc_codes.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    with engine(settings).connect() as conn:
        cases = store.cases_of(conn, uscc)
        if not cases:
            raise NotFound(f"uscc: no repair cases or objections for {uscc}")
        items = [case_view(conn, c, today=today, events=False, audience=audience) for c in cases]
    items.sort(key=lambda c: (not c.open, c.due_on or date.max))
    return EntityCases(uscc=uscc, today=today, cases=tuple(items))


def status(settings: Settings, key: str, *, today: date | None = None,
           audience: str = "officer") -> CaseView | EntityCases:
    """Status by case id (``RP-…``/``OB-…``) or by credit code (every case of the entity)."""
    key = key.strip()
    if len(key) == uscc_codes.LENGTH and not key.startswith(("RP-", "OB-")):
        return entity_cases(settings, key, today=today, audience=audience)
    return case_status(settings, key, today=today, audience=audience)


def notice(settings: Settings, notice_id: str) -> tuple[Notice, str, str]:
    """A stored notice as issued: ``(Notice, text, html)``."""
    with engine(settings).connect() as conn:
        row = store.get_notice(conn, notice_id.strip())
    return Notice.from_dict(row["payload"]), row["text"], row["html"]
