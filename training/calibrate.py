"""Probability calibration on a held-out temporal slice: Platt scaling or isotonic regression.

A fitted calibrator is plain data (a dict) so that a model bundle loads without pickles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METHODS = ("platt", "isotonic")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit(raw: np.ndarray, y: np.ndarray, *, method: str = "platt") -> dict[str, Any]:
    """Fit a calibrator mapping raw model probabilities to calibrated ones.

    Args:
        raw: uncalibrated probabilities on the calibration slice.
        y: 0/1 outcomes on the same rows.
        method: ``platt`` (logistic on the raw log-odds; keeps the ranking strictly) or ``isotonic``.
    Returns:
        A JSON-serialisable calibrator for :func:`apply`.
    """
    raw = np.asarray(raw, dtype=float)
    y = np.asarray(y, dtype=float)
    if raw.shape != y.shape or raw.size == 0:
        raise ValueError(f"expected equal, non-empty raw and label arrays, got {raw.shape} and {y.shape}")
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    if y.min() == y.max():
        raise ValueError("calibration slice has a single class; expected both events and non-events")
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
        lr.fit(_logit(raw).reshape(-1, 1), y)
        return {"method": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip", increasing=True)
    iso.fit(raw, y)
    return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def apply(calibrator: dict[str, Any] | None, raw: np.ndarray) -> np.ndarray:
    """Calibrated probabilities for raw ones (identity when ``calibrator`` is None)."""
    raw = np.asarray(raw, dtype=float)
    if not calibrator:
        return raw
    if calibrator["method"] == "platt":
        z = calibrator["a"] * _logit(raw) + calibrator["b"]
        return 1.0 / (1.0 + np.exp(-z))
    if calibrator["method"] == "isotonic":
        return np.interp(raw, np.asarray(calibrator["x"]), np.asarray(calibrator["y"]))
    raise ValueError(f"unknown calibrator method {calibrator['method']!r}; expected one of {METHODS}")
