"""Rows as they were known at an as-of date: each key's current version, or the version in ``<table>_history``
that was still current then.

Ingest moves a revised row's old version to ``<table>_history`` with ``_superseded_by`` = the ingest that
replaced it. A version superseded by an ingest whose drop is dated on or after ``as_of`` (``ingest_runs.as_of``:
the drop had not arrived before ``as_of``) is the one a snapshot at ``as_of`` must see; of several, the earliest
superseded. Records keep their own ``known_date`` rule on top of this (a row new in a later drop counts from the
date the source says it became known). A history row whose superseding load has no dated ingest run is never
selected (the current version stands).
"""

from __future__ import annotations

from datetime import date

import duckdb

from features.sources import SOURCES
from features.warehouse import first_row, has_table, warehouse_columns


def view_name(table: str) -> str:
    """The temporary view holding ``table`` as known at the snapshot's as-of date."""
    return f"_pit_{table}"


def version_sql(table: str, as_of: date) -> str:
    """Standard SQL selecting the rows of ``table`` as known at ``as_of`` (the table's stored columns)."""
    t = SOURCES[table]
    cols = [c for c, _ in warehouse_columns(t)]
    keys = list(t.key)
    sel = ", ".join(f'"{c}"' for c in cols)
    part = ", ".join(f'h."{k}"' for k in keys)
    on = " AND ".join(f'o."{k}" = c."{k}"' for k in keys)
    day = f"DATE '{as_of.isoformat()}'"
    return f"""
WITH _older AS (
  SELECT {sel} FROM (
    SELECT h.*, ROW_NUMBER() OVER (PARTITION BY {part} ORDER BY r.as_of, h._ingest_id) AS _rn
    FROM "{table}_history" h JOIN ingest_runs r ON r.ingest_id = h._superseded_by
    WHERE r.as_of >= {day}) v
  WHERE _rn = 1)
SELECT {sel} FROM "{table}" c WHERE NOT EXISTS (SELECT 1 FROM _older o WHERE {on})
UNION ALL
SELECT {sel} FROM _older"""


def create_views(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """(Re)create ``_pit_<table>`` for every source table: the table itself where no revision arrived on or
    after ``as_of`` (the common case, no extra cost), else :func:`version_sql`."""
    runs = has_table(con, "ingest_runs")
    for name in SOURCES:
        revised = runs and first_row(con, f"""
            SELECT COUNT(*) FROM "{name}_history" h JOIN ingest_runs r ON r.ingest_id = h._superseded_by
            WHERE r.as_of >= ?""", [as_of])[0]
        body = version_sql(name, as_of) if revised else f'SELECT * FROM "{name}"'
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view_name(name)} AS {body}")
