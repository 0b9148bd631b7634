"""Training: LightGBM (monotone, searched on temporal folds) beside a regularised logistic; the winner is kept.

Both candidates are scored on the same time-ordered folds (:mod:`training.search`); each is then refitted
on train + valid (LightGBM with the mean early-stopping round of its folds), calibrated on the valid slice
by its last-fold fit (a model that did not see those rows), and cut into tiers on the test slice. The
candidate with the better mean fold AUC (validation, never test) is the one registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.catalog import FEATURE_SET
from training import calibrate, search
from training.dataset import SPLIT_COL, Dataset
from training.detection import WEIGHT_COL
from training.model import (
    BUNDLE_FORMAT,
    KINDS,
    MODEL_NAME,
    ScoringModel,
    entity_type_feature,
    entity_types,
    schema_hash,
    to_matrix,
)
from training.tiers import TierPolicy

DEFAULT_SEED = 20260101
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 20.0,
    "min_data_per_group": 100,
    "max_cat_to_onehot": 8,
    "monotone_constraints_method": "intermediate",
    # one thread: on the shared 2-core machine two OpenMP threads spin against other jobs — 412k spine rows
    # took 180 s wall / 82 s CPU with 2 threads and 54 s wall / 21 s CPU with 1 (same 153 trees)
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
DEFAULT_ROUNDS = 300
DEFAULT_EARLY_STOPPING = 30
DEFAULT_BUDGET_S = 120.0  # wall seconds for the LightGBM search after the base configuration


@dataclass
class Selection:
    """The candidates of one training run, each refitted and calibrated, and how the winner was chosen."""

    winner: ScoringModel
    models: dict[str, ScoringModel]
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def runner_up(self) -> ScoringModel | None:
        others = [m for k, m in self.models.items() if k != self.winner.kind]
        return others[0] if others else None


def train(dataset: Dataset, **options: Any) -> ScoringModel:
    """The winning candidate of :func:`train_candidates` (same options)."""
    return train_candidates(dataset, **options).winner


def train_candidates(dataset: Dataset, *, params: dict[str, Any] | None = None, seed: int = DEFAULT_SEED,
                     num_boost_round: int = DEFAULT_ROUNDS, early_stopping: int = DEFAULT_EARLY_STOPPING,
                     calibration: str = "platt", tier_kind: str | None = None,
                     budget_s: float = DEFAULT_BUDGET_S, max_configs: int | None = None,
                     candidates: tuple[str, ...] = KINDS,
                     sample_weight: np.ndarray | None = None) -> Selection:
    """Choose, refit and calibrate the model on temporal folds of the train and valid slices.

    Args:
        dataset: a split :class:`~training.dataset.Dataset` (train / valid / test rows); a ``_weight``
            column (see :mod:`training.detection`) weights the rows when ``sample_weight`` is not given.
        params: LightGBM parameters overriding :data:`DEFAULT_PARAMS`; given, they are used as they are
            (no search), the folds still choose the number of rounds.
        seed: the seed of every random draw (search order, bagging, feature fraction, solvers).
        num_boost_round: the most trees a fold may grow; early stopping picks fewer.
        early_stopping: rounds without improvement of the fold's valid log-loss before it stops.
        calibration: ``platt`` or ``isotonic``, fitted on the valid slice.
        tier_kind: ``target_shares`` or ``pd_bands`` (default: core/rules/tiers.toml).
        budget_s: wall seconds the LightGBM search may spend beyond its first (base) configuration.
        max_configs: try exactly this many configurations instead (the budget is ignored): a wall-clock
            budget tries more on a faster machine, a count repeats a run exactly.
        candidates: model kinds to train (``lightgbm``, ``logistic``).
        sample_weight: one weight per row of ``dataset.frame`` (e.g. inverse detection probability).
    Returns:
        A :class:`Selection`: the winner (by mean fold AUC), every candidate, and the search record.
    """
    unknown = [k for k in candidates if k not in KINDS]
    if unknown or not candidates:
        raise ValueError(f"candidates must be some of {KINDS}, got {list(candidates)}")
    feats = dataset.features
    base = {**DEFAULT_PARAMS, **(params or {}), "seed": seed, "bagging_seed": seed, "feature_fraction_seed": seed,
            "data_random_seed": seed}
    base["monotone_constraints"] = [int(f.get("direction", 0)) if f.get("kind") != "categorical" else 0
                                    for f in feats]
    cat_idx = [i for i, f in enumerate(feats) if f.get("kind") == "categorical"]
    names = [f["name"] for f in feats]
    x = to_matrix(dataset.frame, feats)
    y = dataset.frame[dataset.label_col].to_numpy(int)
    if sample_weight is None and WEIGHT_COL in dataset.frame.columns:
        sample_weight = dataset.frame[WEIGHT_COL].to_numpy(float)
    split = dataset.frame[SPLIT_COL].to_numpy()
    tr, va, te = (np.flatnonzero(split == s) for s in ("train", "valid", "test"))
    if y[tr].sum() == 0 or y[va].sum() == 0:
        raise ValueError(f"expected events in both train and valid slices, got {y[tr].sum()} and {y[va].sum()}")
    folds = search.temporal_folds(dataset)
    trials: dict[str, list[search.Trial]] = {}
    if "lightgbm" in candidates:
        trials["lightgbm"] = search.search_lightgbm(
            x, y, folds, base=base, cat_idx=cat_idx, names=names, max_rounds=num_boost_round,
            patience=early_stopping, budget_s=budget_s, seed=seed, search=params is None, max_configs=max_configs,
            weight=sample_weight)
    if "logistic" in candidates:
        trials["logistic"] = search.search_logistic(x, y, folds, features=feats, weight=sample_weight)
    chosen = {kind: search.best(ts) for kind, ts in trials.items()}
    winner_kind = max(chosen, key=lambda k: (chosen[k].auc, k == "lightgbm"))
    refit = np.concatenate([tr, va])
    common = {"dataset": dataset, "x": x, "y": y, "rows": (refit, va, te), "calibration": calibration,
              "tier_kind": tier_kind, "seed": seed, "weight": sample_weight}
    models: dict[str, ScoringModel] = {}
    for kind, trial in chosen.items():
        if kind == "lightgbm":
            rounds = max(1, int(round(float(np.mean(trial.rounds)))))
            models[kind] = _fit_lightgbm(params={**base, **trial.params}, rounds=rounds, last_fold=folds[-1],
                                         cat_idx=cat_idx, names=names, **common)
        else:
            models[kind] = _fit_logistic(C=float(trial.params["C"]), last_fold=folds[-1], **common)
    categorical = {f["name"]: len(f.get("categories") or []) for f in feats if f.get("kind") == "categorical"}
    record = {
        "metric": "mean AUC over temporal folds (validation rows only)",
        "folds": [f.describe() for f in folds],
        "trials": {k: [t.to_dict() for t in ts] for k, ts in trials.items()},
        "chosen": {k: t.to_dict() for k, t in chosen.items()},
        "winner": winner_kind,
        "budget_s": budget_s,
        "max_configs": max_configs,
        "searched": params is None,
        "refit_rows": int(len(refit)),
        "categorical": {"method": "lightgbm native categorical splits, smoothed (cat_smooth, min_data_per_group "
                                  "searched); logistic: one-hot of codes seen ≥ 20 times, the rest pooled",
                        "cardinality": categorical},
    }
    for m in models.values():
        m.meta["selection"] = record
    return Selection(winner=models[winner_kind], models=models, record=record)


def _meta(dataset: Dataset, *, kind: str, calibrator: dict[str, Any], policy: TierPolicy, seed: int,
          extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "kind": kind,
        "name": MODEL_NAME,
        "version": None,
        "feature_set": dataset.feature_set or FEATURE_SET,
        "id_col": dataset.id_col,
        "features": dataset.features,
        "dimensions": {k: list(v) for k, v in dataset.dimensions.items()},
        "schema_hash": schema_hash(dataset.features),
        "calibrator": calibrator,
        "tier_policy": policy.to_dict(),
        "entity_type_feature": entity_type_feature(dataset.frame, dataset.features),
        "training_window": dataset.window(),
        "label": dataset.label_info,
        "seed": seed,
        "source": dataset.source,
        "metrics": {},
        **extra,
    }


def _calibrate_and_cut(raw_valid: np.ndarray, y_valid: np.ndarray, raw_test: np.ndarray, *, calibration: str,
                       tier_kind: str | None, dataset: Dataset, rows) -> tuple[dict[str, Any], TierPolicy]:
    """Calibrate on the valid rows; fit the tier cut-offs (per population) on the test rows and the typical
    disclosure of each population (missingness guard) on the refit rows."""
    refit, _, te = rows
    calibrator = calibrate.fit(raw_valid, y_valid, method=calibration)
    policy = TierPolicy.from_rules(kind=tier_kind).fit(calibrate.apply(calibrator, raw_test),
                                                       entity_types(dataset.frame.iloc[te]))
    return calibrator, policy.fit_typical(dataset.frame.iloc[refit])


def _fit_lightgbm(*, dataset: Dataset, x: np.ndarray, y: np.ndarray, rows, params: dict[str, Any], rounds: int,
                  last_fold: search.Fold, cat_idx: list[int], names: list[str], calibration: str,
                  tier_kind: str | None, seed: int, weight: np.ndarray | None) -> ScoringModel:
    import lightgbm as lgb

    refit, va, te = rows

    def fit(idx: np.ndarray):
        d = lgb.Dataset(x[idx], y[idx], weight=weight[idx] if weight is not None else None, feature_name=names,
                        categorical_feature=cat_idx, params={"verbose": -1})
        return lgb.train(params, d, num_boost_round=rounds)

    booster = fit(refit)
    calibrator, policy = _calibrate_and_cut(fit(last_fold.train).predict(x[va]), y[va], booster.predict(x[te]),
                                            calibration=calibration, tier_kind=tier_kind, dataset=dataset, rows=rows)
    return ScoringModel(booster_text=booster.model_to_string(), meta=_meta(
        dataset, kind="lightgbm", calibrator=calibrator, policy=policy, seed=seed,
        extra={"params": {k: v for k, v in params.items() if k != "monotone_constraints"}, "num_trees": rounds}))


def _fit_logistic(*, dataset: Dataset, x: np.ndarray, y: np.ndarray, rows, C: float, last_fold: search.Fold,
                  calibration: str, tier_kind: str | None, seed: int, weight: np.ndarray | None) -> ScoringModel:
    from training.linear import LinearModel

    refit, va, te = rows

    def fit(idx: np.ndarray) -> LinearModel:
        return LinearModel(C=C).fit(x[idx], y[idx], features=dataset.features,
                                               sample_weight=weight[idx] if weight is not None else None)

    linear = fit(refit)
    calibrator, policy = _calibrate_and_cut(fit(last_fold.train).predict(x[va]), y[va], linear.predict(x[te]),
                                            calibration=calibration, tier_kind=tier_kind, dataset=dataset, rows=rows)
    return ScoringModel(booster_text=None, meta=_meta(
        dataset, kind="logistic", calibrator=calibrator, policy=policy, seed=seed,
        extra={"linear": linear.to_dict(), "params": {"C": C}, "num_trees": 0}))


def valid_raw(model: ScoringModel, dataset: Dataset, part: str) -> np.ndarray:
    """Uncalibrated predictions on one slice (for diagnostics)."""
    return model.raw_predict(to_matrix(dataset.part(part), model.features))
