"""``--engine spark`` for a home: export the warehouse to the Parquet layout, build the snapshot on Spark, record it
in the warehouse (so that publication, monitoring and the service find it as they find a DuckDB snapshot)."""

from __future__ import annotations

from datetime import date
from typing import Any

from core import progress
from features.spark import parquet

ENGINES = ("duckdb", "spark")


def snapshot(settings, *, as_of: date, master: str | None = None, spark=None):
    """The snapshot at ``as_of`` computed on Spark, as a :class:`features.snapshot.Snapshot` (loaded back from the
    warehouse, where it is recorded like a DuckDB-built one)."""
    from features import opinions
    from features.snapshot import load_snapshot
    from features.spark import session
    from features.spark import snapshot as ssnap
    from features.warehouse import batch, connect

    root = parquet.root_of(settings)
    with batch(settings, purpose=f"features --as-of {as_of} --engine spark"):
        con = connect(settings)
        try:
            with progress.step("export the warehouse to Parquet"):
                parquet.export(con, root, classifier=opinions.current(settings, con))
            spark = spark or session.session(master)
            with progress.step(f"feature snapshot at {as_of.isoformat()} on Spark ({spark.sparkContext.master})"):
                built = ssnap.build(spark, root, as_of=as_of)
            parquet.register_snapshot(con, root, snapshot_id=built.snapshot_id, as_of=as_of,
                                      fingerprint=built.data_fingerprint, seconds=built.build_seconds)
            snap = load_snapshot(con, built.snapshot_id)
        finally:
            con.close()
    snap.info["engine"] = "spark"
    snap.info["parquet"] = str(built.path)
    return snap


def summary(snap, classifier_id: str | None = None) -> dict[str, Any]:
    return {"as_of": snap.as_of.isoformat(), "snapshot_id": snap.snapshot_id, "entities": snap.entities,
            "features": len(snap.feature_names), "feature_set": snap.feature_set,
            "data_fingerprint": snap.data_fingerprint, "rules_versions": snap.info["rules_versions"],
            "build_seconds": snap.info["build_seconds"], "engine": "spark", "parquet": snap.info.get("parquet"),
            "opinion_model": classifier_id, "opinion_model_metrics": None}
