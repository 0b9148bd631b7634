"""Inspection results: record outcomes, the 20-working-day publication deadline, overdue report, warehouse feed.

Results are recorded in the operational DB only (the service records them); the warehouse's
``inspections`` table learns of them in the next batch step (:func:`sync_warehouse`, one of
``features.warehouse.OPERATIONAL_FEEDS``), so the service never writes the warehouse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core import audit, inspection_results, opdb
from core.errors import Conflict, NotFound, UserError
from core.settings import Settings
from core.workdays import WorkdayCalendar
from features import fingerprints
from features.sources import INSPECTION_RESULTS
from inspection import store
from inspection.policy import load_policy

RESULT_LABELS = {r.code: (r.zh, r.en) for r in inspection_results.inspection_results()}  # code -> (zh, en)
ADVERSE_RESULTS = inspection_results.codes(finding=True)  # results that found a problem
WAREHOUSE_KIND = {"random": "random", "complaint": "complaint", "opinion_alert": "targeted", "case_lead": "targeted"}


def record_results(settings: Settings, *, results: Iterable[dict[str, Any]], actor: str,
                   correct: bool = False, today: date | None = None, plan_id: str | None = None,
                   role: str | None = None) -> dict[str, Any]:
    """Record outcomes (inspection_id, result, checked_on[, published_on]); the next batch step feeds the warehouse.

    Each result is due for publication ``result_workdays`` working days after ``checked_on``.
    A result already recorded is only replaced with ``correct=True``. Every result is audited.
    With ``plan_id`` every inspection must belong to that plan.

    Returns:
        {"recorded": n, "results": [{inspection_id, uscc, result, checked_on, due}]}
    """
    policy = load_policy()
    cal = WorkdayCalendar.from_rules()
    today = today or date.today()
    rows = [_validated(r, today) for r in results]
    if not rows:
        raise UserError("expected at least one result, got none")
    now = datetime.now(UTC)
    done = []
    with opdb.engine(settings).begin() as conn:
        for r in rows:
            insp = store.get_inspection(conn, r["inspection_id"])
            if plan_id and insp["plan_id"] != plan_id:
                raise NotFound(f"inspection {r['inspection_id']} is not in plan {plan_id}")
            if insp["result"] is not None and not correct:
                raise Conflict(f"inspection {r['inspection_id']} already has result {insp['result']!r} "
                               f"(recorded {insp['result_recorded_at']}); pass correct=True to replace it")
            due = cal.add_workdays(r["checked_on"], policy.result_workdays)
            store.set_result(conn, r["inspection_id"], result=r["result"], checked_on=r["checked_on"], due=due,
                             actor=actor, at=now)
            if r.get("published_on"):
                store.set_published(conn, r["inspection_id"], published_on=r["published_on"])
            audit.record(conn, actor=actor, role=role, action="inspection.result.correct" if insp["result"] else
                         "inspection.result", subject=r["inspection_id"], outcome=r["result"],
                         inputs={"uscc": insp["uscc"], "plan_id": insp["plan_id"],
                                 "checked_on": r["checked_on"], "previous": insp["result"]},
                         versions={"sampling": policy.versions["sampling"], "holidays": cal.version})
            done.append({**insp, "result": r["result"], "checked_on": r["checked_on"], "result_due": due})
    return {"recorded": len(done),
            "results": [{"inspection_id": d["inspection_id"], "uscc": d["uscc"], "result": d["result"],
                         "checked_on": d["checked_on"], "due": d["result_due"]} for d in done]}


def mark_published(settings: Settings, *, inspection_ids: Iterable[str], published_on: date,
                   actor: str, role: str | None = None) -> dict[str, Any]:
    """Record that results were published (一公开) on ``published_on``; says which were late."""
    cal = WorkdayCalendar.from_rules()
    late = []
    ids = list(inspection_ids)
    with opdb.engine(settings).begin() as conn:
        for iid in ids:
            insp = store.get_inspection(conn, iid)
            if insp["result"] is None:
                raise UserError(f"inspection {iid} has no result yet; record it before publishing")
            if published_on < insp["checked_on"]:
                raise UserError(f"inspection {iid}: published_on {published_on} is before checked_on "
                                f"{insp['checked_on']}")
            store.set_published(conn, iid, published_on=published_on)
            if published_on > insp["result_due"]:
                late.append({"inspection_id": iid, "workdays_late": cal.workdays_between(insp["result_due"],
                                                                                         published_on)})
            audit.record(conn, actor=actor, role=role, action="inspection.publish", subject=iid,
                         outcome="published late" if published_on > insp["result_due"] else "published",
                         inputs={"published_on": published_on, "due": insp["result_due"]})
    return {"published": len(ids), "late": late}


def overdue(settings: Settings, *, on: date | None = None, plan_id: str | None = None) -> dict[str, Any]:
    """Results recorded but not published whose 20-working-day deadline has passed by ``on``."""
    on = on or date.today()
    cal = WorkdayCalendar.from_rules()
    with opdb.engine(settings).connect() as conn:
        rows = store.unpublished_results(conn, due_before=on, plan_id=plan_id)
    for r in rows:
        r["workdays_overdue"] = cal.workdays_between(r["result_due"], on)
    return {"on": on, "overdue": len(rows), "items": rows}


def _validated(r: dict[str, Any], today: date) -> dict[str, Any]:
    iid = str(r.get("inspection_id") or "").strip()
    if not iid:
        raise UserError("each result needs an inspection_id")
    result = str(r.get("result") or "").strip()
    if result not in INSPECTION_RESULTS:
        raise UserError(f"inspection {iid}: result must be one of {list(INSPECTION_RESULTS)}, got {result!r}")
    checked_on = _date(r.get("checked_on"), f"inspection {iid}: checked_on")
    if checked_on > today:
        raise UserError(f"inspection {iid}: checked_on {checked_on} is in the future (today {today})")
    out = {"inspection_id": iid, "result": result, "checked_on": checked_on}
    if r.get("published_on"):
        out["published_on"] = _date(r["published_on"], f"inspection {iid}: published_on")
        if out["published_on"] < checked_on:
            raise UserError(f"inspection {iid}: published_on {out['published_on']} is before checked_on {checked_on}")
    return out


def _date(value: Any, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UserError(f"{what}: expected a date as YYYY-MM-DD, got {value!r}") from None


def sync_warehouse(settings: Settings) -> dict[str, int]:
    """Bring every recorded result into the warehouse ``inspections`` table (idempotent, by row hash).

    A result new to the warehouse is inserted; a corrected one replaces its row, the old one moving to
    ``inspections_history``; unchanged rows are left alone. Run by the batch steps, never by the service.
    """
    from features import warehouse

    with opdb.engine(settings).connect() as conn:
        done = [dict(r) for r in conn.execute(sa.select(store.INSPECTIONS).where(
            store.INSPECTIONS.c.result.is_not(None)).order_by(store.INSPECTIONS.c.inspection_id)).mappings()]
    if not done:
        return {"results": 0, "written": 0}
    frame = pd.DataFrame({
        "inspection_id": [d["inspection_id"] for d in done],
        "uscc": [d["uscc"] for d in done],
        "inspection_date": pd.to_datetime([d["checked_on"] for d in done]).date,
        "kind": [WAREHOUSE_KIND.get(d["kind"], "targeted") for d in done],
        "items": [d["items"] for d in done],
        "result": [d["result"] for d in done],
        "known_date": pd.to_datetime([d["checked_on"] for d in done]).date,
    })
    frame["_row_hash"] = [hashlib.sha256("|".join(map(str, row)).encode()).hexdigest()[:32]
                          for row in frame.itertuples(index=False)]
    with warehouse.batch(settings, purpose="sync inspection results", feeds=False):
        con = warehouse.connect(settings)
        try:
            con.register("_results", frame)
            new = con.execute("SELECT * FROM _results WHERE _row_hash NOT IN "
                              "(SELECT _row_hash FROM inspections WHERE _row_hash IS NOT NULL)").df()
            con.unregister("_results")
            if not new.empty:
                ingest_id = "inspection-results-" + hashlib.sha256("".join(new["_row_hash"]).encode()).hexdigest()[:12]
                new["_ingest_id"] = ingest_id
                con.register("_new_results", new)
                con.execute("BEGIN")
                cols = [r[0] for r in con.execute("DESCRIBE inspections").fetchall()]
                names = ", ".join(f'"{c}"' for c in cols)
                con.execute(f"INSERT INTO inspections_history ({names}, _superseded_by) SELECT {names}, ? "
                            "FROM inspections WHERE inspection_id IN (SELECT inspection_id FROM _new_results)",
                            [ingest_id])
                with fingerprints.changing(con, "inspections",
                                           "t.inspection_id IN (SELECT inspection_id FROM _new_results)"):
                    con.execute("DELETE FROM inspections WHERE inspection_id IN "
                                "(SELECT inspection_id FROM _new_results)")
                    con.execute(f"INSERT INTO inspections ({names}) SELECT {names} FROM _new_results")
                con.execute("COMMIT")
                con.unregister("_new_results")
        finally:
            con.close()
    return {"results": len(frame), "written": len(new)}
