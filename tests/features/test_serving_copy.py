"""The service's read-only warehouse copy: published atomically, refreshed only outside the service and
never while a batch job holds the warehouse, old generations removed without breaking a reader."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from core import locks
from core.errors import Busy
from features import warehouse

HOLD = """
import sys, time
from pathlib import Path
from core import locks
with locks.hold(Path(sys.argv[1]), sys.argv[2], purpose="a test batch job", actor="tester"):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def _entity(con, uscc: str) -> None:
    con.execute("INSERT INTO entities (uscc, name, entity_type, status) VALUES (?, 'x', 'enterprise', 'active')",
                [uscc])


def _count(con) -> int:
    try:
        return con.execute("SELECT COUNT(*) FROM entities").fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture
def holder(settings):
    """``holder(name, seconds)``: another process that holds the home's lock ``name`` for a while."""
    procs = []

    def start(name: str, seconds: float = 20) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", HOLD, str(settings.home), name, str(seconds)],
                             stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "held"
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_the_copy_holds_the_served_tables_and_is_swapped_atomically(settings):
    con = warehouse.connect(settings)
    _entity(con, "E1")
    con.execute("INSERT INTO quarantine (ingest_id, rule) VALUES ('i', 'r')")
    con.close()
    first = warehouse.publish_serving_copy(settings)
    assert first["generation"] == 1 and {"entities", "repairs", "penalties", "quarantine"} <= set(first["tables"])
    assert warehouse.publish_serving_copy(settings, only_if_stale=True) == first  # nothing changed
    path = warehouse.serving_dir(settings) / first["file"]
    assert path.stat().st_mode & 0o222 == 0  # published copies are never written again
    assert _count(warehouse.reader(settings)) == 1
    with pytest.raises(Exception, match="read-only"):
        warehouse.reader(settings).execute("DELETE FROM entities")


def test_outside_the_service_a_changed_warehouse_is_copied_again_inside_it_only_batch_jobs_publish(
        settings, monkeypatch):
    warehouse.publish_serving_copy(settings)
    con = warehouse.connect(settings)
    _entity(con, "E2")
    con.close()
    monkeypatch.setenv(warehouse.SERVICE_ENV, "1")
    assert _count(warehouse.reader(settings)) == 0  # the service reads the last published copy
    monkeypatch.delenv(warehouse.SERVICE_ENV)
    assert _count(warehouse.reader(settings)) == 1  # a command refreshes it first
    assert warehouse.current_copy(settings)["generation"] == 2


def test_a_transaction_open_in_this_process_does_not_stop_the_copy(settings):
    con = warehouse.connect(settings)
    _entity(con, "E1")
    other = con.cursor()
    other.execute("BEGIN")
    other.execute("INSERT INTO entities (uscc, name) VALUES ('UNCOMMITTED', 'x')")
    try:
        pointer = warehouse.publish_serving_copy(settings)  # only what is committed is copied
    finally:
        other.execute("ROLLBACK")
        con.close()
    assert pointer["generation"] == 1 and _count(warehouse.reader(settings)) == 1


def test_old_generations_are_removed_while_a_reader_keeps_its_view(settings):
    con = warehouse.connect(settings)
    _entity(con, "E1")
    con.close()
    warehouse.publish_serving_copy(settings)
    old = warehouse.reader(settings)
    for n in range(3):
        con = warehouse.connect(settings)
        _entity(con, f"F{n}")
        con.close()
        warehouse.publish_serving_copy(settings)
    files = sorted(p.name for p in warehouse.serving_dir(settings).glob("warehouse-*.duckdb"))
    assert files == ["warehouse-000003.duckdb", "warehouse-000004.duckdb"]
    assert _count(old) == 1  # generation 1 is gone from the folder, not from the reader that has it open
    assert _count(warehouse.reader(settings)) == 4


def test_while_a_batch_job_holds_the_warehouse_readers_get_the_last_copy_without_waiting(settings, holder):
    warehouse.publish_serving_copy(settings)
    con = warehouse.connect(settings)
    _entity(con, "E3")
    con.close()
    holder(warehouse.LOCK)
    started = time.monotonic()
    assert _count(warehouse.reader(settings)) == 0
    assert time.monotonic() - started < 2
    assert warehouse.current_copy(settings)["generation"] == 1


def test_a_held_lock_refuses_naming_its_holder_or_waits_a_bounded_time(settings, holder):
    proc = holder("cycle")
    info = locks.holder(settings.home, "cycle")
    assert info["pid"] == proc.pid and info["purpose"] == "a test batch job"
    with (pytest.raises(Busy, match=f"pid {proc.pid} on .*a test batch job, actor tester.*--wait"),
          locks.hold(settings.home, "cycle", purpose="second")):
        pass
    with pytest.raises(Busy, match="waited 1 s"), locks.hold(settings.home, "cycle", purpose="second", wait=1):
        pass
    proc.kill()  # the lock dies with its holder, kill -9 included
    proc.wait()
    assert locks.holder(settings.home, "cycle") is None
    with locks.hold(settings.home, "cycle", purpose="third") as took:
        assert took
        with locks.hold(settings.home, "cycle", purpose="nested") as again:
            assert again is False  # re-entrant within the process


def test_a_copy_taken_under_an_older_source_contract_is_refreshed_with_the_new_tables(settings, monkeypatch):
    """After an upgrade adds a source table, a starting service (ensure_copy) publishes a copy that has it,
    although the warehouse file itself did not change."""
    first = warehouse.publish_serving_copy(settings)
    assert warehouse.publish_serving_copy(settings, only_if_stale=True) == first
    monkeypatch.setattr(warehouse, "_schema_key", lambda: "a-newer-contract")
    second = warehouse.ensure_copy(settings)
    assert second["generation"] == first["generation"] + 1 and second["schema"] == "a-newer-contract"
