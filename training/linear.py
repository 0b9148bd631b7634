"""A regularised logistic regression on the booster's feature matrix, stored as plain data.

It works on the same float matrix the trees see (:func:`training.model.to_matrix`: numeric columns with
NaN for missing, categoricals as training codes), so a model bundle of either kind scores the same frames.
Numeric features: the declared missing value (or the training median) for NaN, clipped to the training
1st–99th percentiles, standardised, plus a missing-indicator term when training rows had missing values.
Categorical features: one coefficient per code seen at least ``min_count`` times, one for the rest.
A feature with a declared risk direction gets a coefficient of that sign only (L-BFGS-B with bounds), so
the logistic candidate keeps the same monotone constraints as the trees.
Contributions are each term minus its training mean (they sum to the log-odds with the bias column),
like the trees' path attribution, so reasons read the same for both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CLIP_QUANTILES = (0.01, 0.99)
MIN_CATEGORY_COUNT = 20
_ROWS_PER_PRODUCT = 65_536  # rows multiplied at a time in decision() (bounds its temporary array)


@dataclass(frozen=True)
class _Numeric:
    col: int
    fill: float
    lo: float
    hi: float
    mean: float
    scale: float


@dataclass(frozen=True)
class _Categorical:
    col: int
    codes: tuple[float, ...]  # one-hot codes kept; everything else (unknown, rare, missing) is "other"


class LinearModel:
    """Logistic regression on a feature matrix: :meth:`fit`, :meth:`predict`, :meth:`contributions`."""

    def __init__(self, *, C: float = 1.0, min_count: int = MIN_CATEGORY_COUNT) -> None:
        self.C = C
        self.min_count = min_count

    # --- design matrix -----------------------------------------------------------------------------
    def _prepare(self, x: np.ndarray, features: list[dict[str, Any]]) -> None:
        self.numeric_: list[_Numeric] = []
        self.categorical_: list[_Categorical] = []
        self.indicator_cols_: list[int] = []
        for j, f in enumerate(features):
            col = x[:, j]
            seen = col[~np.isnan(col)]
            if f.get("kind") == "categorical":
                codes, counts = np.unique(seen, return_counts=True)
                self.categorical_.append(_Categorical(j, tuple(float(c) for c in codes[counts >= self.min_count])))
                continue
            fill = float(f["missing_as"]) if f.get("missing_as") is not None else (
                float(np.median(seen)) if len(seen) else 0.0)
            filled = np.where(np.isnan(col), fill, col)
            lo, hi = (float(v) for v in np.quantile(filled, CLIP_QUANTILES))
            clipped = np.clip(filled, lo, hi)
            scale = float(clipped.std()) or 1.0
            self.numeric_.append(_Numeric(j, fill, lo, hi, float(clipped.mean()), scale))
            if len(seen) < len(col) and f.get("missing_as") is None:
                self.indicator_cols_.append(j)

    def _bounds(self, features: list[dict[str, Any]]) -> list[tuple[float | None, float | None]]:
        """Per design column: the sign a declared direction allows (numeric terms only)."""
        signs = {n.col: int(features[n.col].get("direction") or 0) for n in self.numeric_}
        out: list[tuple[float | None, float | None]] = [
            (0.0, None) if signs[n.col] > 0 else (None, 0.0) if signs[n.col] < 0 else (None, None)
            for n in self.numeric_]
        width = len(self.indicator_cols_) + sum(len(c.codes) for c in self.categorical_)
        return out + [(None, None)] * width

    def _design(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(design matrix, owner feature column of each design column)."""
        blocks, owners = [], []
        for n in self.numeric_:
            col = np.clip(np.where(np.isnan(x[:, n.col]), n.fill, x[:, n.col]), n.lo, n.hi)
            blocks.append(((col - n.mean) / n.scale)[:, None])
            owners.append(n.col)
        for j in self.indicator_cols_:
            blocks.append(np.isnan(x[:, j]).astype(float)[:, None])
            owners.append(j)
        for c in self.categorical_:
            if c.codes:
                blocks.append((x[:, c.col][:, None] == np.asarray(c.codes)[None, :]).astype(float))
                owners.extend([c.col] * len(c.codes))
        if not blocks:
            return np.zeros((len(x), 0)), np.zeros(0, dtype=int)
        return np.hstack(blocks), np.asarray(owners, dtype=int)

    # --- fit / predict -----------------------------------------------------------------------------
    def fit(self, x: np.ndarray, y: np.ndarray, *, features: list[dict[str, Any]],
            sample_weight: np.ndarray | None = None) -> LinearModel:
        """Fit on a feature matrix ``x`` (as :func:`training.model.to_matrix` makes it) and 0/1 ``y``.

        Minimises the log-loss summed over rows (weighted by ``sample_weight``) plus ``||coef||² / (2C)``,
        scikit-learn's parametrisation, with the coefficient signs bounded by the declared directions.
        """
        from scipy.optimize import minimize

        self.n_features_ = len(features)
        self._prepare(x, features)
        design, owners = self._design(x)
        yv = np.asarray(y, dtype=float)
        w = np.ones(len(yv)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        k = design.shape[1]

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            z = design @ theta[:k] + theta[k]
            p = 1.0 / (1.0 + np.exp(-z))
            value = float(np.sum(w * (np.logaddexp(0.0, z) - yv * z)) + theta[:k] @ theta[:k] / (2 * self.C))
            g = w * (p - yv)
            return value, np.concatenate([design.T @ g + theta[:k] / self.C, [g.sum()]])

        prior = float(np.clip(np.average(yv, weights=w), 1e-6, 1 - 1e-6))
        start = np.concatenate([np.zeros(k), [np.log(prior / (1 - prior))]])
        res = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=self._bounds(features) + [(None, None)],
                       options={"maxiter": 2000})
        self.coef_ = res.x[:k].astype(float)
        self.intercept_ = float(res.x[k])
        self.owners_ = owners
        terms = self._terms(design)
        self.term_means_ = terms.mean(axis=0)
        self.importance_ = np.abs(terms - self.term_means_).mean(axis=0)
        return self

    def _terms(self, design: np.ndarray) -> np.ndarray:
        """Per feature column: the sum of its design columns times their coefficients."""
        terms = np.zeros((len(design), self.n_features_))
        if design.shape[1]:
            np.add.at(terms.T, self.owners_, (design * self.coef_).T)
        return terms

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Log-odds per row, each from its own row alone: a matrix product (BLAS) rounds a row differently by
        its place in the batch, so a score would depend on how the rows were batched."""
        design, _ = self._design(x)
        out = np.full(len(x), self.intercept_)
        if design.shape[1]:
            for lo in range(0, len(design), _ROWS_PER_PRODUCT):
                rows = design[lo:lo + _ROWS_PER_PRODUCT]
                out[lo:lo + len(rows)] += np.multiply(rows, self.coef_).sum(axis=1)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability per row (uncalibrated, like the booster's ``predict``)."""
        return 1.0 / (1.0 + np.exp(-self.decision(x)))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """(rows, features + 1): each feature's term minus its training mean, then the bias (sums to log-odds)."""
        design, _ = self._design(x)
        centred = self._terms(design) - self.term_means_
        bias = self.intercept_ + float(self.term_means_.sum())
        return np.hstack([centred, np.full((len(x), 1), bias)])

    # --- plain data ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"C": self.C, "min_count": self.min_count, "n_features": self.n_features_,
                "numeric": [vars(n) for n in self.numeric_],
                "categorical": [{"col": c.col, "codes": list(c.codes)} for c in self.categorical_],
                "indicators": list(self.indicator_cols_), "coef": self.coef_.tolist(),
                "intercept": self.intercept_, "owners": self.owners_.tolist(),
                "term_means": self.term_means_.tolist(), "importance": self.importance_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        m = cls(C=float(data["C"]), min_count=int(data["min_count"]))
        m.n_features_ = int(data["n_features"])
        m.numeric_ = [_Numeric(**n) for n in data["numeric"]]
        m.categorical_ = [_Categorical(int(c["col"]), tuple(float(v) for v in c["codes"]))
                          for c in data["categorical"]]
        m.indicator_cols_ = [int(j) for j in data["indicators"]]
        m.coef_ = np.asarray(data["coef"], dtype=float)
        m.intercept_ = float(data["intercept"])
        m.owners_ = np.asarray(data["owners"], dtype=int)
        m.term_means_ = np.asarray(data["term_means"], dtype=float)
        m.importance_ = np.asarray(data["importance"], dtype=float)
        return m
