"""Batch scoring inside Spark executors: the registered model scores Arrow batches with ``mapInPandas``.

Each Python worker builds the :class:`training.model.ScoringModel` once from the bundle (booster text and
``model.json``) shipped in the task closure, and scores every batch with ``model.score`` — the same scorer,
tiers (population cut-offs, missingness guard) and model reasons as on one machine; the reasons travel back as
JSON text, written as Parquet in uscc order (:func:`write`). The triggers and the records behind the reasons are
added at publication (serving.publish.publish), which reads those files one batch of codes at a time: the driver
never holds the district's scores.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


def write(df, model: ScoringModel, folder: Path) -> Path:
    """Score a Spark DataFrame of snapshot rows in the executors and write (uscc, probability, tier, reasons JSON)
    to ``folder`` as Parquet in uscc order (range-partitioned first, so each file holds a range of codes and a
    reader of one batch's codes skips the other row groups); written beside it, then renamed into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"tmp-{uuid.uuid4().hex}")
    old = folder.with_name(f"old-{uuid.uuid4().hex}")
    try:
        # ordered before scoring: the scorer keeps its rows' order, and the sort's sampling pass reads the
        # snapshot, not the model's output (the order narrows a batch's read; its codes decide what it reads)
        score(df.orderBy("uscc"), model).write.parquet(str(tmp))
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return folder


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
    with scored(settings, snap, model, spark) as scores:
        return publish_scores(settings, as_of=as_of, actor=actor, model=model, snapshot=snap, scores=scores)


@contextmanager
def scored(settings, snapshot, model: ScoringModel, spark) -> Iterator[Path]:
    """The model's scores of a snapshot in the home's Parquet layout, computed in the executors and written under
    features.spark.parquet.scores_dir (the folder serving.publish.publish reads batch by batch); removed on leaving,
    as an intermediate of one publication."""
    from core.errors import UserError
    from features.spark import parquet

    root = parquet.root_of(settings)
    path = parquet.snapshot_dir(root, snapshot.as_of)
    rows = spark.read.parquet(str(path))
    if "snapshot_id" in rows.columns:
        rows = rows.where(rows.snapshot_id == snapshot.snapshot_id).drop("snapshot_id")
    if not rows.limit(1).count():
        raise UserError(f"snapshot {snapshot.snapshot_id} is not in the Parquet layout at {path} "
                        "(build it with --engine spark)")
    folder = write(rows, model, parquet.scores_dir(root, snapshot.snapshot_id, model.version))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
