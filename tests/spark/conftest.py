"""Spark-engine fixtures: one small simulated district, ingested, exported to the Parquet layout, with its DuckDB
snapshot and a model trained on its features (shared by every Spark test of the session)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

import synth
from features import snapshot as fsnap
from features.catalog import all_features
from features.spark import parquet

ENTITIES, SEED = 300, 41  # small: the cost on Spark is per stage, not per row
AS_OF = date(2023, 7, 1)


@pytest.fixture(scope="session")
def district(tmp_path_factory):
    """(settings, the Parquet export, the DuckDB snapshot at AS_OF, a model on its features); tests that write
    into a home copy its warehouse (test_spark_cli.py)."""
    from core.settings import Settings
    from features import opinions
    from features.ingest import ingest
    from features.warehouse import connect
    from training.dataset import feature_spec, from_frame
    from training.train import train

    root = tmp_path_factory.mktemp("spark_district")
    synth.generate(root / "drop", entities=ENTITIES, seed=SEED)
    settings = Settings.from_env(root / "home")
    ingest(settings, root / "drop")
    con = connect(settings)
    clf = opinions.current(settings, con)
    exported = parquet.export(con, parquet.root_of(settings), classifier=clf)
    duck = fsnap.build_snapshot(con, as_of=AS_OF, classifier=clf)
    con.close()
    rng = np.random.default_rng(5)
    periods = []
    for k in range(8):  # a labelled table with the snapshot's columns: a model on the real features
        part = duck.frame.copy()
        part["as_of"] = date(2021 + k // 4, 1 + 3 * (k % 4), 1)
        part["label"] = (rng.random(len(part)) < 0.2 + 0.5 * (part["penalty_in_effect_count"] > 0)).astype(int)
        periods.append(part)
    table = pd.concat(periods, ignore_index=True)
    model = train(from_frame(table, id_col="uscc", time_col="as_of", label_col="label",
                             features=[feature_spec(f) for f in all_features()]),
                  num_boost_round=8, params={"min_data_in_leaf": 5})
    model.meta["version"] = "1"
    return settings, exported, duck, model
