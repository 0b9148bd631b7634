"""Calibration: Platt and isotonic bring a mis-scaled score close to observed rates."""

import numpy as np
import pytest

from training import calibrate
from training.evaluate import ece


def _miscalibrated(n=20_000, seed=3):
    rng = np.random.default_rng(seed)
    true_p = rng.beta(1, 25, size=n)
    y = (rng.random(n) < true_p).astype(int)
    raw = np.clip(true_p * 3, 0, 0.99)  # a model that overstates risk threefold
    return raw, y


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_reduces_the_calibration_error(method):
    raw, y = _miscalibrated()
    cal = calibrate.fit(raw[:10_000], y[:10_000], method=method)
    before = ece(y[10_000:], raw[10_000:])
    after = ece(y[10_000:], calibrate.apply(cal, raw[10_000:]))
    assert before > 0.03
    assert after < 0.01


def test_platt_keeps_the_ranking_strictly():
    raw, y = _miscalibrated()
    cal = calibrate.fit(raw, y, method="platt")
    order = np.argsort(raw, kind="stable")
    out = calibrate.apply(cal, raw)[order]
    assert np.all(np.diff(out) >= 0)


def test_single_class_slice_is_refused():
    with pytest.raises(ValueError, match="single class"):
        calibrate.fit(np.array([0.1, 0.2]), np.array([0, 0]))
