"""Objections (异议) to an abnormal listing: filed within 30 days, accepted, verified, corrected — each with its deadline."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from core.errors import Conflict, NotFound, UserError
from core.settings import Settings
from repair import rules, workflow

OBJECTION = workflow.Machine(
    case_type="objection",
    transitions={
        "accept": (frozenset({"filed"}), "accepted"),
        "not_accept": (frozenset({"filed"}), "not_accepted"),
        "uphold": (frozenset({"accepted"}), "upheld"),
        "dismiss": (frozenset({"accepted"}), "dismissed"),
        "correct": (frozenset({"upheld"}), "corrected"),
    },
    next_step={"filed": "accept", "accepted": "verify", "upheld": "correct"},
    closing=frozenset({"not_accepted", "dismissed", "corrected"}),
    reason_required=frozenset({"not_accept", "uphold", "dismiss"}),
)
workflow.register(OBJECTION)


def file(settings: Settings, *, uscc: str, listing_id: str, actor: str, grounds: str | None = None,
         on: date | None = None, role: str | None = None) -> dict[str, Any]:
    """File an objection to an abnormal listing (within the window counted from the listing date).

    Args:
        uscc: the listed entity; listing_id: the abnormal-list listing objected to.
        grounds: a short statement of the grounds (kept with the case, not in the audit log).
        on: the filing date (default today).

    Returns:
        The objection's status (state ``filed``, next step ``accept`` with its due day).
    """
    on = workflow._check_day(on, earliest=None)
    listing = _listing(settings, uscc, listing_id)
    listed = listing["listed_date"]
    if listed > on:
        raise UserError(f"on: expected a filing date on or after the listing ({listed}), got {on}")
    removed = listing["removed_date"]
    if removed is not None and removed <= on:
        raise Conflict(f"listing_id: abnormal listing {listing_id} was already removed on {removed}")
    last = listed + timedelta(days=int(rules.section("objection")["file_within_days"]))
    if on > last:
        raise UserError(f"on: objections to listing {listing_id} (listed {listed}) must be filed by {last}, "
                        f"got {on}")
    details = {"grounds": (grounds or "").strip()[:2000], "listed_date": listed, "file_by": last,
               "reason": listing["reason"]}
    return workflow.open_case(settings, machine=OBJECTION, state="filed", prefix="OB", uscc=uscc,
                              kind="abnormal_objection", record_kind="abnormal_list", record_id=listing_id,
                              actor=actor, role=role, on=on, documents={}, eligibility={}, details=details)


def _listing(settings: Settings, uscc: str, listing_id: str) -> dict[str, Any]:
    from features.warehouse import connect

    problem = workflow.uscc_codes.problem(uscc)
    if problem:
        raise UserError(f"uscc: {problem}")
    con = connect(settings)
    try:
        cur = con.execute("SELECT listing_id, listed_date, reason, removed_date FROM abnormal_list "
                          "WHERE uscc = ? AND listing_id = ?", [uscc, listing_id])
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
    finally:
        con.close()
    if row is None:
        raise NotFound(f"listing_id: entity {uscc} has no abnormal listing {listing_id!r}")
    return dict(zip(names, row, strict=True))
