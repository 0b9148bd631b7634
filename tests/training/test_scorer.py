"""The compiled C scorer gives LightGBM's outputs bit for bit, on any thread count, and the frame entry point
reads category, text and float columns alike."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from training import native
from training.model import to_matrix


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    if not native.available():
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("CREDIT_RISK_TREE_CACHE", str(tmp_path / "trees"))
    monkeypatch.delenv("CREDIT_RISK_TREE_CFLAGS", raising=False)


def _data(rng, n, k=6):
    x = rng.normal(size=(n, k))
    x[rng.random((n, k)) < 0.2] = np.nan
    x[:, 1] = np.where(rng.random(n) < 0.3, 0.0, x[:, 1])  # many exact zeros
    x[:, 0] = rng.integers(0, 12, size=n).astype(float)  # a categorical code
    x[rng.random(n) < 0.1, 0] = np.nan
    return x


def _booster(params, *, categorical=True, rounds=25):
    rng = np.random.default_rng(5)
    x = _data(rng, 4000)
    logit = np.nan_to_num(x[:, 2]) - np.nan_to_num(x[:, 3]) + (x[:, 0] % 3 == 0) + 0.5 * (x[:, 1] == 0)
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(int)
    ds = lgb.Dataset(x, y, categorical_feature=[0] if categorical else "auto")
    return lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "num_threads": 1,
                      "min_data_per_group": 20, "cat_smooth": 1.0, **params}, ds, num_boost_round=rounds)


def _probe(n=3000):
    rng = np.random.default_rng(9)
    x = _data(rng, n)
    # unseen, negative and fractional codes, huge values, NaN; signed zeros and tiny values near zero
    x[:, 0] = rng.integers(-2, 15, size=n) + rng.choice([0.0, 0.4, -0.4], size=n)
    x[:40, 0] = np.nan
    x[40:60, 0] = 1e300
    x[60:200, 1] = rng.choice([0.0, -0.0, 1e-36, -1e-36, 1e-30], size=140)
    return x


@pytest.mark.parametrize("params", [
    {},
    {"zero_as_missing": True},
    {"use_missing": False},
    {"monotone_constraints": [0, 0, 1, -1, 0, 0], "monotone_constraints_method": "advanced"},
    {"objective": "binary", "sigmoid": 0.7},
], ids=["nan", "zero-as-missing", "no-missing", "monotone", "sigmoid"])
def test_c_scorer_gives_lightgbm_raw_scores_and_probabilities(params):
    booster = _booster(params)
    x = _probe()
    forest = native.NativeForest.from_booster(booster)
    assert np.abs(forest.raw(x) - booster.predict(x, raw_score=True)).max() <= 1e-12
    assert np.abs(forest.predict(x) - booster.predict(x)).max() <= 1e-12


@pytest.mark.parametrize("categories", [20, 200], ids=["bitmask", "table"])
def test_c_scorer_matches_on_categorical_splits(categories):
    rng = np.random.default_rng(3)
    n = 8000
    x = rng.normal(size=(n, 3))
    x[:, 0] = rng.integers(0, categories, size=n)
    y = (rng.random(n) < np.where(x[:, 0] % 7 < 3, 0.7, 0.2)).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1,
                         "max_cat_to_onehot": 4, "min_data_per_group": 10},
                        lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=15)
    def kinds(node):
        return [] if "leaf_value" in node else [node["decision_type"], *kinds(node["left_child"]),
                                                *kinds(node["right_child"])]
    assert "==" in {k for t in booster.dump_model()["tree_info"] for k in kinds(t["tree_structure"])}
    probe = x.copy()
    probe[:100, 0] = rng.integers(-3, categories + 30, size=100)  # codes unseen at training
    probe[100:110, 0] = [np.nan, -0.5, -1.0, -1e300, 1e300, np.inf, -np.inf, 0.99, categories - 0.5, 63.9]
    if categories > 64:
        assert "cat_0[" in native.source(booster)  # a split whose codes do not fit a 64-bit mask
    forest = native.NativeForest.from_booster(booster)
    assert np.abs(forest.raw(probe) - booster.predict(probe, raw_score=True)).max() <= 1e-12


def _kernels(booster):
    """The forest as this CPU runs it, and its generic (non-AVX2) code, which any CPU runs."""
    forest = native.NativeForest.from_booster(booster)
    generic = native.NativeForest(forest.library, num_features=forest.num_features, generic=True)
    assert generic.isa == "generic" and forest.isa in ("avx2", "generic")
    return forest, generic


@pytest.mark.parametrize("rows", [1, 2, 3, 63, 64, 65, 127, 129, 1001])
def test_every_kernel_gives_lightgbm_bits_for_any_row_count(rows):
    # rows scored in blocks of 64, 2 or 4 at a time: single rows, odd counts and short last blocks
    booster = _booster({})
    x = _probe()[np.random.default_rng(rows).permutation(3000)[:rows]]  # NaN, zeros and odd codes mixed in
    want = booster.predict(x, raw_score=True)
    for forest in _kernels(booster):
        assert np.array_equal(forest.raw(x), want), forest.isa
        assert np.array_equal(forest.raw(np.asfortranarray(x)), want), forest.isa  # columns read in place
        assert np.array_equal(forest.raw_columns(list(x.T.copy())), want), forest.isa
        assert np.array_equal(forest.raw(x[::-1]), want[::-1]), forest.isa  # a strided view is copied first
        assert np.array_equal(forest.predict(x), booster.predict(x)), forest.isa  # the sigmoid too


def test_both_kernels_agree_with_lightgbm_on_nan_zero_and_category_rules():
    for params in ({}, {"zero_as_missing": True}, {"use_missing": False}):
        booster = _booster(params)
        x = _probe(777)
        want = booster.predict(x, raw_score=True)
        for forest in _kernels(booster):
            assert np.array_equal(forest.raw(x, threads=1), want), (params, forest.isa)
            assert np.array_equal(forest.predict(x, threads=1), booster.predict(x)), (params, forest.isa)


def test_a_tree_wider_than_a_bit_vector_is_walked_row_by_row():
    rng = np.random.default_rng(12)
    n = 6000
    x = rng.normal(size=(n, 4))
    x[rng.random(x.shape) < 0.2] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(x).sum(axis=1)))).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 90, "min_data_in_leaf": 5,
                         "num_threads": 1}, lgb.Dataset(x, y), num_boost_round=4)
    widths = [t["num_leaves"] for t in booster.dump_model()["tree_info"]]
    assert max(widths) > native.MAX_VECTOR_LEAVES and "row_tree_0" in native.source(booster)
    probe = _probe()[:, :4]
    for forest in _kernels(booster):
        assert np.array_equal(forest.raw(probe), booster.predict(probe, raw_score=True)), forest.isa


def test_a_tree_of_one_leaf_adds_its_value():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(500, 3))
    y = (x[:, 0] > 0).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 1000},
                        lgb.Dataset(x, y), num_boost_round=2)
    assert min(t["num_leaves"] for t in booster.dump_model()["tree_info"]) == 1
    for forest in _kernels(booster):
        assert np.array_equal(forest.raw(x[:67]), booster.predict(x[:67], raw_score=True)), forest.isa


def test_the_source_also_builds_as_one_unit(tmp_path):
    # the library is built from two parts compiled side by side; the whole source is one valid unit too
    import subprocess

    booster = _booster({}, rounds=5)
    src = tmp_path / "forest.c"
    src.write_text(native.source(booster), encoding="ascii")
    lib = tmp_path / "forest.so"
    subprocess.run(["cc", *native.CFLAGS, "-shared", "-fPIC", "-o", str(lib), str(src), "-lm"], check=True)
    x = _probe(500)
    whole = native.NativeForest(lib, num_features=booster.num_feature())
    assert np.array_equal(whole.raw(x), booster.predict(x, raw_score=True))


def test_threads_do_not_change_a_single_bit():
    booster = _booster({})
    x = np.tile(_probe(), (50, 1))  # 150,000 rows: more than one share per thread
    forest = native.NativeForest.from_booster(booster)
    one = forest.raw(x, threads=1)
    assert np.array_equal(one, forest.raw(x, threads=2))
    assert np.array_equal(one, forest.raw(x, threads=3))
    assert np.array_equal(one, booster.predict(x, raw_score=True, num_threads=2))


def test_the_cache_key_follows_the_compiler_flags_and_unsafe_flags_are_refused(monkeypatch):
    code = native.source(_booster({}, rounds=3))
    cc = "cc"
    o2 = native.build_key(code, cc=cc, flags=("-O2", "-fno-math-errno"))
    assert o2 == native.build_key(code, cc=cc, flags=("-O2", "-fno-math-errno"))
    assert o2 != native.build_key(code, cc=cc, flags=("-O3", "-fno-math-errno"))
    assert o2 != native.build_key(code + "\n", cc=cc, flags=("-O2", "-fno-math-errno"))
    monkeypatch.setattr(native, "_cpu_id", lambda: "another cpu")
    tuned = native.build_key(code, cc=cc, flags=("-O2", "-march=native"))
    monkeypatch.setattr(native, "_cpu_id", lambda: "this cpu")
    assert tuned != native.build_key(code, cc=cc, flags=("-O2", "-march=native"))
    monkeypatch.setenv("CREDIT_RISK_TREE_CFLAGS", "-O3 -ffast-math")
    with pytest.raises(ValueError, match="IEEE NaN semantics"):
        native.cflags()


def test_a_library_built_with_other_flags_is_another_file(tmp_path, monkeypatch):
    booster = _booster({}, rounds=3)
    a = native.NativeForest.from_booster(booster).library
    monkeypatch.setenv("CREDIT_RISK_TREE_CFLAGS", "-O1 -fno-math-errno")
    b = native.NativeForest.from_booster(booster)
    assert b.library != a and a.exists()
    x = _probe(500)
    assert np.abs(b.raw(x) - booster.predict(x, raw_score=True)).max() <= 1e-12


def test_a_trained_project_model_scores_the_same_through_the_c_trees(monkeypatch):
    from training import model as model_module
    from training.dataset import from_frame
    from training.toy import TOY_FEATURES, toy_frame
    from training.train import train

    data = from_frame(toy_frame(entities=1200, periods=16, seed=4), id_col="uscc", time_col="as_of",
                      label_col="label", features=TOY_FEATURES, embargo_months=12)
    model = train(data, num_boost_round=60, seed=5, budget_s=0, candidates=("lightgbm",))
    frame = data.frame
    x = to_matrix(frame, model.features)
    assert np.abs(model.native().raw(x) - model.booster.predict(x, raw_score=True)).max() <= 1e-12
    slow = model.predict_proba(frame)  # below the C threshold: LightGBM or the numba trees
    monkeypatch.setattr(model_module, "NATIVE_MIN_ROWS", 1)
    fast = model.predict_proba(frame)
    assert np.abs(fast - slow).max() <= 1e-9
    assert (model.tiers(fast, frame) == model.tiers(slow, frame)).all()


FEATURES = [
    {"name": "kind", "kind": "categorical", "categories": ["1", "2", "3", "个体"]},
    {"name": "amount"},
    {"name": "count", "missing_as": 0.0},
]


def test_the_frame_reads_category_text_and_float_columns_alike():
    kinds = ["1", "3", None, "个体", "9", "2"]
    amount = [1.5, None, 3.0, -2.0, 0.0, 7.25]
    count = [1, None, 3, 4, None, 0]
    expected = np.array([[0, 1.5, 1], [2, np.nan, 0], [np.nan, 3.0, 3], [3, -2.0, 4], [np.nan, 0.0, 0],
                         [1, 7.25, 0]], dtype=float)
    frames = {
        "text": pd.DataFrame({"kind": kinds, "amount": amount, "count": count}),
        "category": pd.DataFrame({"kind": pd.Categorical(kinds), "amount": amount,
                                  "count": pd.array(count, dtype="Int64")}),
        "float": pd.DataFrame({"kind": [1.0, 3.0, np.nan, "个体", 9.0, 2.0], "amount": np.array(amount, float),
                               "count": np.array(count, dtype=float)}),
        "numbers as text": pd.DataFrame({"kind": kinds, "amount": [str(a) if a is not None else None for a in amount],
                                         "count": count}),
    }
    for label, frame in frames.items():
        got = to_matrix(frame, FEATURES)
        assert got.flags.c_contiguous and got.dtype == np.float64, label
        np.testing.assert_array_equal(got, expected, err_msg=label)
        # a large frame goes through factorize, a small one value by value: the same codes
        big = to_matrix(pd.concat([frame] * 20, ignore_index=True), FEATURES)
        np.testing.assert_array_equal(big, np.tile(expected, (20, 1)), err_msg=label)


def test_a_missing_feature_column_is_named():
    frame = pd.DataFrame({"kind": ["1"], "count": [1]})
    with pytest.raises(UserError, match=r"lacks 1 feature column\(s\) the model expects: \['amount'\]"):
        to_matrix(frame, FEATURES)


def test_a_text_value_in_a_numeric_column_is_named():
    frame = pd.DataFrame({"kind": ["1"], "amount": ["many"], "count": [1]})
    with pytest.raises(UserError, match="feature 'amount' must be numeric"):
        to_matrix(frame, FEATURES)


def test_the_c_trees_read_a_frames_float_columns_in_place_and_never_write_them(monkeypatch):
    from training import calibrate
    from training import model as model_module
    from training.model import BUNDLE_FORMAT, ScoringModel, schema_hash

    rng = np.random.default_rng(14)
    n = 3000
    frame = pd.DataFrame({"kind": pd.Categorical(rng.choice(["1", "2", "3", "个体", None], size=n)),
                          "amount": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
                          "count": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 5, size=n))})
    before = frame.copy()
    x = to_matrix(frame, FEATURES)
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(x[:, 1]) - x[:, 2] / 3))).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1},
                        lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=8)
    features = [{**f, "dimension": "d"} for f in FEATURES]
    meta = {"format": BUNDLE_FORMAT, "kind": "lightgbm", "features": features, "schema_hash": schema_hash(features),
            "calibrator": {"method": "platt", "a": 0.9, "b": -0.1},
            "tier_policy": {"kind": "shares", "shares": [0.5, 0.5], "codes": ["A", "B"], "cutoffs": [0.5]}}
    model = ScoringModel(booster_text=booster.model_to_string(), meta=meta)
    cols = model._encode.columns(frame)
    assert np.shares_memory(cols[1], frame["amount"].to_numpy())  # the float column itself, not a copy
    np.testing.assert_array_equal(np.column_stack(cols), x)
    slow = model.predict_proba(frame)  # LightGBM or the numba trees on the matrix
    monkeypatch.setattr(model_module, "NATIVE_MIN_ROWS", 1)
    fast = model.predict_proba(frame)  # the C trees on the frame's columns
    assert np.abs(fast - slow).max() <= 1e-12
    assert np.array_equal(fast, calibrate.apply(meta["calibrator"], model.native().predict(x)))
    assert np.array_equal(model.score(frame.assign(uscc="u"), reasons=False)["probability"].to_numpy(), fast)
    pd.testing.assert_frame_equal(frame, before)  # count's declared missing value was filled in a copy
