"""One retraining run: train, evaluate against the champion, report, log to MLflow, register, gate."""

from __future__ import annotations

import json
import math
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import progress
from core.settings import Settings, apply_offline_env
from training.dataset import Dataset
from training.detection import DETECTION_COL, detection_mix
from training.train import DEFAULT_SEED


def _finite(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}


def run(settings: Settings, dataset: Dataset, *, actor: str, seed: int = DEFAULT_SEED,
        ground_truth: str | Path | None = None, promote: bool = True, calibration: str = "platt",
        tier_kind: str | None = None, params: dict[str, Any] | None = None,
        num_boost_round: int | None = None, budget_s: float | None = None,
        max_configs: int | None = None, label_correction: str = "none") -> dict[str, Any]:
    """Train a candidate on ``dataset`` and take it through evaluation, MLflow and the promotion gate.

    Args:
        settings: where the MLflow store, reports and model exports live.
        dataset: a split dataset (warehouse spine or bring-your-own table).
        actor: who runs it (audit log of the promotion decision).
        seed: seed of every random draw.
        ground_truth: the simulator's ground-truth folder, for the ceiling AUC (evaluation only).
        promote: apply the promotion gate and move ``champion`` when it passes.
        budget_s: wall seconds for the LightGBM search (default :data:`training.train.DEFAULT_BUDGET_S`).
        max_configs: exactly this many search configurations instead of a time budget (repeatable).
        label_correction: how the dataset's labels were corrected for detection (recorded in MLflow).
    Returns:
        ``run_id, model_version, metrics, tier_event_rates, promoted, promotion_reasons, report, ...``.
    """
    apply_offline_env()
    import mlflow

    from training import evaluate, registry, report, train
    from training.model import MODEL_NAME, ScoringModel, champion_path
    from training.promote import promote as do_promote

    settings.ensure_home()
    with progress.step(f"choosing LightGBM vs logistic on temporal folds of {len(dataset.part('train')):,} train "
                       f"+ {len(dataset.part('valid')):,} valid rows, refitting the winner"):
        kwargs = {k: v for k, v in (("num_boost_round", num_boost_round), ("budget_s", budget_s),
                                    ("max_configs", max_configs)) if v is not None}
        selection = train.train_candidates(dataset, params=params, seed=seed, calibration=calibration,
                                           tier_kind=tier_kind, **kwargs)
    model = selection.winner
    current = registry.champion(settings)
    champion = ScoringModel.load(settings, current.version) if current is not None else None
    with progress.step(f"evaluating on {len(dataset.part('test')):,} newest rows"):
        ev = evaluate.evaluate(model, dataset, champion=champion, ground_truth=ground_truth, seed=seed,
                               candidates=selection.models)
    model.meta["metrics"] = _finite(ev["metrics"])
    model.meta["tier_event_rates"] = ev["tier_event_rates"]
    model.meta["tiers"] = ev["tiers"]
    model.meta["importance"] = ev["importance"]
    model.meta["label_correction"] = label_correction
    if DETECTION_COL in dataset.frame.columns:
        te = dataset.part("test")
        ev["detection_mix"] = detection_mix(te[DETECTION_COL], model.tiers(model.predict_proba(te)))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    exp_id = registry.experiment_id(settings)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"train-{stamp}") as active:
        run_id = active.info.run_id
        mlflow.log_params({"seed": seed, "calibration": calibration, "tier_policy": model.policy.kind,
                           "model_kind": model.kind, "search_budget_s": selection.record["budget_s"],
                           "search_trials": sum(len(t) for t in selection.record["trials"].values()),
                           "split": (dataset.split.method if dataset.split is not None else "none"),
                           "num_trees": model.meta["num_trees"], "features": len(model.features),
                           "schema_hash": model.schema_hash, "feature_set": model.meta["feature_set"],
                           "dataset": dataset.source.get("kind"), "label_correction": label_correction,
                           "label": json.dumps(dataset.label_info, ensure_ascii=False)[:500],
                           **{f"lgb_{k}": v for k, v in selection.models.get("lightgbm", model).meta["params"].items()
                              if k in ("learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction",
                                       "bagging_fraction", "lambda_l2", "monotone_constraints_method")}})
        mlflow.log_metrics(model.meta["metrics"])
        mlflow.log_metrics({f"tier_event_rate_{k}": v for k, v in ev["tier_event_rates"].items()
                            if math.isfinite(v)})
        mlflow.set_tags({"actor": actor, "schema_hash": model.schema_hash})
        with tempfile.TemporaryDirectory() as tmp:
            bundle = model.export_local(Path(tmp) / "model")
            (bundle / "evaluation.json").write_text(json.dumps(ev, ensure_ascii=False, default=str),
                                                    encoding="utf-8")
            mlflow.log_artifacts(str(bundle), artifact_path="model")
        version = registry.register(settings, run_id=run_id, tags={"schema_hash": model.schema_hash,
                                                                    "dataset": str(dataset.source.get("kind"))})
        model.meta["version"] = str(version.version)
        title = f"{MODEL_NAME} v{version.version} — evaluation report 模型评估报告"
        report_path = settings.reports_dir / f"training-v{version.version}-{stamp}.html"
        meta = {"run": run_id, "version": version.version, "schema": model.schema_hash, "seed": seed,
                "kind": model.kind, "trees": model.meta["num_trees"], "calibration": calibration,
                "champion": current.version if current is not None else "none"}
        report.write(ev, report_path, title=title, meta=meta)
        mlflow.log_artifact(str(report_path), artifact_path="report")
    decision = {"promoted": False, "reasons": ["promotion not requested (--no-promote)"]}
    if promote:
        decision = do_promote(settings, version=version.version, auto=True, actor=actor)
        report.write(ev, report_path, title=title, meta=meta, gate=decision)
        registry.client(settings).log_artifact(run_id, str(report_path), artifact_path="report")
    model.export_local(settings.models_dir / f"v{version.version}")
    return {
        "run_id": run_id,
        "model_version": str(version.version),
        "model_kind": model.kind,
        "candidates": ev["candidates"],
        "metrics": {k: ev["metrics"][k] for k in ("auc", "ks", "brier", "ece", "cd_capture", "baseline_auc",
                                                  "ground_truth_auc", "ground_truth_violating_auc", "psi_vs_champion",
                                                  "event_rate")
                    if k in ev["metrics"]},
        "tier_event_rates": ev["tier_event_rates"],
        "tier_shares": {k: v["share"] for k, v in ev["tiers"].items()},
        "promoted": bool(decision["promoted"]),
        "promotion_reasons": decision["reasons"],
        "previous_champion": current.version if current is not None else None,
        "schema_hash": model.schema_hash,
        "num_trees": model.meta["num_trees"],
        "training_window": model.training_window,
        "report": str(report_path),
        "champion_export": str(champion_path(settings)) if decision["promoted"] else None,
    }


def train_table(settings: Settings, *, table: str | Path, id_col: str, time_col: str, label_col: str,
                split_col: str | None = None, actor: str, **options: Any) -> dict[str, Any]:
    """Retrain on a bring-your-own labelled table (see :func:`training.dataset.from_table`), then :func:`run`."""
    from training.dataset import from_table

    with progress.step(f"reading {Path(table).name}"):
        dataset = from_table(table, id_col=id_col, time_col=time_col, label_col=label_col, split_col=split_col)
    return run(settings, dataset, actor=actor, **options)


def train_warehouse(settings: Settings, *, actor: str, start=None, end=None, freq: str = "quarterly",
                    data_end=None, label_correction: str = "none", **options: Any) -> dict[str, Any]:
    """Retrain on the warehouse's feature spine with labels from core/rules/labels.toml, then :func:`run`.

    Without ``start``/``end`` the spine covers the years before the newest complete label window.
    Each row records what detected its label (the report's detection mix per tier); with
    ``label_correction="random-checks"`` the train and valid rows are re-labelled by random inspections
    and weighted by 1/π (see :mod:`training.detection`).
    """
    from core.errors import UserError
    from features.warehouse import batch, connect
    from training import labels
    from training.dataset import SPLIT_COL, default_spine, from_warehouse
    from training.detection import CORRECTIONS, detection_kinds, random_check_correction

    with batch(settings, purpose="train on the warehouse spine", actor=actor):
        con = connect(settings)
        try:
            data_end = data_end or labels.data_end(con)
            if data_end is None:
                raise UserError("the warehouse holds no records yet; run `credit-risk ingest` first")
            if label_correction not in CORRECTIONS:
                raise UserError(f"label correction must be one of {CORRECTIONS}, got {label_correction!r}")
            start, end = default_spine(data_end, start=start, end=end)
            dataset = from_warehouse(con, start=start, end=end, freq=freq, data_end=data_end)
            dataset.frame[DETECTION_COL] = detection_kinds(con, dataset.frame, dataset.label_col)
            if label_correction == "random-checks":
                with progress.step("re-labelling the train and valid rows by random inspections (weights 1/π)"):
                    dataset.frame = random_check_correction(con, dataset.frame, split_col=SPLIT_COL,
                                                            label_col=dataset.label_col)
        finally:
            con.close()
    return run(settings, dataset, actor=actor, label_correction=label_correction, **options)
