"""The compiled-tree cache: under the home, private, and a library is loaded only when its hashes match."""

from __future__ import annotations

import json
import os

import lightgbm as lgb
import numpy as np
import pytest

from training import native


def _booster(seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(800, 4))
    y = (rng.random(800) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    return lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1},
                     lgb.Dataset(x, y), num_boost_round=5), x


@pytest.fixture(autouse=True)
def _needs_cc():
    if not native.available():
        pytest.skip("no C compiler on this machine")


def test_the_cache_lives_under_the_home_and_only_its_owner_may_enter(home, monkeypatch):
    monkeypatch.delenv("CREDIT_RISK_TREE_CACHE", raising=False)
    booster, x = _booster()
    forest = native.NativeForest.from_booster(booster)
    cache = home / "cache" / "trees"
    (lib,) = cache.glob("forest-*.so")
    assert os.stat(cache).st_mode & 0o777 == 0o700
    record = json.loads(lib.with_suffix(".json").read_text())
    assert record["library_sha256"] == native._sha256_file(lib)
    assert np.abs(forest.predict(x) - booster.predict(x)).max() < 1e-12


def test_a_library_changed_on_disk_is_rebuilt_not_loaded(tmp_path, monkeypatch):
    cache = tmp_path / "trees"
    monkeypatch.setenv("CREDIT_RISK_TREE_CACHE", str(cache))
    booster, x = _booster()
    native.NativeForest.from_booster(booster)
    (lib,) = cache.glob("forest-*.so")
    lib.unlink()  # a new file in its place (the first library stays mapped in this process)
    lib.write_bytes(b"\x7fELF not the library we built")  # loading this would crash the process
    lib.chmod(0o500)
    forest = native.NativeForest.from_booster(booster)
    assert native._sha256_file(lib) == json.loads(lib.with_suffix(".json").read_text())["library_sha256"]
    assert np.abs(forest.predict(x) - booster.predict(x)).max() < 1e-12


def test_a_record_naming_another_source_is_not_trusted(tmp_path, monkeypatch):
    cache = tmp_path / "trees"
    monkeypatch.setenv("CREDIT_RISK_TREE_CACHE", str(cache))
    booster, _ = _booster()
    native.NativeForest.from_booster(booster)
    (lib,) = cache.glob("forest-*.so")
    record = lib.with_suffix(".json")
    meta = json.loads(record.read_text())
    key = meta["build_key"]
    assert not native._verified(lib, record, "0" * 64)
    assert native._verified(lib, record, key)


def test_a_cache_folder_others_can_write_is_refused(tmp_path, monkeypatch):
    cache = tmp_path / "shared"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    monkeypatch.setenv("CREDIT_RISK_TREE_CACHE", str(cache))
    booster, _ = _booster()
    with pytest.raises(native.UnsafeCache, match="writable by its owner only"):
        native.NativeForest.from_booster(booster)
    assert not list(cache.glob("forest-*"))
