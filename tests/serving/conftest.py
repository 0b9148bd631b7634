"""Serving fixtures: a real (small) LightGBM scoring model, publications of toy snapshots, a running service."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.settings import Settings

PG_URL = os.environ.get("CREDIT_RISK_TEST_PG_URL")


def write_scores(scores: pd.DataFrame, folder: Path, *, files: int = 3) -> Path:
    """``model.score`` output as the Spark executors write it (training.spark_scoring.write): files of consecutive
    code ranges in uscc order, reasons as JSON, small row groups."""
    frame = scores.sort_values("uscc").reset_index(drop=True)
    frame = frame.assign(uscc=frame["uscc"].astype(str), tier=frame["tier"].astype(str),
                         reasons=[json.dumps(r, ensure_ascii=False) for r in frame["reasons"]])
    folder.mkdir(parents=True)
    step = -(-len(frame) // files)
    for i in range(files):
        part = pa.Table.from_pandas(frame.iloc[i * step:(i + 1) * step], preserve_index=False)
        pq.write_table(part, folder / f"part-{i:05d}.parquet", row_group_size=20)
    return folder


@dataclass
class Snap:
    """A snapshot as features.snapshot returns it (id, as_of, frame), built in code from toy rows."""

    snapshot_id: str
    as_of: date
    frame: pd.DataFrame


@pytest.fixture(scope="session")
def toy():
    """(model, frame): T's ScoringModel trained on the toy feature table (seeded), and that table."""
    from training.dataset import from_frame
    from training.toy import TOY_FEATURES, toy_frame
    from training.train import train

    frame = toy_frame(entities=400, periods=8, seed=11)
    ds = from_frame(frame, id_col="uscc", time_col="as_of", label_col="label",
                    features=[dict(f) for f in TOY_FEATURES])
    model = train(ds, num_boost_round=30, seed=11, params={"min_data_in_leaf": 20})
    model.meta["version"] = "7"
    return model, frame


def toy_snapshot(frame: pd.DataFrame, k: int) -> Snap:
    """The k-th newest as_of of the toy table as a snapshot (k=0 newest)."""
    as_of = sorted(frame["as_of"].unique())[-1 - k]
    rows = frame[frame["as_of"] == as_of].drop(columns=["label"]).reset_index(drop=True)
    return Snap(f"toy-{as_of}", as_of, rows)


CLOSED = 20  # entities of the older publication that the newer one leaves out (deregistered)


def prepare_home(settings: Settings, model, frame) -> dict:
    """Two publications (older, newer: CLOSED entities deregistered meanwhile), the model exported
    locally, one key per role."""
    from serving.keys import ROLES, create_key
    from serving.models import export_champion
    from serving.publish import publish

    export_champion(model, settings)
    older, newer = toy_snapshot(frame, 1), toy_snapshot(frame, 0)
    closed_codes = sorted(newer.frame["uscc"])[-CLOSED:]
    closed = pd.DataFrame({"uscc": closed_codes, "status": "deregistered",
                           "status_date": pd.Timestamp(newer.as_of) - pd.Timedelta(days=10)})
    newer = Snap(newer.snapshot_id, newer.as_of, newer.frame[~newer.frame["uscc"].isin(closed_codes)]
                 .reset_index(drop=True))
    pubs = [publish(settings, as_of=older.as_of, actor="test", model=model, snapshot=older),
            publish(settings, as_of=newer.as_of, actor="test", model=model, snapshot=newer, closed=closed)]
    keys = {role: create_key(settings, role=role, label=f"test {role}", actor="test")[1] for role in ROLES}
    return {"publications": pubs, "keys": keys, "closed": closed_codes}


@dataclass
class Served:
    url: str
    settings: Settings
    keys: dict[str, str]
    publications: list[dict]
    frame: pd.DataFrame
    model: object
    closed: list[str]
    log: Path

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, toy, tmp_path_factory, serving):
    """The real service (`credit-risk serve`) on a free loopback port, started once per DB variant."""
    model, frame = toy
    home = tmp_path_factory.mktemp("served") / "home"
    env = {**os.environ, "CREDIT_RISK_HOME": str(home), "BENTOML_HOME": str(home / "bentoml"),
           "CREDIT_RISK_REFUSED_AUDIT_SECONDS": "0.5"}
    env.pop("CREDIT_RISK_DB_URL", None)
    drop = None
    if request.param == "postgres":
        url, drop = request.getfixturevalue("fresh_pg_database")()
        env["CREDIT_RISK_DB_URL"] = url
    settings = Settings.from_env(home)
    if "CREDIT_RISK_DB_URL" in env:
        settings = dataclasses.replace(settings, db_url=env["CREDIT_RISK_DB_URL"])
    else:
        settings = dataclasses.replace(settings, db_url=f"sqlite:///{home / 'operational.db'}")
    prepared = prepare_home(settings, model, frame)
    try:
        with serving(home, env) as base:
            yield Served(base, settings, prepared["keys"], prepared["publications"], frame, model,
                         prepared["closed"], home / "serve.log")
    finally:
        if drop:
            drop()


@pytest.fixture
def snap():
    """``snap(frame, k)``: the k-th newest as_of of a toy table as a snapshot; ``snap.make(id, as_of, frame)``."""
    toy_snapshot.make = Snap
    return toy_snapshot
