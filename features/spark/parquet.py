"""The warehouse as Parquet partitioned by source and month, the layout both engines read.

``<home>/parquet/source=<table>/month=YYYY-MM/*.parquet``: every source table, its ``_history`` twin, the ingest
runs, repairs, record corrections, opinion scores and mentions; ``month`` is the month of the row's ``known_date``
(``none`` for tables without one). Snapshots are stored the same way under ``source=snapshot_<feature set>``,
one month per snapshot date; a model's scores of a snapshot, computed in the executors, under
``scores/snapshot=<id>/model=<version>`` until its publication has read them (training.spark_scoring).
``_manifest.json`` records the data fingerprint of the warehouse at export time (the snapshot id on either engine
derives from it) and the row count of every table.

DuckDB reads the layout back with :func:`attach` (views named as the warehouse tables), so the DuckDB engine
computes the same snapshot from Parquet as from its own file, and a warehouse can move between the engines.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import duckdb

from core.errors import UserError
from features import opinion_mentions
from features.catalog import FEATURE_SET
from features.sources import SOURCES
from features.warehouse import has_table

MANIFEST = "_manifest.json"
NO_MONTH = "none"
SNAPSHOT_SOURCE = f"snapshot_{FEATURE_SET}"
AUX_TABLES = ("ingest_runs", "repairs", "record_corrections", "opinion_scores", opinion_mentions.TABLE)


@dataclass(frozen=True)
class Export:
    """What :func:`export` wrote: the layout's root, the warehouse fingerprint, rows per table."""

    root: Path
    fingerprint: str
    rows: dict[str, int]
    seconds: float


def root_of(settings) -> Path:
    return Path(settings.home) / "parquet"


def tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The warehouse tables the feature SQL reads, in a stable order (those present on ``con``)."""
    names = [*SOURCES, *(f"{t}_history" for t in SOURCES), *AUX_TABLES]
    return [n for n in names if has_table(con, n)]


def source_dir(root: Path, table: str) -> Path:
    return Path(root) / f"source={table}"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                      "ORDER BY ordinal_position", [table]).fetchall()]


def export_table(con: duckdb.DuckDBPyConnection, table: str, root: Path) -> int:
    """Write one warehouse table to ``source=<table>/month=*/`` (replacing what was there); its row count."""
    out = source_dir(root, table)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    month = ("COALESCE(strftime(known_date, '%Y-%m'), '" + NO_MONTH + "')" if "known_date" in _columns(con, table)
             else f"'{NO_MONTH}'")
    n = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    # an empty table still gets one (empty) file so that readers know its schema
    con.execute(f"""COPY (SELECT *, {month} AS month FROM "{table}") TO '{out}'
                    (FORMAT parquet, PARTITION_BY (month), WRITE_PARTITION_COLUMNS false, OVERWRITE_OR_IGNORE)""")
    if n == 0:
        (out / f"month={NO_MONTH}").mkdir(exist_ok=True)
        con.execute(f"""COPY (SELECT * FROM "{table}") TO '{out / f"month={NO_MONTH}" / "empty.parquet"}'
                        (FORMAT parquet)""")
    return int(n)


def export(con: duckdb.DuckDBPyConnection, root: Path, *, classifier=None) -> Export:
    """Export the warehouse on ``con`` to the Parquet layout under ``root`` (opinion items scored first, as a
    snapshot build does) and write the manifest."""
    import time

    from features import opinions
    from features.snapshot import _quiet, data_fingerprint

    start = time.perf_counter()
    _quiet(con)
    opinions.ensure_scores(con, classifier=classifier)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = {t: export_table(con, t, root) for t in tables(con)}
    fp = data_fingerprint(con)
    manifest = {"fingerprint": fp, "rows": rows, "exported_at": datetime.now(UTC).isoformat(),
                "feature_set": FEATURE_SET}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return Export(root, fp, rows, round(time.perf_counter() - start, 3))


def manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise UserError(f"no Parquet warehouse at {root} (expected {MANIFEST}; run `credit-risk features "
                        "--engine spark`, which exports the warehouse first)")
    return json.loads(path.read_text(encoding="utf-8"))


def glob(root: Path, table: str) -> str:
    return str(source_dir(root, table) / "month=*" / "*.parquet")


def present(root: Path) -> list[str]:
    """The tables in the layout under ``root``."""
    return sorted(p.name.split("=", 1)[1] for p in Path(root).glob("source=*") if p.is_dir())


def attach(con: duckdb.DuckDBPyConnection, root: Path) -> list[str]:
    """Views named as the warehouse tables over the Parquet layout, on ``con`` (DuckDB reading the layout)."""
    names = [t for t in present(root) if t != SNAPSHOT_SOURCE]
    for t in names:
        con.execute(f"""CREATE OR REPLACE VIEW "{t}" AS SELECT * EXCLUDE (month)
                        FROM read_parquet('{glob(root, t)}', hive_partitioning = true)""")
    return names


def snapshot_dir(root: Path, as_of: date) -> Path:
    return source_dir(root, SNAPSHOT_SOURCE) / f"month={as_of:%Y-%m}"


def scores_dir(root: Path, snapshot_id: str, model_version: str) -> Path:
    """Where the executors write a model's scores of a snapshot (the version quoted: a label may hold ``/`` or ``[``)."""
    return Path(root) / "scores" / f"snapshot={snapshot_id}" / f"model={quote(model_version, safe='')}"


def register_snapshot(con: duckdb.DuckDBPyConnection, root: Path, *, snapshot_id: str, as_of: date,
                      fingerprint: str, seconds: float) -> int:
    """Record a snapshot written to the layout by another engine in the warehouse (``feature_snapshots`` and the
    values table), streaming it from Parquet; the number of entities."""
    from features.catalog import all_features
    from features.snapshot import META_TABLE, VALUES_TABLE, _ensure_store, rules_versions

    files = str(snapshot_dir(root, as_of) / "*.parquet")
    _ensure_store(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {VALUES_TABLE} WHERE snapshot_id = ?", [snapshot_id])
        con.execute(f"DELETE FROM {META_TABLE} WHERE snapshot_id = ?", [snapshot_id])
        # not hive-partitioned: the path's source=/month= are no columns of the snapshot
        con.execute(f"INSERT INTO {VALUES_TABLE} SELECT ? AS snapshot_id, * EXCLUDE (snapshot_id) "
                    f"FROM read_parquet('{files}', hive_partitioning = false) ORDER BY uscc", [snapshot_id])
        n = con.execute(f"SELECT COUNT(*) FROM {VALUES_TABLE} WHERE snapshot_id = ?", [snapshot_id]).fetchone()[0]
        con.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp, ?)",
                    [snapshot_id, FEATURE_SET, as_of, n, len(all_features()), fingerprint,
                     json.dumps(rules_versions(), sort_keys=True), seconds])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(n)
