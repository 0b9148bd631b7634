"""Batch scoring inside Spark executors: the registered model scores Arrow batches with ``mapInPandas``.

Each Python worker builds the :class:`training.model.ScoringModel` once from the bundle (booster text and
``model.json``) shipped in the task closure, and scores every batch with ``model.score`` — the same scorer,
tiers (population cut-offs, missingness guard) and model reasons as on one machine; the reasons travel back as
JSON text. The triggers and the records behind the reasons are added at publication (serving.publish.publish).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pandas as pd

from training.model import ScoringModel

SCHEMA = "uscc string, probability double, tier string, reasons string"
_MODELS: dict[str, ScoringModel] = {}  # per Python worker: bundle hash → model


def _bundle(model: ScoringModel) -> tuple[str, str | None, dict]:
    import hashlib

    key = hashlib.sha256(((model.booster_text or "") + json.dumps(model.meta, sort_keys=True, default=str))
                         .encode()).hexdigest()[:16]
    return key, model.booster_text, model.meta


def score_batches(bundle: tuple[str, str | None, dict]):
    """The ``mapInPandas`` function for one model bundle."""
    key, booster_text, meta = bundle

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = ScoringModel(booster_text=booster_text, meta=meta)
        for frame in batches:
            if not len(frame):
                continue
            out = model.score(frame.reset_index(drop=True))
            out["reasons"] = [json.dumps(r, ensure_ascii=False) for r in out["reasons"]]
            out["uscc"] = out["uscc"].astype(str)
            yield out[["uscc", "probability", "tier", "reasons"]]

    return fn


def score(df, model: ScoringModel):
    """A Spark DataFrame of snapshot rows → (uscc, probability, tier, reasons JSON), scored in the executors."""
    return df.mapInPandas(score_batches(_bundle(model)), schema=SCHEMA)


def collect(scored) -> pd.DataFrame:
    """The scored rows on the driver as ``model.score`` returns them (reasons as lists), by uscc."""
    frame = scored.toPandas()
    frame["reasons"] = [json.loads(r) for r in frame["reasons"]]
    return frame.sort_values("uscc", kind="stable").reset_index(drop=True)


def publish(settings, *, as_of, actor: str, master: str | None = None, spark=None, model=None) -> dict:
    """``score --as-of --engine spark``: the snapshot on Spark, scored in the executors, published in bulk."""
    from features.spark import run as spark_run
    from features.spark import session
    from serving.publish import publish as publish_scores

    if model is None:
        from serving.models import load_champion

        model = load_champion(settings).model
    spark = spark or session.session(master)
    snap = spark_run.snapshot(settings, as_of=as_of, spark=spark)
    scores = scores_of(settings, snap, model, spark)
    return publish_scores(settings, as_of=as_of, actor=actor, model=model, snapshot=snap, scores=scores)


def scores_of(settings, snapshot, model: ScoringModel, spark) -> pd.DataFrame:
    """The model's scores of a snapshot in the home's Parquet layout, computed in the executors."""
    from core.errors import UserError
    from features.spark import parquet

    path = parquet.snapshot_dir(parquet.root_of(settings), snapshot.as_of)
    rows = spark.read.parquet(str(path))
    if "snapshot_id" in rows.columns:
        rows = rows.where(rows.snapshot_id == snapshot.snapshot_id).drop("snapshot_id")
    if not rows.limit(1).count():
        raise UserError(f"snapshot {snapshot.snapshot_id} is not in the Parquet layout at {path} "
                        "(build it with --engine spark)")
    return collect(score(rows, model))
