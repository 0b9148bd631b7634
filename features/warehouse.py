"""The DuckDB warehouse: validated source tables (named as in the source contract), their history,
quarantine, ingest runs, repairs and feature snapshots."""

from __future__ import annotations

from pathlib import Path

import duckdb

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
LINEAGE_COLUMNS = [("_row_hash", "VARCHAR"), ("_ingest_id", "VARCHAR")]
# Storage hints: a row hash (or a pseudonym) is random text that no string compression shrinks much, and DuckDB's attempt to
# dictionary/FSST-compress it more than doubles the cost of a bulk insert (bench/README.md, ingest).
STORAGE = {"_row_hash": "USING COMPRESSION uncompressed", PERSON_KEY_COLUMN: "USING COMPRESSION uncompressed"}


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file under the home, creating it (and its source tables) on first use."""
    path: Path = settings.warehouse_path
    if read_only and path.exists():
        return duckdb.connect(str(path), read_only=True)
    settings.ensure_home()
    con = duckdb.connect(str(path))
    create_source_tables(con)
    create_ingest_tables(con)
    return con


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
