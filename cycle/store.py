"""Cycle records in the operational DB: one row per month (inputs, versions, outputs) and one per step."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import NotFound

CYCLES = sa.table(
    "cycles",
    sa.column("cycle_id"), sa.column("as_of", sa.Date), sa.column("status"), sa.column("attempts", sa.Integer),
    sa.column("inputs"), sa.column("versions"), sa.column("outputs"), sa.column("error"),
    sa.column("started_at", sa.DateTime(timezone=True)), sa.column("finished_at", sa.DateTime(timezone=True)),
    sa.column("started_by"),
)
STEPS = sa.table(
    "cycle_steps",
    sa.column("cycle_id"), sa.column("step"), sa.column("status"), sa.column("attempt", sa.Integer),
    sa.column("pins"), sa.column("result"), sa.column("error"),
    sa.column("started_at", sa.DateTime(timezone=True)), sa.column("finished_at", sa.DateTime(timezone=True)),
    sa.column("seconds", sa.Float),
)
_JSON = ("inputs", "versions", "outputs", "pins", "result")


def cycle_id(as_of: date) -> str:
    """One cycle per as_of date: ``cycle-YYYYMMDD``."""
    return f"cycle-{as_of:%Y%m%d}"


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _decode(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in _JSON:
        if k in out:
            out[k] = json.loads(out[k]) if out[k] else {}
    return out


def now() -> datetime:
    return datetime.now(UTC)


def begin(eng: Engine, *, as_of: date, actor: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Open the month's cycle, or reopen it for another attempt; returns the cycle row."""
    cid = cycle_id(as_of)
    with eng.begin() as conn:
        row = conn.execute(sa.select(CYCLES).where(CYCLES.c.cycle_id == cid)).mappings().first()
        if row is None:
            conn.execute(sa.insert(CYCLES).values(
                cycle_id=cid, as_of=as_of, status="running", attempts=1, inputs=_dump(inputs), versions=_dump({}),
                outputs=_dump({}), started_at=now(), started_by=actor))
        else:
            kept = json.loads(row["inputs"] or "{}")
            merged = {**kept, **{k: v for k, v in inputs.items() if v is not None}}
            conn.execute(sa.update(CYCLES).where(CYCLES.c.cycle_id == cid).values(
                status="running" if row["status"] != "done" else "done", attempts=row["attempts"] + 1,
                inputs=_dump(merged), error=None))
        return _decode(conn.execute(sa.select(CYCLES).where(CYCLES.c.cycle_id == cid)).mappings().one())


def get(eng: Engine, as_of: date) -> dict[str, Any]:
    """The cycle of ``as_of`` with its steps (``steps: {name: row}``); NotFound when never run."""
    cid = cycle_id(as_of)
    with eng.connect() as conn:
        row = conn.execute(sa.select(CYCLES).where(CYCLES.c.cycle_id == cid)).mappings().first()
        if row is None:
            raise NotFound(f"no cycle for as_of {as_of} (expected one run with `credit-risk cycle --as-of {as_of}`)")
        out = _decode(row)
        out["steps"] = {r["step"]: _decode(r) for r in conn.execute(
            sa.select(STEPS).where(STEPS.c.cycle_id == cid).order_by(STEPS.c.started_at)).mappings()}
    return out


def cycles(eng: Engine, *, before: date | None = None, limit: int = 24) -> list[dict[str, Any]]:
    """Recent cycles (newest first), optionally only those before a date."""
    q = sa.select(CYCLES).order_by(CYCLES.c.as_of.desc()).limit(limit)
    if before is not None:
        q = q.where(CYCLES.c.as_of < before)
    with eng.connect() as conn:
        return [_decode(r) for r in conn.execute(q).mappings()]


def step_row(eng: Engine, as_of: date, step: str) -> dict[str, Any] | None:
    with eng.connect() as conn:
        row = conn.execute(sa.select(STEPS).where(STEPS.c.cycle_id == cycle_id(as_of),
                                                  STEPS.c.step == step)).mappings().first()
    return _decode(row) if row else None


def start_step(eng: Engine, as_of: date, step: str, *, pins: dict[str, Any] | None = None) -> dict[str, Any]:
    """Mark a step running (another attempt when it ran before); returns its row with the pins kept so far."""
    cid = cycle_id(as_of)
    with eng.begin() as conn:
        row = conn.execute(sa.select(STEPS).where(STEPS.c.cycle_id == cid, STEPS.c.step == step)
                           .with_for_update()).mappings().first()
        if row is None:
            conn.execute(sa.insert(STEPS).values(cycle_id=cid, step=step, status="running", attempt=1,
                                                 pins=_dump(pins or {}), started_at=now()))
        else:
            kept = json.loads(row["pins"] or "{}")
            conn.execute(sa.update(STEPS).where(STEPS.c.cycle_id == cid, STEPS.c.step == step).values(
                status="running", attempt=row["attempt"] + 1, pins=_dump({**(pins or {}), **kept}), error=None,
                started_at=now(), finished_at=None))
        return _decode(conn.execute(sa.select(STEPS).where(STEPS.c.cycle_id == cid, STEPS.c.step == step))
                       .mappings().one())


def pin(eng: Engine, as_of: date, step: str, **values: Any) -> None:
    """Remember what a step committed to (kept across attempts: the first pin wins)."""
    cid = cycle_id(as_of)
    with eng.begin() as conn:
        row = conn.execute(sa.select(STEPS.c.pins).where(STEPS.c.cycle_id == cid, STEPS.c.step == step)).first()
        kept = json.loads(row[0] or "{}") if row else {}
        conn.execute(sa.update(STEPS).where(STEPS.c.cycle_id == cid, STEPS.c.step == step).values(
            pins=_dump({**values, **kept})))


def finish_step(eng: Engine, as_of: date, step: str, *, result: dict[str, Any], seconds: float,
                status: str = "done") -> None:
    with eng.begin() as conn:
        conn.execute(sa.update(STEPS).where(STEPS.c.cycle_id == cycle_id(as_of), STEPS.c.step == step).values(
            status=status, result=_dump(result), finished_at=now(), seconds=round(seconds, 3), error=None))


def fail_step(eng: Engine, as_of: date, step: str, *, error: str, seconds: float) -> None:
    with eng.begin() as conn:
        conn.execute(sa.update(STEPS).where(STEPS.c.cycle_id == cycle_id(as_of), STEPS.c.step == step).values(
            status="failed", error=error[:2000], finished_at=now(), seconds=round(seconds, 3)))
        conn.execute(sa.update(CYCLES).where(CYCLES.c.cycle_id == cycle_id(as_of)).values(
            status="failed", error=f"{step}: {error}"[:2000]))


def finish(eng: Engine, as_of: date, *, versions: dict[str, Any], outputs: dict[str, Any]) -> None:
    with eng.begin() as conn:
        conn.execute(sa.update(CYCLES).where(CYCLES.c.cycle_id == cycle_id(as_of)).values(
            status="done", versions=_dump(versions), outputs=_dump(outputs), finished_at=now(), error=None))
