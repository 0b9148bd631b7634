"""`credit-risk features --engine spark` and `credit-risk score --as-of --engine spark` end to end through the CLI's
entry point, in local mode, on a copy of the shared district's warehouse: the snapshot Spark writes is the DuckDB one
(same id, same rows and values), and the publication scored in the executors has the tiers and reasons of the
DuckDB engine's publication with the same model."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from core.cli import main
from core.settings import Settings
from features.spark import session
from tests.spark.conftest import AS_OF
from tests.spark.test_spark_engine import _assert_same_snapshot

DAY = AS_OF.isoformat()


@pytest.fixture(scope="module")
def cli_home(district, tmp_path_factory):
    """A home of its own holding a copy of the district's warehouse, with the district's model as its champion."""
    from serving.models import export_champion

    source, _, _, model = district
    home = tmp_path_factory.mktemp("spark_cli") / "home"
    home.mkdir()
    for part in (source.warehouse_path, source.warehouse_path.with_name(source.warehouse_path.name + ".wal")):
        if part.exists():
            shutil.copyfile(part, home / part.name)
    settings = Settings.from_env(home)
    export_champion(_labelled(model, "cli-spark"), settings)
    return settings, model


@pytest.fixture(autouse=True)
def _local_spark(monkeypatch):
    """The CLI's own session in local mode, with as few shuffle partitions as the engine tests use (2 cores)."""
    monkeypatch.setenv("CREDIT_RISK_SPARK_MASTER", "local[2]")
    monkeypatch.setitem(session.DEFAULTS, "spark.sql.shuffle.partitions", "2")


def _cli(capsys, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _labelled(model, version: str):
    return type(model)(booster_text=model.booster_text, meta={**model.meta, "version": version})


@pytest.mark.slow
def test_features_with_the_spark_engine_through_the_cli(cli_home, tmp_path, capsys):
    settings, _ = cli_home
    home = str(settings.home)
    duck = _cli(capsys, "features", "--home", home, "--as-of", DAY, "--export", str(tmp_path / "duck.parquet"))
    spark = _cli(capsys, "features", "--home", home, "--as-of", DAY, "--engine", "spark",
                 "--export", str(tmp_path / "spark.parquet"))
    assert spark["engine"] == "spark" and (settings.home / "parquet" / "_manifest.json").is_file()
    assert spark["snapshot_id"] == duck["snapshot_id"] and spark["entities"] == duck["entities"] > 0
    assert spark["data_fingerprint"] == duck["data_fingerprint"]
    _assert_same_snapshot(pd.read_parquet(tmp_path / "duck.parquet"), pd.read_parquet(tmp_path / "spark.parquet"))


@pytest.fixture
def _no_scores_on_the_driver(monkeypatch):
    """A Spark DataFrame of scored rows (with ``reasons``) brought to the driver fails the test (patched on the
    class of the local and cluster sessions' frames, not Spark Connect's)."""
    from pyspark.sql.classic.dataframe import DataFrame

    for name in ("collect", "toPandas", "toArrow", "toLocalIterator", "take", "tail"):
        original = getattr(DataFrame, name)

        def guarded(self, *args, _original=original, _name=name, **kwargs):
            assert "reasons" not in self.columns, f"scored rows gathered on the driver with {_name}()"
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(DataFrame, name, guarded)


@pytest.mark.slow
def test_score_with_the_spark_engine_through_the_cli(cli_home, capsys, _no_scores_on_the_driver):
    from core.opdb import engine
    from serving.models import export_champion

    settings, model = cli_home
    home = str(settings.home)
    by_spark = _cli(capsys, "score", "--home", home, "--as-of", DAY, "--engine", "spark")  # scored in the executors
    export_champion(_labelled(model, "cli-duckdb"), settings)  # the same booster: a publication of its own
    by_duck = _cli(capsys, "score", "--home", home, "--as-of", DAY)
    assert not by_spark["already_published"] and not by_duck["already_published"]
    assert not any((settings.home / "parquet" / "scores").rglob("*.parquet"))  # read by the publication, removed
    assert by_spark["entity_count"] == by_duck["entity_count"] > 0
    assert by_spark["tier_counts"] == by_duck["tier_counts"]
    with engine(settings).connect() as conn:
        def rows_of(pid):
            return conn.execute(sa.text("SELECT uscc, tier, reasons FROM published_scores "
                                        "WHERE publication_id = :p ORDER BY uscc"), {"p": pid}).all()
        a, b = rows_of(by_duck["publication_id"]), rows_of(by_spark["publication_id"])
    assert len(a) == by_duck["entity_count"] and [(r[0], r[1]) for r in a] == [(r[0], r[1]) for r in b]
    assert [json.loads(r[2]) for r in a] == [json.loads(r[2]) for r in b]  # triggers first, records named
