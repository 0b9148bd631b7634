"""Publicity (effect) periods shared by features, labels, repair and synth, read from core/rules/publicity.toml.

A penalty falls in the first publicity class (``[[penalty.class]]``) whose conditions hold; a class of 0 months
is not published and never counts as "in publicity". :func:`penalty_class` decides it for one penalty in
Python, :func:`penalty_class_sql` writes the same decision as standard SQL; a test keeps them in agreement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from core import rules
from core.workdays import WorkdayCalendar, add_months


@dataclass(frozen=True)
class PublicityClass:
    """One row of ``[[penalty.class]]``: its conditions (empty = any) and its period in months."""

    code: str
    zh: str
    en: str
    months: int
    procedures: tuple[str, ...] = ()
    only_sanctions: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    low_fine: bool = False

    @property
    def published(self) -> bool:
        return self.months > 0


@cache
def penalty_classes() -> tuple[PublicityClass, ...]:
    """The publicity classes in the order they are tried; the last must have no condition (the default)."""
    rows = rules.load("publicity").get("penalty", {}).get("class", [])
    try:
        out = tuple(PublicityClass(
            code=str(r["code"]), zh=str(r["zh"]), en=str(r["en"]), months=int(r["months"]),
            procedures=tuple(r.get("procedures", ())), only_sanctions=tuple(r.get("only_sanctions", ())),
            severities=tuple(r.get("severities", ())), low_fine=bool(r.get("low_fine", False))) for r in rows)
    except KeyError as exc:
        raise rules.RulesError(f"core/rules/publicity.toml: every [[penalty.class]] needs {exc.args[0]!r}") from None
    if not out or out[-1].procedures or out[-1].only_sanctions or out[-1].severities or out[-1].low_fine:
        raise rules.RulesError("core/rules/publicity.toml: expected the last [[penalty.class]] to have no "
                               "condition (the default class)")
    return out


def low_fine_limit(entity_type: str | None) -> float:
    """The highest fine (yuan) counted as low for an entity type (较低数额罚款)."""
    limits = rules.load("publicity")["penalty"]["low_fine_max_yuan"]
    return float(limits.get(entity_type or "", limits["default"]))


def penalty_class(*, procedure: str, severity: str, sanctions: Iterable[str], fine_amount: float | None,
                  entity_type: str | None) -> PublicityClass:
    """The publicity class of one penalty."""
    given = {s for s in sanctions if s}
    fine = float(fine_amount or 0.0)
    for c in penalty_classes():
        if c.procedures and procedure not in c.procedures:
            continue
        if c.only_sanctions and not (given and given <= set(c.only_sanctions)):
            continue
        if c.severities and severity not in c.severities:
            continue
        if c.low_fine and fine > low_fine_limit(entity_type):
            continue
        return c
    raise AssertionError("unreachable: the last class has no condition")


def publicity_end(cls: PublicityClass, *, decided: date, published: date | None = None,
                  restriction_end: date | None = None, calendar: WorkdayCalendar | None = None) -> date:
    """When a penalty of class ``cls`` with no recorded publicity end leaves publicity: the class's months from
    its publication date (recorded, else the decision + ``publish_within_workdays`` working days), and not
    before a recorded restriction ends (第十四条). The Python twin of ``features/sql/penalties_in_effect.sql``."""
    if published is None:
        within = int(rules.load("publicity")["penalty"]["publish_within_workdays"])
        published = (calendar or WorkdayCalendar.from_rules()).add_workdays(decided, within)
    end = add_months(published, cls.months)
    return max(end, restriction_end) if restriction_end is not None else end


def penalty_class_sql(*, sanctions: Iterable[str], p: str = "p", entity_type: str = "e.entity_type") -> str:
    """Standard SQL giving the class code of the penalty row ``p`` (``sanctions`` ';'-joined) whose entity type is
    the SQL expression ``entity_type``; ``sanctions``: every sanction code the column may hold (the contract's)."""
    limits = rules.load("publicity")["penalty"]["low_fine_max_yuan"]
    low = ("CASE " + " ".join(f"WHEN {entity_type} = '{t}' THEN {float(v)!r}" for t, v in sorted(limits.items())
                              if t != "default") + f" ELSE {float(limits['default'])!r} END")
    whens = []
    for c in penalty_classes()[:-1]:
        cond = []
        if c.procedures:
            cond.append(f"{p}.procedure IN ({_list(c.procedures)})")
        if c.only_sanctions:
            others = [s for s in sanctions if s not in c.only_sanctions]
            cond.append(f"{p}.sanctions IS NOT NULL AND {p}.sanctions <> ''")
            cond += [f"(';' || {p}.sanctions || ';') NOT LIKE '%;{s};%'" for s in others]
        if c.severities:
            cond.append(f"{p}.severity IN ({_list(c.severities)})")
        if c.low_fine:
            cond.append(f"COALESCE({p}.fine_amount, 0) <= {low}")
        whens.append(f"WHEN {' AND '.join(cond)} THEN '{c.code}'")
    return f"CASE {' '.join(whens)} ELSE '{penalty_classes()[-1].code}' END"


def months_sql(class_code: str) -> str:
    """Standard SQL giving the months of the class named by the SQL expression ``class_code``."""
    return "CASE " + " ".join(f"WHEN {class_code} = '{c.code}' THEN {c.months}" for c in penalty_classes()) + " END"


def _list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def publicity_rules() -> dict[str, Any]:
    """Penalty publicity periods, the serious-list automatic removal and the annual-report deadline
    (市场监督管理行政处罚信息公示规定 and related rules)."""
    table = rules.load("publicity")
    try:
        pen, ser, ar = table["penalty"], table["serious_list"], table["annual_report"]
        return {
            "version": str(table["meta"]["version"]),
            "publish_within_workdays": int(pen["publish_within_workdays"]),
            "serious_auto_removal_months": int(ser["auto_removal_months"]),
            "serious_void_removals": list(ser["void_removal_reasons"]),
            "report_due": (int(ar["season_end_month"]), int(ar["season_end_day"])),
            "abnormal_listing_workdays": int(ar["abnormal_listing_workdays"]),
            "years_missing_before_revocation": int(ar["years_missing_before_revocation"]),
        }
    except KeyError as exc:
        raise rules.RulesError(
            f"core/rules/publicity.toml: expected the key {exc.args[0]!r} "
            "([penalty] publish_within_workdays, [[penalty.class]]; [serious_list] "
            "auto_removal_months, void_removal_reasons; [annual_report] "
            "season_end_month, season_end_day, abnormal_listing_workdays, years_missing_before_revocation)") from None
