"""The point-in-time snapshot on Spark, from the same declaration as the DuckDB engine.

Every statement is the DuckDB statement of features/snapshot.py and features/versions.py — the same SQL files
under features/sql, rendered with the same parameters (:func:`features.snapshot.params`) — transpiled to Spark SQL
by sqlglot at run time; nothing is kept as a second copy. The stages that DuckDB keeps as temp tables are cached
Spark tables (``CACHE TABLE``), released at the end. The sources are read from the Parquet layout
(:mod:`features.spark.parquet`), and the snapshot is written back to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot

from core.errors import UserError
from features import opinion_mentions
from features import snapshot as fsnap
from features.catalog import FEATURE_SET, all_features
from features.sources import SOURCES
from features.spark import parquet
from features.versions import version_sql, view_name


@cache
def to_spark(sql: str) -> str:
    """DuckDB SQL as Spark SQL (sqlglot); a construct sqlglot cannot express raises instead of passing silently."""
    out = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    if len(out) != 1:
        raise ValueError(f"expected one statement, got {len(out)}")
    return out[0]


@dataclass(frozen=True)
class SparkSnapshot:
    """A snapshot computed on Spark: its id, where it was written, and the DataFrame (still on the cluster)."""

    snapshot_id: str
    as_of: date
    path: Path
    entities: int
    data_fingerprint: str
    build_seconds: float
    frame: Any  # pyspark.sql.DataFrame


class _Stages:
    """Temp views and cached tables on one session, dropped again by :meth:`release`."""

    def __init__(self, spark) -> None:
        self.spark, self.cached, self.views = spark, [], []

    def view(self, name: str, duck_sql: str) -> None:
        self.spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {to_spark(duck_sql)}")
        self.views.append(name)

    def table(self, name: str, duck_sql: str) -> None:
        # lazy: the stages materialise inside the one job that writes the snapshot, each computed once
        self.spark.sql(f"CACHE LAZY TABLE {name} AS {to_spark(duck_sql)}")
        self.cached.append(name)

    def release(self) -> None:
        for name in self.cached:
            self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
        for name in self.cached + self.views:
            self.spark.catalog.dropTempView(name)
        self.cached, self.views = [], []


def register_sources(spark, root: Path, stages: _Stages | None = None) -> list[str]:
    """Temp views named as the warehouse tables over the Parquet layout."""
    names = [t for t in parquet.present(root) if t != parquet.SNAPSHOT_SOURCE]
    for t in names:
        spark.read.parquet(str(parquet.source_dir(root, t))).drop("month").createOrReplaceTempView(t)
        if stages is not None:
            stages.views.append(t)
    return names


def _revised(spark, names: list[str], as_of: date) -> set[str]:
    """The source tables with a version superseded by a drop dated on or after ``as_of`` (one query for all)."""
    if "ingest_runs" not in names:
        return set()
    parts = [f"SELECT '{n}' AS t, COUNT(*) AS n FROM \"{n}_history\" h JOIN ingest_runs r "
             f"ON r.ingest_id = h._superseded_by WHERE r.as_of >= DATE '{as_of.isoformat()}'" for n in SOURCES]
    return {r[0] for r in spark.sql(to_spark(" UNION ALL ".join(parts))).collect() if r[1]}


def _prepare(spark, stages: _Stages, names: list[str], as_of: date) -> dict[str, Any]:
    """features.snapshot._prepare on Spark."""
    p = fsnap.params(as_of)
    years = ", ".join(f"({y}, DATE '{fsnap.due_date(y).isoformat()}')"
                      for y in range(p["first_due_year"], p["last_due_year"] + 1))
    stages.view("_report_deadlines", f"SELECT * FROM (VALUES {years}) AS t(year, due_date)")
    if "opinion_scores" in names:
        stages.view("_opinion_scores", "SELECT opinion_id, negative_probability FROM opinion_scores")
    else:
        stages.view("_opinion_scores", "SELECT CAST(NULL AS VARCHAR) AS opinion_id, "
                                       "CAST(NULL AS DOUBLE) AS negative_probability WHERE FALSE")
    revised = _revised(spark, names, as_of)
    for name in SOURCES:  # features.versions.create_views
        stages.view(view_name(name), version_sql(name, as_of) if name in revised else f'SELECT * FROM "{name}"')
    fallback = "SELECT p.opinion_id, p.uscc, TRUE AS is_target FROM _pit_opinions p WHERE p.uscc IS NOT NULL"
    if opinion_mentions.TABLE in names:  # features.snapshot._mentions_view
        known = (f"SELECT m.opinion_id, m.uscc, m.is_target FROM {opinion_mentions.TABLE} m JOIN _pit_opinions p "
                 f"ON p.opinion_id = m.opinion_id AND m.version_key = {opinion_mentions.version_key_sql('p')}")
        stages.view("_opinion_mentions", f"WITH known AS ({known}) SELECT * FROM known UNION ALL {fallback} "
                                         "AND p.opinion_id NOT IN (SELECT opinion_id FROM known)")
    else:
        stages.view("_opinion_mentions", fallback)
    for table, file in fsnap.stage_files():
        stages.table(table, fsnap.render(fsnap.sql_text(file), p))
    return p


def compute(spark, root: Path, as_of: date, stages: _Stages):
    """The snapshot rows at ``as_of`` as a Spark DataFrame (the stages stay cached until ``stages.release()``)."""
    names = register_sources(spark, root, stages)
    p = _prepare(spark, stages, names, as_of)
    tables, select = fsnap.dimension_plan(p)
    for table, sql in tables:
        stages.table(table, sql)
    return spark.sql(to_spark(select))


def build(spark, root: Path, *, as_of: date, partitions: int | None = None) -> SparkSnapshot:
    """Compute the snapshot at ``as_of`` on Spark from the layout under ``root`` and write it to
    ``source=snapshot_<feature set>/month=YYYY-MM`` (with its ``snapshot_id``), replacing that month."""
    from pyspark.sql import functions as F

    if not isinstance(as_of, date):
        raise UserError(f"expected as_of as a date, got {type(as_of).__name__}")
    start = time.perf_counter()
    fp = parquet.manifest(root)["fingerprint"]
    sid = fsnap.snapshot_id_for(as_of, fp)
    out = parquet.snapshot_dir(root, as_of)
    stages = _Stages(spark)
    try:
        frame = compute(spark, root, as_of, stages).withColumn("snapshot_id", F.lit(sid))
        if partitions:
            frame = frame.repartition(partitions)
        frame.write.mode("overwrite").parquet(str(out))
    finally:
        stages.release()
    written = spark.read.parquet(str(out))
    n = written.count()
    return SparkSnapshot(sid, as_of, out, n, fp, round(time.perf_counter() - start, 3), written)


def to_pandas(path: Path):
    """A written snapshot as the DuckDB engine returns it (sorted by uscc, string columns as categories)."""
    import duckdb

    con = duckdb.connect()
    try:
        fsnap._quiet(con)
        cols = ", ".join(f'"{c}"' for c in ["uscc", "as_of", *fsnap.DESCRIPTIVE, *(f.name for f in all_features())])
        return fsnap._frame(con, f"SELECT {cols} FROM read_parquet('{Path(path) / '*.parquet'}', "
                                 "hive_partitioning = false)")
    finally:
        con.close()


def feature_set() -> str:
    return FEATURE_SET
