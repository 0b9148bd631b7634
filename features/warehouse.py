"""The DuckDB warehouse: validated source tables (named as in the source contract), their history,
quarantine, ingest runs, repairs and feature snapshots — and the read-only copy the service reads.

Batch jobs (ingest, snapshot, training, the cycle) write the warehouse inside :func:`batch`, which holds
the home's ``warehouse`` lock, brings the operational DB's decisions in (:data:`OPERATIONAL_FEEDS`) and
ends by publishing a read-only copy under ``<home>/serving/``. Code that runs in the service reads the
warehouse only through :func:`reader`, which opens that copy: the service never holds the warehouse file,
so a cycle beside it neither fails on DuckDB's file lock nor makes the service fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from core import locks
from core.errors import Busy
from core.settings import Settings
from features.sources import PERSON_KEY_COLUMN, SOURCES, Table

DUCKDB_TYPES = {
    "str": "VARCHAR", "uscc": "VARCHAR", "enum": "VARCHAR", "list": "VARCHAR",
    "int": "BIGINT", "float": "DOUBLE", "money": "DOUBLE", "date": "DATE", "bool": "BOOLEAN",
}
# Extra warehouse-only columns per table (added by ingest).
EXTRA_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "relations": [(PERSON_KEY_COLUMN, "VARCHAR")],
    "opinions": [("match_method", "VARCHAR")],  # vendor | name_exact | unmatched
}
DUCKDB_MEMORY = "6GB"  # operational, not a rule: the warehouse connections' memory bound (see limit_memory)
LINEAGE_COLUMNS = [("_row_hash", "VARCHAR"), ("_ingest_id", "VARCHAR")]
# Storage hints: a row hash (or a pseudonym) is random text that no string compression shrinks much, and DuckDB's attempt to
# dictionary/FSST-compress it more than doubles the cost of a bulk insert (bench/README.md, ingest).
STORAGE = {"_row_hash": "USING COMPRESSION uncompressed", PERSON_KEY_COLUMN: "USING COMPRESSION uncompressed"}


def connect(settings: Settings, *, read_only: bool = False, memory: str = DUCKDB_MEMORY) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file under the home, creating it (and its source tables) on first use; ``memory`` is the
    bound when ``CREDIT_RISK_DUCKDB_MEMORY`` is not set (limit_memory)."""
    path: Path = settings.warehouse_path
    read_only = read_only and path.exists()
    if not read_only:
        settings.ensure_home()
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET enable_progress_bar = false")  # it would corrupt --json output; progress goes via core.progress
    limit_memory(con, path.parent / "duckdb-tmp", default=memory)
    if not read_only:
        create_source_tables(con)
        create_ingest_tables(con)
    return con


def limit_memory(con: duckdb.DuckDBPyConnection, temp_dir: Path, *, default: str = DUCKDB_MEMORY) -> None:
    """Bound DuckDB's memory (``CREDIT_RISK_DUCKDB_MEMORY``, else ``default``; DuckDB's own default is 80% of the
    machine) and spill to ``temp_dir`` under the home, so that a large district runs out of core."""
    limit = os.environ.get("CREDIT_RISK_DUCKDB_MEMORY", default)
    con.execute(f"SET memory_limit = '{limit}'")
    # a second connection to a database open in this process shares its settings, and DuckDB refuses to set the
    # directory again once something has spilled there (a publication reading the snapshot beside its records)
    if con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] != str(temp_dir):
        con.execute(f"SET temp_directory = '{temp_dir}'")


def warehouse_columns(table: Table) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a source table as stored: personal columns replaced by their pseudonym."""
    cols = [(c.name, DUCKDB_TYPES[c.kind]) for c in table.columns if not c.personal]
    return cols + EXTRA_COLUMNS.get(table.name, [])


def create_source_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every source table, its ``<name>_history`` twin, and the ``repairs`` and ``record_corrections`` tables."""
    for table in SOURCES.values():
        cols = warehouse_columns(table) + LINEAGE_COLUMNS
        ddl = ", ".join(f'"{n}" {t} {STORAGE.get(n, "")}'.rstrip() for n, t in cols)
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table.name}" ({ddl})')
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table.name}_history" ({ddl}, "_superseded_by" VARCHAR)')
    _add_new_columns(con)
    # Repairs decided by the bureau's own workflow (repair/): a repaired record stops counting
    # in features from repaired_date. record_kind is penalty | abnormal_list | serious_list.
    con.execute(
        "CREATE TABLE IF NOT EXISTS repairs (record_kind VARCHAR, record_id VARCHAR, uscc VARCHAR, "
        "repaired_date DATE, known_date DATE, case_id VARCHAR, revoked_date DATE)"
    )
    # Records voided or corrected by an upheld objection (repair/objections.py): a voided record stops
    # counting in features from effective_date; a correction row gives one field's corrected value.
    # outcome is void | correct; field and value are NULL for a void.
    con.execute(
        "CREATE TABLE IF NOT EXISTS record_corrections (record_kind VARCHAR, record_id VARCHAR, uscc VARCHAR, "
        "outcome VARCHAR, field VARCHAR, value VARCHAR, effective_date DATE, known_date DATE, case_id VARCHAR)"
    )


def _add_new_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add to a warehouse made before them the optional columns the contract gained since (e.g.
    ``opinions.published_at``), empty for the rows already there."""
    have: dict[str, set[str]] = {}
    for t, c in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = 'main'").fetchall():
        have.setdefault(t, set()).add(c)
    for table in SOURCES.values():
        for name in (table.name, f"{table.name}_history"):
            for col, typ in warehouse_columns(table):
                if col not in have.get(name, {col}):
                    con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {typ}')


def create_ingest_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``quarantine`` (rejected rows with rule, detail and original values) and ``ingest_runs``."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS quarantine (ingest_id VARCHAR, table_name VARCHAR, rule VARCHAR, "
        "detail VARCHAR, source_file VARCHAR, row_number BIGINT, original VARCHAR, row_hash VARCHAR, "
        "quarantined_at TIMESTAMP)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS ingest_runs (ingest_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, "
        "finished_at TIMESTAMP, drop_dir VARCHAR, as_of DATE, actor VARCHAR, loaded BIGINT, "
        "quarantined BIGINT, summary VARCHAR)"
    )


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, or None. Reads the whole result: in DuckDB 2 a half-read ``fetchone()``
    result left on a connection makes its next ``register``/``sql`` call fail."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when a table or view called ``name`` is visible on ``con``."""
    row = first_row(con, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [name])
    return bool(row and row[0])


# ------------------------------------------------------------------------------------------------ batch writes
log = logging.getLogger(__name__)
LOCK = "warehouse"
# Decisions taken in the operational DB that the warehouse learns of in the next batch step: "module:function"
# names, resolved when a batch runs (the packages that own them sit above this one).
OPERATIONAL_FEEDS = {"repairs": "repair.workflow:sync_warehouse",
                     "inspection_results": "inspection.results:sync_warehouse",
                     "opinion_ledger": "opinion_ledger.workflow:sync_warehouse",
                     # the other way: the warehouse's new negative items open 舆情台账 entries (idempotent)
                     "opinion_ledger_open": "opinion_ledger.workflow:open_from_batch"}
KEEP_GENERATIONS = 2  # the current copy and the one before (requests may still be reading it)
SERVICE_ENV = "CREDIT_RISK_SERVICE"  # set to "1" in the service's processes: they never open the warehouse


@contextlib.contextmanager
def batch(settings: Settings, *, purpose: str, actor: str | None = None, wait: bool | float = True,
          feeds: bool = True) -> Iterator[bool]:
    """Hold the warehouse for a batch job; at the end bring the operational feeds in and publish the copy.

    Re-entrant: an ingest inside a cycle runs in the cycle's hold, and only the outermost hold syncs and
    publishes. Yields True for the outermost hold. A failed job publishes nothing (the service keeps
    the last good copy).
    """
    with locks.hold(settings.home, LOCK, purpose=purpose, actor=actor, wait=wait) as outermost:
        yield outermost
        if outermost:
            if feeds:
                sync_operational(settings)
            publish_serving_copy(settings, only_if_stale=True)


def sync_operational(settings: Settings) -> dict[str, Any]:
    """Run every :data:`OPERATIONAL_FEEDS` function (each idempotent); returns their results by name."""
    out = {}
    with locks.hold(settings.home, LOCK, purpose="sync operational decisions", wait=True):
        for name, target in OPERATIONAL_FEEDS.items():
            module, fn = target.split(":")
            result = getattr(importlib.import_module(module), fn)(settings)
            out[name] = result.as_dict() if hasattr(result, "as_dict") else result
    return out


def serving_dir(settings: Settings) -> Path:
    return settings.home / "serving"


def _pointer(settings: Settings) -> Path:
    return serving_dir(settings) / "current.json"


def _signature(settings: Settings) -> list[int] | None:
    """What changes when the warehouse changes: size and mtime of the file and of its write-ahead log."""
    out: list[int] = []
    for path in (settings.warehouse_path, Path(f"{settings.warehouse_path}.wal")):
        try:
            st = path.stat()
        except FileNotFoundError:
            out += [0, 0]
            continue
        out += [st.st_size, st.st_mtime_ns]
    return out if out[0] else None


def current_copy(settings: Settings) -> dict[str, Any] | None:
    """The pointer to the published copy: ``{"file", "generation", "signature", "published_at", "tables"}``."""
    try:
        return json.loads(_pointer(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def publish_serving_copy(settings: Settings, *, only_if_stale: bool = False) -> dict[str, Any] | None:
    """Write a read-only copy of the warehouse to ``serving/warehouse-<gen>.duckdb`` and swap the pointer to it.

    Holds the warehouse lock (waiting for a batch job in progress). The copy is complete before the pointer
    (written to a temporary file, then ``os.replace``) names it; generations older than
    :data:`KEEP_GENERATIONS` are removed (a reader that still has one open keeps reading it).
    Returns the new pointer, or the current one when ``only_if_stale`` and nothing changed.
    """
    with locks.hold(settings.home, LOCK, purpose="publish the service's warehouse copy", wait=True):
        return _publish(settings, only_if_stale=only_if_stale)


def _schema_key() -> str:
    """The source contract's tables and columns: a copy taken under another contract (before an upgrade added a
    table or column) is stale even when the warehouse file did not change."""
    shape = [[t.name, [c.name for c in t.columns]] for t in SOURCES.values()]
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def _publish(settings: Settings, *, only_if_stale: bool) -> dict[str, Any] | None:
    pointer = current_copy(settings)
    if (only_if_stale and pointer and pointer.get("signature") == _signature(settings)
            and pointer.get("schema") == _schema_key()):
        return pointer
    folder = serving_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    generation = int(pointer["generation"]) + 1 if pointer else 1
    name = f"warehouse-{generation:06d}.duckdb"
    for stale in folder.glob(".warehouse-*.tmp"):  # left by a publisher that died (we hold the lock)
        stale.unlink(missing_ok=True)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    started = time.perf_counter()
    con = connect(settings)
    try:
        con.execute("CHECKPOINT")  # everything committed into the file; nobody writes it meanwhile (we hold the lock)
        wal = Path(f"{settings.warehouse_path}.wal")
        if wal.exists() and wal.stat().st_size:  # not checkpointed (a transaction open on another connection
            _export(con, tmp)                     # of this process): copy table by table instead
        else:
            shutil.copyfile(settings.warehouse_path, tmp)
    finally:
        con.close()
    check = duckdb.connect(str(tmp), read_only=True)
    try:
        tables = [r[0] for r in check.execute("SELECT table_name FROM information_schema.tables "
                                              "WHERE table_schema = 'main' ORDER BY table_name").fetchall()]
    finally:
        check.close()
    os.chmod(tmp, 0o440)
    os.replace(tmp, folder / name)
    new = {"file": name, "generation": generation, "signature": _signature(settings), "schema": _schema_key(),
           "tables": tables,
           "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "seconds": round(time.perf_counter() - started, 3)}
    staged = folder / f".current.{os.getpid()}.tmp"
    staged.write_text(json.dumps(new), encoding="utf-8")
    os.replace(staged, _pointer(settings))
    _clean(folder, keep=generation)
    return new


def _export(con: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Every table of the warehouse into a new file (~11x slower than copying the file, bench/README.md)."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database() AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]
    con.execute("ATTACH '{}' AS serving_copy".format(str(target).replace("'", "''")))
    try:
        for t in tables:
            con.execute(f'CREATE TABLE serving_copy."{t}" AS SELECT * FROM main."{t}"')
    finally:
        con.execute("DETACH serving_copy")


def _clean(folder: Path, *, keep: int) -> None:
    for path in folder.glob("warehouse-*.duckdb"):
        try:
            gen = int(path.stem.split("-")[1])
        except (IndexError, ValueError):
            continue
        if gen <= keep - KEEP_GENERATIONS:
            path.unlink(missing_ok=True)  # POSIX: a reader that has it open keeps its view


_REFRESH = threading.Lock()
_BASES: dict[str, duckdb.DuckDBPyConnection] = {}  # copy file -> a read-only connection kept open in this process
_BASES_LOCK = threading.Lock()


def _open_copy(path: Path) -> duckdb.DuckDBPyConnection:
    """A cursor on a connection kept open per copy: opening the file reads its catalog (~0.1 s at 34k entities,
    bench/README.md), a cursor costs about a millisecond.

    When a newer copy is opened the older connection is only dropped, not closed: cursors still reading it
    keep it alive, and it closes when the last of them does.
    """
    key = str(path)
    with _BASES_LOCK:
        base = _BASES.get(key)
        if base is None:
            if _BASES and key < max(_BASES):  # an older copy than the one cached: read it once, uncached
                return duckdb.connect(key, read_only=True)
            base = duckdb.connect(key, read_only=True)
            _BASES.clear()
            _BASES[key] = base
        return base.cursor()


def reader(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse as the service sees it (the one entry point for service reads).

    It opens the newest published copy. Inside the service (``$CREDIT_RISK_SERVICE`` set by ``credit-risk
    serve``) that is all: the copy changes when a batch job publishes one. Elsewhere (a CLI command),
    when the warehouse changed since the copy and no batch job is running, the copy is refreshed first
    (without waiting: with a job running, the last copy is read). The caller closes the returned
    connection; temporary tables on it are its own.
    """
    pointer = current_copy(settings)
    in_service = os.environ.get(SERVICE_ENV) == "1"
    if not in_service and (pointer is None or pointer.get("signature") != _signature(settings)
                           or pointer.get("schema") != _schema_key()):
        pointer = _refresh(settings) or pointer
    if pointer is None:
        raise Busy("warehouse: expected a published copy for the service, got none yet (a batch job publishes "
                   f"one; now {locks.describe(locks.holder(settings.home, LOCK))} holds the warehouse)")
    path = serving_dir(settings) / pointer["file"]
    try:
        return _open_copy(path)
    except duckdb.IOException as exc:  # removed by a later publication between reading the pointer and opening
        newer = current_copy(settings)
        if newer is None or newer["file"] == pointer["file"]:
            raise Busy(f"warehouse: expected the published copy {path}, got {exc}") from exc
        return _open_copy(serving_dir(settings) / newer["file"])


def ensure_copy(settings: Settings) -> dict[str, Any]:
    """A current copy for a starting service: refreshed when no batch job runs, else the last one (waiting
    for the job only when there is no copy at all)."""
    return _refresh(settings) or current_copy(settings) or publish_serving_copy(settings)


def _refresh(settings: Settings) -> dict[str, Any] | None:
    if not settings.warehouse_path.exists():
        with locks.hold(settings.home, LOCK, purpose="create the warehouse", wait=10):
            connect(settings).close()
    with _REFRESH:
        try:
            with locks.hold(settings.home, LOCK, purpose="refresh the service's warehouse copy", wait=False):
                return _publish(settings, only_if_stale=True)
        except Busy:
            return None
        except duckdb.IOException as exc:  # a writer outside any batch hold has the file
            log.warning("warehouse copy not refreshed: %s", exc)
            return None
