"""Cycle records on the operational DB (SQLite, and PostgreSQL when a URL is given)."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import NotFound
from core.opdb import engine
from cycle import store

AS_OF = date(2025, 3, 1)


def test_a_cycle_keeps_its_steps_pins_and_attempts_across_reruns(db_settings):
    eng = engine(db_settings)
    first = store.begin(eng, as_of=AS_OF, actor="test", inputs={"drop": "/drops/2025-02", "retrain_mode": "auto"})
    assert first["cycle_id"] == "cycle-20250301" and first["status"] == "running" and first["attempts"] == 1
    store.start_step(eng, AS_OF, "publish")
    store.pin(eng, AS_OF, "publish", model_version="4", snapshot_id="snap-a")
    store.fail_step(eng, AS_OF, "publish", error="RuntimeError: killed", seconds=1.5)
    failed = store.get(eng, AS_OF)
    assert failed["status"] == "failed" and "killed" in failed["error"]
    assert failed["steps"]["publish"]["status"] == "failed"

    again = store.begin(eng, as_of=AS_OF, actor="test", inputs={"drop": None, "retrain_mode": "auto"})
    assert again["attempts"] == 2 and again["inputs"]["drop"] == "/drops/2025-02"  # kept from the first attempt
    row = store.start_step(eng, AS_OF, "publish", pins={"model_version": "5"})
    assert row["attempt"] == 2 and row["pins"] == {"model_version": "4", "snapshot_id": "snap-a"}  # first pin wins
    store.finish_step(eng, AS_OF, "publish", result={"publication_id": "pub-1"}, seconds=2.0)
    store.finish(eng, AS_OF, versions={"model_version": "4"}, outputs={"published": 10})
    done = store.get(eng, AS_OF)
    assert done["status"] == "done" and done["outputs"] == {"published": 10} and done["error"] is None
    assert done["steps"]["publish"]["result"] == {"publication_id": "pub-1"}
    assert store.begin(eng, as_of=AS_OF, actor="test", inputs={})["status"] == "done"


def test_cycles_are_listed_newest_first_and_a_missing_month_is_not_found(db_settings):
    eng = engine(db_settings)
    for month in (1, 2, 3):
        store.begin(eng, as_of=date(2025, month, 1), actor="test", inputs={})
    assert [c["as_of"] for c in store.cycles(eng, before=date(2025, 3, 1))] == [date(2025, 2, 1), date(2025, 1, 1)]
    with pytest.raises(NotFound, match="2024-12-01"):
        store.get(eng, date(2024, 12, 1))
