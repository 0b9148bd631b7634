"""Model choice on time-ordered cross-validation: folds, a seeded LightGBM search in a time budget, the logistic.

The folds never look forward: the last fold is the dataset's own train → valid split; each earlier fold
validates on an older block of train rows of the same size and trains only on rows older than that block
(by the label embargo too, for snapshot spines). A LightGBM configuration is scored by its mean fold AUC
at each fold's early-stopping round; the refit uses the mean of those rounds. The regularised logistic
regression is scored on the same folds, so the two candidates compete on the same rows.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.dataset import SPLIT_COL, Dataset

N_FOLDS = 3
MAX_CONFIGS = 16
LOGISTIC_C = (0.01, 0.1, 1.0)
# The search space: the previous defaults are tried first, then seeded draws from these values.
SPACE: dict[str, tuple] = {
    "learning_rate": (0.03, 0.05, 0.1),
    "num_leaves": (7, 15, 31, 63),
    "min_data_in_leaf": (20, 50, 100, 200, 400),
    "feature_fraction": (0.5, 0.7, 0.8, 1.0),
    "lambda_l2": (0.0, 1.0, 10.0, 50.0),
    # LightGBM's native categorical splits, smoothed (high-cardinality codes: inspector, licence, district)
    "cat_smooth": (10.0, 20.0, 50.0),
    "min_data_per_group": (50, 100, 200),
}


@dataclass(frozen=True)
class Fold:
    """Row positions (into ``dataset.frame``) of one fold's train and valid rows."""

    train: np.ndarray
    valid: np.ndarray
    valid_start: str
    valid_end: str

    def describe(self) -> dict[str, Any]:
        return {"train_rows": int(len(self.train)), "valid_rows": int(len(self.valid)),
                "valid_start": self.valid_start, "valid_end": self.valid_end}


@dataclass(frozen=True)
class Trial:
    """One candidate configuration scored on the folds."""

    kind: str  # lightgbm | logistic
    params: dict[str, Any]
    fold_auc: list[float]
    rounds: list[int] = field(default_factory=list)  # early-stopping round per fold (lightgbm)
    seconds: float = 0.0

    @property
    def auc(self) -> float:
        return float(np.mean(self.fold_auc)) if self.fold_auc else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "auc": self.auc}


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def temporal_folds(dataset: Dataset, *, n_folds: int = N_FOLDS) -> list[Fold]:
    """Up to ``n_folds`` forward-looking folds, oldest first; the last is the dataset's train → valid."""
    frame, tcol = dataset.frame, dataset.time_col
    times = pd.to_datetime(frame[tcol]) if not pd.api.types.is_numeric_dtype(frame[tcol]) else frame[tcol]
    split = frame[SPLIT_COL].to_numpy()
    y = frame[dataset.label_col].to_numpy(int)
    embargo = int(dataset.split.embargo_months or 0) if dataset.split is not None else 0

    def before(t_start, pool: np.ndarray) -> np.ndarray:
        if embargo and not pd.api.types.is_numeric_dtype(times):
            return pool & ((times + pd.DateOffset(months=embargo)) <= t_start).to_numpy()
        return pool & (times < t_start).to_numpy()

    train_mask, valid_mask = split == "train", split == "valid"
    folds = [Fold(np.flatnonzero(train_mask), np.flatnonzero(valid_mask),
                  _iso(frame.loc[valid_mask, tcol].min()), _iso(frame.loc[valid_mask, tcol].max()))]
    size = int(valid_mask.sum())
    pool = train_mask.copy()
    while len(folds) < n_folds:
        distinct = np.sort(pd.unique(times[pool]))[::-1]
        block, rows = [], 0
        for t in distinct:
            block.append(t)
            rows += int((pool & (times == t).to_numpy()).sum())
            if rows >= size:
                break
        if not block or len(block) == len(distinct):
            break
        v_mask = pool & times.isin(block).to_numpy()
        start = min(block)
        t_mask = before(start, pool & ~v_mask)
        if not (0 < y[t_mask].sum() < t_mask.sum() and 0 < y[v_mask].sum() < v_mask.sum()):
            break
        folds.insert(0, Fold(np.flatnonzero(t_mask), np.flatnonzero(v_mask),
                             _iso(frame.loc[v_mask, tcol].min()), _iso(frame.loc[v_mask, tcol].max())))
        pool = pool & (times < start).to_numpy()
    return folds


def configurations(base: dict[str, Any], *, seed: int, limit: int = MAX_CONFIGS) -> list[dict[str, Any]]:
    """The base parameters first, then distinct seeded draws from :data:`SPACE`."""
    rng = np.random.default_rng(seed)
    first = {k: base[k] for k in SPACE if k in base}
    out, seen = [first], {tuple(sorted(first.items()))}
    for _ in range(limit * 20):
        if len(out) >= limit:
            break
        cand = {k: vals[int(rng.integers(len(vals)))] for k, vals in SPACE.items()}
        key = tuple(sorted(cand.items()))
        if key not in seen:
            seen.add(key)
            out.append(cand)
    return out


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def search_lightgbm(x: np.ndarray, y: np.ndarray, folds: list[Fold], *, base: dict[str, Any],
                    cat_idx: list[int], names: list[str], max_rounds: int, patience: int,
                    budget_s: float, seed: int, search: bool = True, max_configs: int | None = None,
                    weight: np.ndarray | None = None) -> list[Trial]:
    """Score the base configuration, then seeded alternatives while the time budget lasts.

    The wall-clock budget makes the number of configurations tried depend on the machine; with
    ``max_configs`` exactly that many are tried (the budget is ignored), so a run is repeated exactly.
    """
    import lightgbm as lgb

    data = []
    for f in folds:
        w_tr = weight[f.train] if weight is not None else None
        d_tr = lgb.Dataset(x[f.train], y[f.train], weight=w_tr, feature_name=names, categorical_feature=cat_idx,
                           free_raw_data=False, params={"verbose": -1, "feature_pre_filter": False})
        d_va = lgb.Dataset(x[f.valid], y[f.valid], reference=d_tr, feature_name=names,
                           categorical_feature=cat_idx, free_raw_data=False,
                           params={"verbose": -1, "feature_pre_filter": False})
        data.append((d_tr, d_va))
    trials: list[Trial] = []
    started = time.monotonic()
    limit = 1 if not search else (max_configs or MAX_CONFIGS)
    for cfg in configurations(base, seed=seed, limit=limit):
        spent = time.monotonic() - started
        if max_configs is None and trials and spent + trials[-1].seconds > budget_s:
            break
        t0 = time.monotonic()
        params = {**base, **cfg, "metric": ["auc", "binary_logloss"], "first_metric_only": True}
        aucs, rounds = [], []
        for (d_tr, d_va), f in zip(data, folds, strict=True):
            booster = lgb.train(params, d_tr, num_boost_round=max_rounds, valid_sets=[d_va], valid_names=["valid"],
                                callbacks=[lgb.early_stopping(patience, verbose=False)])
            best = booster.best_iteration or booster.current_iteration()
            rounds.append(int(best))
            aucs.append(_auc(y[f.valid], booster.predict(x[f.valid], num_iteration=best)))
        trials.append(Trial("lightgbm", cfg, aucs, rounds, round(time.monotonic() - t0, 2)))
    return trials


def search_logistic(x: np.ndarray, y: np.ndarray, folds: list[Fold], *, features: list[dict[str, Any]],
                    weight: np.ndarray | None = None) -> list[Trial]:
    """Score the regularised logistic regression at each strength in :data:`LOGISTIC_C`."""
    from training.linear import LinearModel

    trials = []
    for c in LOGISTIC_C:
        t0 = time.monotonic()
        aucs = []
        for f in folds:
            w = weight[f.train] if weight is not None else None
            m = LinearModel(C=c).fit(x[f.train], y[f.train], features=features, sample_weight=w)
            aucs.append(_auc(y[f.valid], m.predict(x[f.valid])))
        trials.append(Trial("logistic", {"C": c}, aucs, [], round(time.monotonic() - t0, 2)))
    return trials


def best(trials: list[Trial]) -> Trial:
    """The trial with the highest mean fold AUC (the first on ties: the base configuration wins those)."""
    return max(trials, key=lambda t: (t.auc, -trials.index(t)))
