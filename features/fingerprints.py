"""Per-table data fingerprints kept when the data is written, so that a snapshot build does not rescan the warehouse.

A table's part of the data fingerprint is its row count and the sum of its rows' hashes (``COUNT(*)``,
``SUM(HASH(t))``, :func:`full_parts`). A sum changes by exactly what a write adds and removes, so every writer of a
fingerprinted table wraps its write in :func:`changing`: the rows a predicate selects are summed before and after
the write and the difference goes into the ledger (``source_fingerprints``), in the writer's transaction. At build
time :func:`parts` reads the ledger and rescans only the tables it cannot trust, which gives the very value the full
scan gives (the snapshot id does not depend on which way it was computed).

A table's ledger row is not trusted, and the table is hashed in full (and its row recorded again when the connection
may write), when any of these holds:

- there is no row, or a write in progress marked it invalid (a writer that failed before recording its delta);
- the row count differs from the recorded one (rows added or removed outside the writers: a direct ``INSERT`` or
  ``DELETE``, the benchmark generator);
- the table's columns or their types differ from the recorded ones (a row hash covers every column);
- the table's storage differs from the one recorded after the last trusted write (DuckDB's segments: their blocks,
  statistics and pending updates, ``pragma_storage_info``): an ``UPDATE`` outside the writers that keeps the row
  count. A writer's delta leaves the storage unrecorded (its rows are not checkpointed yet); the next build that
  finds the table checkpointed records it. A rescanned table is recorded only once checkpointed.
- a temporary table or view of the same name shadows it (a what-if's hypothetical repairs).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb

from features.sources import SOURCES
from features.warehouse import first_row, has_table

LEDGER = "source_fingerprints"


@dataclass(frozen=True)
class Part:
    """One table's part of the data fingerprint: rows and the sum of their row hashes."""

    rows: int
    hash_sum: int


def tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables the data fingerprint covers: every source table, repairs, record corrections, and the opinion
    scores and mentions where they exist."""
    from features import opinion_mentions, opinions  # their writers import this module

    names = [*SOURCES, "repairs", "record_corrections"]
    return names + [t for t in (opinions.SCORES_TABLE, opinion_mentions.TABLE) if has_table(con, t)]


def _sum_sql(table: str, where: str = "TRUE") -> str:
    return f"SELECT COUNT(*), COALESCE(SUM(HASH(t)), 0) FROM \"{table}\" t WHERE {where}"


def full_parts(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, Part]:
    """Every row of each named table hashed (the reference: what the ledger must always equal)."""
    if not names:
        return {}
    sql = " UNION ALL ".join(f"SELECT '{n}', * FROM ({_sum_sql(n)})" for n in names)
    return {name: Part(int(rows), int(h)) for name, rows, h in con.execute(sql).fetchall()}


def _part(con: duckdb.DuckDBPyConnection, table: str, where: str, params: Sequence = ()) -> Part:
    rows, h = con.execute(_sum_sql(table, where), list(params)).fetchall()[0]
    return Part(int(rows), int(h))


def _shapes(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, str]:
    """A key of each table's column names and types, in order."""
    rows = con.execute("SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) "
                       "FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' "
                       "AND list_contains(?, table_name) GROUP BY table_name",
                       [list(names)]).fetchall()
    return {t: hashlib.sha256(cols.encode()).hexdigest()[:16] for t, cols in rows}


def _plain(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> set[str]:
    """The names that resolve to a base table of the warehouse itself (no temporary table or view of that name)."""
    rows = con.execute("SELECT table_name, bool_and(catalog = current_database() AND schema_name = 'main' "
                       "AND kind = 'table'), COUNT(*) FROM (SELECT database_name AS catalog, schema_name, table_name, "
                       "'table' AS kind FROM duckdb_tables() UNION ALL SELECT database_name, schema_name, view_name, "
                       "'view' FROM duckdb_views()) WHERE list_contains(?, table_name) GROUP BY table_name",
                       [list(names)]).fetchall()
    return {t for t, base, n in rows if base and n == 1}


def _storage(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, str | None]:
    """A key of each table's stored segments (blocks, statistics), None while some segment of it is not checkpointed
    or carries pending updates. Costs ~25 µs per segment (a column of up to 122,880 rows), no row is read."""
    if not names:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT '{n}', COUNT(*), SUM(HASH(row_group_id, column_id, column_path, segment_id, start, count, compression, "
        "CAST(stats AS VARCHAR), block_id, block_offset, additional_block_ids)), "
        f"bool_and(persistent AND NOT has_updates) FROM pragma_storage_info('{n}')" for n in names)
    return {t: f"{n}:{h}" if settled or n == 0 else None for t, n, h, settled in con.execute(sql).fetchall()}


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {LEDGER} (table_name VARCHAR, rows BIGINT, hash_sum HUGEINT, "
                "shape VARCHAR, storage VARCHAR, valid BOOLEAN, recorded_at TIMESTAMP)")


@dataclass(frozen=True)
class _Entry:
    part: Part
    shape: str
    storage: str | None
    valid: bool


def _ledger(con: duckdb.DuckDBPyConnection) -> dict[str, _Entry]:
    if not has_table(con, LEDGER):
        return {}
    return {t: _Entry(Part(int(r), int(h)), s, st, bool(v)) for t, r, h, s, st, v in con.execute(
        f"SELECT table_name, rows, hash_sum, shape, storage, valid FROM {LEDGER}").fetchall()}


def _record(con: duckdb.DuckDBPyConnection, table: str, part: Part, shape: str, storage: str | None) -> None:
    ensure_ledger(con)
    con.execute(f"DELETE FROM {LEDGER} WHERE table_name = ?", [table])
    con.execute(f"INSERT INTO {LEDGER} VALUES (?, ?, ?, ?, ?, TRUE, current_timestamp)",
                [table, part.rows, part.hash_sum, shape, storage])


def _writable(con: duckdb.DuckDBPyConnection) -> bool:
    row = first_row(con, "SELECT NOT readonly FROM duckdb_databases() WHERE database_name = current_database()")
    return bool(row and row[0])


def parts(con: duckdb.DuckDBPyConnection) -> dict[str, Part]:
    """Each fingerprinted table's part: from the ledger where it can be trusted (module docstring), else by a full
    scan of that table, recorded for the next build when ``con`` may write."""
    names = tables(con)
    ledger = _ledger(con)
    plain = _plain(con, names)
    shapes = _shapes(con, names)
    counted = [n for n in names if n in ledger and n in plain]
    counts = dict(con.execute(" UNION ALL ".join(f"SELECT '{n}', COUNT(*) FROM \"{n}\"" for n in counted)
                              ).fetchall()) if counted else {}
    out: dict[str, Part] = {}
    settle: dict[str, str] = {}
    candidates = [n for n in counted if ledger[n].valid and counts[n] == ledger[n].part.rows
                  and shapes.get(n) == ledger[n].shape]
    stored = _storage(con, candidates)
    for n in candidates:
        e, storage = ledger[n], stored[n]
        if e.storage is None:
            out[n] = e.part
            if storage is not None:
                settle[n] = storage
        elif storage == e.storage:
            out[n] = e.part
    rest = [n for n in names if n not in out]
    out.update(full_parts(con, rest))
    if _writable(con) and (settle or rest):
        for n, storage in settle.items():
            con.execute(f"UPDATE {LEDGER} SET storage = ? WHERE table_name = ?", [storage, n])
        recorded = _storage(con, [n for n in rest if n in plain])
        for n, storage in recorded.items():  # once checkpointed: a row without storage is trusted as a writer's delta
            if storage is not None:
                _record(con, n, out[n], shapes[n], storage)
    return {n: out[n] for n in names}


def _inserted_part(con: duckdb.DuckDBPyConnection, table: str, source: str) -> Part:
    """The part of the rows of ``source`` (a relation with the table's columns, by name) as ``table`` stores them:
    each value cast to the column's type, as an ``INSERT`` casts it (a row hash depends on the types)."""
    cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name = ? ORDER BY column_index", [table]).fetchall()
    row = ", ".join(f's."{c}"::{t}' for c, t in cols)
    rows, h = con.execute(f"SELECT COUNT(*), COALESCE(SUM(HASH(row({row}))), 0) FROM {source} s").fetchall()[0]
    return Part(int(rows), int(h))


@contextlib.contextmanager
def changing(con: duckdb.DuckDBPyConnection, table: str, where: str | None = "TRUE", params: Sequence = (), *,
             inserted: str | None = None) -> Iterator[None]:
    """Keep ``table``'s ledger row true across the write in the ``with`` body.

    ``where`` (over the table aliased ``t``, with ``params``) must select, before the write, every row it removes or
    changes, and after it every row it wrote or changed (e.g. ``t.case_id IN (...)`` around a delete and insert of
    those cases; a predicate on a column the write does not change, around an ``UPDATE``). With ``inserted`` (a
    relation holding, when the block starts, the rows the write inserts, with the table's columns) those rows are hashed instead of
    selecting them again after the write, and ``where`` (None: nothing) selects only the rows it removes. Run it in
    the writer's transaction: the ledger row is marked invalid before the write and set to the new sums after it,
    so a write that stops half way leaves the table to be hashed in full.
    """
    entry = _ledger(con).get(table)
    known = entry is not None and entry.valid
    if known:
        con.execute(f"UPDATE {LEDGER} SET valid = FALSE WHERE table_name = ?", [table])
        before = _part(con, table, where, params) if where is not None else Part(0, 0)
        added = _inserted_part(con, table, inserted) if inserted is not None else None
    yield
    if not known:  # no trusted base: record the whole table once (the next write is a delta again)
        _record(con, table, full_parts(con, [table])[table], _shapes(con, [table])[table], None)
        return
    after = added if added is not None else _part(con, table, where or "FALSE", params)
    part = Part(entry.part.rows + after.rows - before.rows, entry.part.hash_sum + after.hash_sum - before.hash_sum)
    _record(con, table, part, _shapes(con, [table])[table], None)
