"""Compiled trees give exactly LightGBM's predictions: missing values, zeros and categorical splits."""

import lightgbm as lgb
import numpy as np
import pytest

from training.compiled import CompiledForest


@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"use_missing": False}])
def test_compiled_forest_matches_booster_predict(params):
    rng = np.random.default_rng(5)
    n, k = 4000, 6
    x = rng.normal(size=(n, k))
    x[rng.random((n, k)) < 0.2] = np.nan
    x[:, 1] = np.where(rng.random(n) < 0.3, 0.0, x[:, 1])
    x[:, 0] = rng.integers(0, 12, size=n)
    x[rng.random(n) < 0.1, 0] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(x[:, 2]) - (x[:, 0] % 3 == 0)))).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "num_threads": 1, **params},
                        lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=30)
    xt = rng.normal(size=(3000, k))
    xt[rng.random((3000, k)) < 0.2] = np.nan
    xt[:, 0] = rng.integers(-1, 15, size=3000) + rng.choice([0.0, 0.4, -0.4], size=3000)  # unseen, negative, fractional
    xt[:50, 0] = np.nan
    xt[50:200, 1] = 0.0
    got = CompiledForest.from_booster(booster).predict(xt)
    assert np.array_equal(got, booster.predict(xt))  # the same bits, sigmoid included


def test_wrong_width_is_refused():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, (x[:, 0] > 0).astype(int)), num_boost_round=3)
    with pytest.raises(ValueError, match="expected a 2-D matrix with 3 columns"):
        CompiledForest.from_booster(booster).predict(np.zeros((2, 4)))


@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"use_missing": False}])
def test_trees_compiled_to_c_match_booster_predict(params, tmp_path, monkeypatch):
    from training import native

    if not native.available():
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("CREDIT_RISK_TREE_CACHE", str(tmp_path))
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3000, 5))
    x[rng.random((3000, 5)) < 0.2] = np.nan
    x[:, 0] = rng.integers(0, 9, size=3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-np.nan_to_num(x[:, 1]) - (x[:, 0] % 2 == 0)))).astype(int)
    x[:, 2] = np.where(rng.random(3000) < 0.3, 0.0, x[:, 2])
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1, **params},
                        lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=10)
    xt = rng.normal(size=(150_000, 5))  # more than one chunk: the threaded path
    xt[rng.random(xt.shape) < 0.2] = np.nan
    xt[:, 0] = rng.integers(-1, 12, size=150_000) + rng.choice([0.0, 0.4, -0.4], size=150_000)
    xt[:20_000, 2] = 0.0
    got = native.NativeForest.from_booster(booster).predict(xt)
    assert np.array_equal(got, booster.predict(xt))  # the same bits, sigmoid included
    assert len(list(tmp_path.glob("forest-*.so"))) == 1  # built once, cached


def test_path_contributions_sum_to_the_raw_score_and_agree_with_treeshap_on_the_top_feature():
    rng = np.random.default_rng(11)
    n, k = 3000, 5
    x = rng.normal(size=(n, k))
    x[rng.random((n, k)) < 0.15] = np.nan
    logit = 1.5 * np.nan_to_num(x[:, 0]) - 1.0 * np.nan_to_num(x[:, 1]) + 0.2 * np.nan_to_num(x[:, 2])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "num_threads": 1},
                        lgb.Dataset(x, y), num_boost_round=40)
    forest = CompiledForest.from_booster(booster)
    got = forest.contributions(x)
    assert got.shape == (n, k + 1)
    assert np.abs(got.sum(axis=1) - booster.predict(x, raw_score=True)).max() < 1e-9
    shap = booster.predict(x, pred_contrib=True)
    # a different attribution, but the dominant feature of a row is the same for nearly every row
    agree = (np.abs(got[:, :-1]).argmax(axis=1) == np.abs(shap[:, :-1]).argmax(axis=1)).mean()
    assert agree > 0.85  # 0.90 measured here
    assert np.ptp(got[:, -1]) < 1e-12  # the bias is one constant, as in pred_contrib
