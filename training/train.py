"""LightGBM training with monotone constraints, temporal early stopping, calibration and tier cut-offs."""

from __future__ import annotations

from typing import Any

import numpy as np

from features.catalog import FEATURE_SET
from training import calibrate
from training.dataset import Dataset
from training.detection import WEIGHT_COL
from training.model import BUNDLE_FORMAT, MODEL_NAME, ScoringModel, schema_hash, to_matrix
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


def train(dataset: Dataset, *, params: dict[str, Any] | None = None, seed: int = DEFAULT_SEED,
          num_boost_round: int = DEFAULT_ROUNDS, early_stopping: int = DEFAULT_EARLY_STOPPING,
          calibration: str = "platt", tier_kind: str | None = None) -> ScoringModel:
    """Fit the booster on the train slice, stop early and calibrate on the valid slice, cut tiers.

    Args:
        dataset: a split :class:`~training.dataset.Dataset` (train / valid / test rows); a ``_weight``
            column (see :mod:`training.detection`) weights the train and valid rows.
        params: LightGBM parameters overriding :data:`DEFAULT_PARAMS`.
        seed: the seed of every random draw (bagging, feature fraction).
        num_boost_round: the most trees; early stopping on the valid slice picks fewer.
        early_stopping: rounds without improvement of the valid log-loss before stopping.
        calibration: ``platt`` or ``isotonic``, fitted on the valid slice.
        tier_kind: ``target_shares`` or ``pd_bands`` (default: core/rules/tiers.toml).
    Returns:
        An unregistered :class:`ScoringModel` whose tier cut-offs are fitted on the test slice.
    """
    import lightgbm as lgb

    tr, va, te = (dataset.part(s) for s in ("train", "valid", "test"))
    p = {**DEFAULT_PARAMS, **(params or {}), "seed": seed, "bagging_seed": seed, "feature_fraction_seed": seed,
         "data_random_seed": seed}
    feats = dataset.features
    p["monotone_constraints"] = [int(f.get("direction", 0)) if f.get("kind") != "categorical" else 0
                                 for f in feats]
    cat_idx = [i for i, f in enumerate(feats) if f.get("kind") == "categorical"]
    y_tr, y_va = tr[dataset.label_col].to_numpy(int), va[dataset.label_col].to_numpy(int)
    if y_tr.sum() == 0 or y_va.sum() == 0:
        raise ValueError(f"expected events in both train and valid slices, got {y_tr.sum()} and {y_va.sum()}")
    names = [f["name"] for f in feats]
    w_tr, w_va = (part[WEIGHT_COL].to_numpy(float) if WEIGHT_COL in part.columns else None for part in (tr, va))
    d_tr = lgb.Dataset(to_matrix(tr, feats), y_tr, weight=w_tr, feature_name=names, categorical_feature=cat_idx,
                       free_raw_data=False)
    x_va = to_matrix(va, feats)
    d_va = lgb.Dataset(x_va, y_va, weight=w_va, reference=d_tr, feature_name=names, categorical_feature=cat_idx)
    booster = lgb.train(p, d_tr, num_boost_round=num_boost_round, valid_sets=[d_va], valid_names=["valid"],
                        callbacks=[lgb.early_stopping(early_stopping, verbose=False)])
    best = booster.best_iteration or booster.current_iteration()
    booster_text = booster.model_to_string(num_iteration=best)
    raw_va = booster.predict(x_va, num_iteration=best)
    calibrator = calibrate.fit(raw_va, y_va, method=calibration)
    policy_rules = TierPolicy.from_rules(kind=tier_kind)
    raw_te = booster.predict(to_matrix(te, feats), num_iteration=best)
    policy = policy_rules.fit(calibrate.apply(calibrator, raw_te))
    meta = {
        "format": BUNDLE_FORMAT,
        "name": MODEL_NAME,
        "version": None,
        "feature_set": dataset.feature_set or FEATURE_SET,
        "id_col": dataset.id_col,
        "features": feats,
        "dimensions": {k: list(v) for k, v in dataset.dimensions.items()},
        "schema_hash": schema_hash(feats),
        "calibrator": calibrator,
        "tier_policy": policy.to_dict(),
        "training_window": dataset.window(),
        "label": dataset.label_info,
        "params": {k: v for k, v in p.items() if k != "monotone_constraints"},
        "num_trees": int(best),
        "seed": seed,
        "source": dataset.source,
        "metrics": {},
    }
    return ScoringModel(booster_text=booster_text, meta=meta)


def valid_raw(model: ScoringModel, dataset: Dataset, part: str) -> np.ndarray:
    """Uncalibrated predictions on one slice (for diagnostics)."""
    return model.booster.predict(to_matrix(dataset.part(part), model.features))
