"""The Spark engine against the DuckDB engine on a small simulated district: the same feature SQL transpiled,
the Parquet layout read by both, the snapshot and the scored publication equal — in local mode and on a
standalone cluster of two workers on 127.0.0.1."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest
import sqlglot

from features import catalog
from features import snapshot as fsnap
from features.catalog import all_features
from features.spark import cluster as spark_cluster
from features.spark import parquet
from features.spark.snapshot import to_spark
from tests.spark.conftest import AS_OF, ENTITIES


def test_every_feature_statement_transpiles_to_spark_sql():
    p = fsnap.params(AS_OF)
    files = [f for _, f in fsnap.stage_files()] + [importlib.import_module(m).SQL
                                                   for _, m in catalog.feature_modules()]
    for f in files:
        out = to_spark(fsnap.render(fsnap.sql_text(f), p))
        assert sqlglot.parse_one(out, read="spark").find(sqlglot.exp.Select) is not None, f
        assert "::" not in out, f  # DuckDB casts are rewritten


def _assert_same_snapshot(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a["uscc"]) == list(b["uscc"]) and list(a.columns) == list(b.columns)
    for f in all_features():
        x, y = a[f.name], b[f.name]
        if f.kind == "categorical":
            assert x.astype(object).where(x.notna(), None).tolist() == \
                y.astype(object).where(y.notna(), None).tolist(), f.name
            continue
        x, y = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
        assert (np.isnan(x) == np.isnan(y)).all(), f.name
        m = ~np.isnan(x)
        if f.name.endswith(("_count", "_flag")) or "_count_" in f.name or "_flag" in f.name:
            assert (x[m] == y[m]).all(), f.name  # counts and flags exactly
        else:
            assert np.allclose(x[m], y[m], rtol=0, atol=1e-9), f.name


def test_duckdb_computes_the_same_snapshot_from_the_parquet_layout(district):
    import duckdb

    settings, exported, duck, _ = district
    assert exported.rows["entities"] > ENTITIES  # source=entities/month=*/ holds every entity row
    assert any(parquet.source_dir(exported.root, "penalties").glob("month=20*"))
    con = duckdb.connect()
    parquet.attach(con, exported.root)
    frame = fsnap.compute_features(con, as_of=AS_OF)
    con.close()
    _assert_same_snapshot(duck.frame, frame)


@pytest.fixture(scope="module", params=["local", "standalone"])
def spark(request, tmp_path_factory):
    from features.spark import session

    if request.param == "local":
        s = session.session("local[2]", conf={"spark.sql.shuffle.partitions": "2"})
        yield s
        s.stop()
        return
    why = spark_cluster.java_missing()
    if why:
        pytest.skip(why)
    with spark_cluster.standalone(tmp_path_factory.mktemp("cluster"), workers=2, cores=1, memory="768m") as c:
        s = session.session(c.master, conf={**spark_cluster.conf_for(c), "spark.sql.shuffle.partitions": "2"})
        assert s.sparkContext.master == c.master
        yield s
        s.stop()


@pytest.mark.slow
def test_spark_snapshot_equals_the_duckdb_snapshot_and_scores_to_the_same_publication(district, spark, tmp_path):
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from core.opdb import engine
    from features.spark import snapshot as ssnap
    from serving.publish import publish
    from training import spark_scoring

    settings, exported, duck, model = district
    built = ssnap.build(spark, exported.root, as_of=AS_OF)
    assert built.snapshot_id == duck.snapshot_id and built.entities == duck.entities
    _assert_same_snapshot(duck.frame, ssnap.to_pandas(built.path))

    rows = spark.read.parquet(str(built.path)).drop("snapshot_id")
    folder = spark_scoring.write(rows, model, tmp_path / "scores")
    parts = [pq.read_table(f).column("uscc").to_pylist() for f in sorted(folder.glob("*.parquet"))]
    parts = sorted(p for p in parts if p)
    assert all(p == sorted(p) for p in parts)  # each file a range of codes in order, the ranges disjoint
    assert all(a[-1] < b[0] for a, b in zip(parts, parts[1:], strict=False))
    scores = pd.read_parquet(folder).sort_values("uscc").reset_index(drop=True)
    local = model.score(duck.frame).sort_values("uscc").reset_index(drop=True)
    assert list(scores["uscc"]) == list(local["uscc"]) and list(scores["tier"]) == list(local["tier"])
    assert np.allclose(scores["probability"], local["probability"], rtol=0, atol=1e-12)
    assert [json.loads(r) for r in scores["reasons"]] == json.loads(json.dumps(list(local["reasons"])))

    spark_model = type(model)(booster_text=model.booster_text, meta={**model.meta, "version": f"spark-{spark.sparkContext.master}"})
    pub_duck = publish(settings, as_of=AS_OF, actor="test", model=model, snapshot=duck)
    pub_spark = publish(settings, as_of=AS_OF, actor="test", model=spark_model, snapshot=duck, scores=folder,
                        batch_rows=100)  # several batches, each read from the files by its codes
    assert pub_spark["tier_counts"] == pub_duck["tier_counts"] and pub_spark["entity_count"] == duck.entities
    with engine(settings).connect() as conn:
        def rows_of(pid):
            return conn.execute(sa.text("SELECT uscc, tier, reasons FROM published_scores "
                                        "WHERE publication_id = :p ORDER BY uscc"), {"p": pid}).all()
        a, b = rows_of(pub_duck["publication_id"]), rows_of(pub_spark["publication_id"])
    assert len(a) == duck.entities and [(r[0], r[1]) for r in a] == [(r[0], r[1]) for r in b]
    assert [json.loads(r[2]) for r in a] == [json.loads(r[2]) for r in b]  # triggers first, records named
