"""Step deadlines in working days (holiday calendar from core/rules/holidays.toml); overdue and due-soon cases."""

from __future__ import annotations

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


def due(settings: Settings, *, today: date | None = None, soon_workdays: int | None = None) -> dict[str, Any]:
    """Open cases and objections whose next step is overdue or due within ``soon_workdays`` working days.

    Returns:
        ``{"today", "soon_workdays", "overdue": [...], "due_soon": [...]}``, each item a case summary
        with its next step and due day, earliest first.
    """
    today = today or date.today()
    soon = soon_workdays if soon_workdays is not None else rules.section("application")["due_soon_workdays"]
    horizon = calendar().add_workdays(today, soon)
    with engine(settings).connect() as conn:
        rows = store.open_cases_due_by(conn, horizon)
    out: dict[str, Any] = {"today": today, "soon_workdays": soon, "overdue": [], "due_soon": []}
    for row in rows:
        flag = urgency(row["due_on"], today=today, soon_workdays=soon)
        item = {
            "case_id": row["case_id"], "case_type": row["case_type"], "kind": row["kind"], "uscc": row["uscc"],
            "state": rules.label("states", row["state"]), "next_step": rules.label("steps", row["next_step"]),
            "due_on": row["due_on"], "late_workdays": calendar().workdays_between(row["due_on"], today),
        }
        out[flag].append(item)
    return out
