"""Step deadlines in working days (holiday calendar from core/rules/holidays.toml); overdue and due-soon cases."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from typing import Any

from core.opdb import engine
from core.settings import Settings
from core.workdays import WorkdayCalendar
from repair import rules, store
from repair.procedures import Procedure


@cache
def calendar() -> WorkdayCalendar:
    """The working-day calendar deadlines are counted on."""
    return WorkdayCalendar.from_rules()


def due_date(procedure: Procedure, step: str | None, milestones: dict[str, Any]) -> date | None:
    """The day ``step`` of a case is due under its procedure, counted from the milestone its rule names."""
    if step is None:
        return None
    rule = procedure.deadlines.get(step)
    if rule is None:
        return None
    workdays, anchor_state = rule
    anchor = milestones.get(anchor_state)
    if anchor is None:
        return None
    anchor = anchor if isinstance(anchor, date) else date.fromisoformat(str(anchor))
    return calendar().add_workdays(anchor, workdays)


def urgency(due_on: date | None, *, today: date, soon_workdays: int | None = None) -> str | None:
    """``overdue`` (past its due day), ``due_soon`` (within ``soon_workdays`` working days), ``on_time`` or None."""
    if due_on is None:
        return None
    if due_on < today:
        return "overdue"
    soon = soon_workdays if soon_workdays is not None else rules.section("application")["due_soon_workdays"]
    return "due_soon" if due_on <= calendar().add_workdays(today, soon) else "on_time"


@dataclass(frozen=True)
class DueItem:
    """A case whose next step is overdue or due soon."""

    case_id: str
    case_type: str
    kind: str
    uscc: str
    state: rules.Label
    next_step: rules.Label
    due_on: date
    late_workdays: int  # working days past the due day (0 when not late)


@dataclass(frozen=True)
class DueList:
    """The officers' deadline list: overdue and due-soon steps, earliest first."""

    today: date
    soon_workdays: int
    overdue: tuple[DueItem, ...]
    due_soon: tuple[DueItem, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def due(settings: Settings, *, today: date | None = None, soon_workdays: int | None = None) -> DueList:
    """Open cases and objections whose next step is overdue or due within ``soon_workdays`` working days."""
    today = today or date.today()
    soon = soon_workdays if soon_workdays is not None else rules.section("application")["due_soon_workdays"]
    horizon = calendar().add_workdays(today, soon)
    with engine(settings).connect() as conn:
        rows = store.open_cases_due_by(conn, horizon)
    out: dict[str, list[DueItem]] = {"overdue": [], "due_soon": []}
    for row in rows:
        flag = urgency(row["due_on"], today=today, soon_workdays=soon)
        out[flag].append(DueItem(
            case_id=row["case_id"], case_type=row["case_type"], kind=row["kind"], uscc=row["uscc"],
            state=rules.label_of("states", row["state"]), next_step=rules.label_of("steps", row["next_step"]),
            due_on=row["due_on"], late_workdays=calendar().workdays_between(row["due_on"], today)))
    return DueList(today=today, soon_workdays=soon, overdue=tuple(out["overdue"]), due_soon=tuple(out["due_soon"]))
