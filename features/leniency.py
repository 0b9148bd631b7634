"""First-violation leniency (首违不罚 / 轻微免罚): decisions not to penalise, their count and second offences.

A leniency decision is a ``penalties`` row with ``leniency = true``: the same decision record (number, date,
domain) under the same corrections and objections as a penalty, left out of every penalty feature, label and
publicity (features/sql/penalties_in_effect.sql). Here it counts only as what it is, and a later offence of the
same domain within the repeat window (core/rules/leniency.toml) is recognised as a second offence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from core import rules
from core.errors import UserError
from features.catalog import Feature
from features.sources import PENALTY_DOMAINS

SQL = "leniency.sql"
STAGES = (("_leniency_known", "leniency_known.sql"),)
_D = "compliance"

FEATURES = (
    Feature("leniency_count_730d", _D, "penalties", "730d", "count", 1,
            "近两年首违不罚（轻微免罚）决定数", "decisions not to penalise a first or minor violation (首违不罚 / 轻微免罚) in "
            "the last 730 days; never counted as penalties"),
    Feature("leniency_then_offence_flag_730d", _D, "penalties", "730d", "flag", 1,
            "首违不罚后再次违法", "an offence of the same domain, decided in the last 730 days, within the repeat window "
            "after a leniency decision (core/rules/leniency.toml): a second offence"),
)


def repeat_window_months() -> int:
    """Months after a leniency decision in which another offence of the same domain is a second offence."""
    return int(rules.load("leniency")["first_violation"]["repeat_window_months"])


def params(as_of: date) -> dict:
    """SQL parameters of leniency_known.sql."""
    from features.snapshot import Sql

    return {"leniency_repeat_window": Sql(f"INTERVAL {repeat_window_months()} MONTH")}


@dataclass(frozen=True)
class LeniencyEligibility:
    """Whether a first-violation leniency decision is open for ``uscc`` in ``domain`` at ``as_of``."""

    uscc: str
    domain: str
    as_of: date
    eligible: bool
    prior_decision: str | None  # the leniency decision in the window that makes a new offence a second one
    prior_date: date | None
    zh: str
    en: str
    basis: str
    rules_version: str


def leniency_eligibility(con: duckdb.DuckDBPyConnection, uscc: str, domain: str, *,
                         as_of: date) -> LeniencyEligibility:
    """Not eligible when a leniency decision of the same domain was decided (and known) within the repeat window
    before ``as_of``: the new offence is a second one."""
    if domain not in PENALTY_DOMAINS:
        raise UserError(f"domain: expected one of {', '.join(PENALTY_DOMAINS)}, got {domain!r}")
    months = repeat_window_months()
    cfg = rules.load("leniency")["first_violation"]
    row = con.execute(
        "SELECT penalty_id, decided_date FROM penalties WHERE uscc = ? AND domain = ? AND COALESCE(leniency, FALSE) "
        f"AND decided_date < ? AND COALESCE(known_date, decided_date) < ? "
        f"AND decided_date >= CAST(? AS DATE) - INTERVAL {months} MONTH "
        "AND penalty_id NOT IN (SELECT record_id FROM record_corrections WHERE record_kind = 'penalty' "
        "AND outcome = 'void' AND effective_date <= ?) "
        "ORDER BY decided_date DESC, penalty_id LIMIT 1", [uscc, domain, as_of, as_of, as_of, as_of]).fetchall()
    version = rules.version("leniency")
    if not row:
        return LeniencyEligibility(uscc, domain, as_of, True, None, None,
                                   f"{months} 个月内无同类首违不罚记录，可适用首违不罚",
                                   f"no leniency decision in this domain in the last {months} months: eligible",
                                   cfg["basis"], version)
    pid, day = row[0]
    return LeniencyEligibility(uscc, domain, as_of, False, pid, day,
                               f"{day.isoformat()} 已作出首违不罚决定（{pid}），{months} 个月内再次违法不再适用首违不罚",
                               f"leniency decision {pid} of {day.isoformat()} is within {months} months: a second "
                               "offence is not eligible", cfg["basis"], version)


def check(settings, uscc: str, domain: str, *, as_of: date, actor: str,
          role: str | None = None) -> LeniencyEligibility:
    """:func:`leniency_eligibility` on the warehouse as the service sees it, audited."""
    from features.commitments import audited
    from features.warehouse import reader

    con = reader(settings)
    try:
        e = leniency_eligibility(con, uscc, domain, as_of=as_of)
    finally:
        con.close()
    audited(settings, actor=actor, role=role, action="leniency.check", subject=uscc,
            inputs={"domain": domain, "as_of": as_of},
            outcome="eligible" if e.eligible else f"second offence after {e.prior_decision}", version=e.rules_version)
    return e
