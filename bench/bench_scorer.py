"""Benchmark: batch scoring kernels on one 300-tree × 31-leaf model and one 1M × 65 matrix, interleaved.

Run (lleaves and treelite live in a bench-only venv, see bench/README.md; without them they are skipped):
    PYTHONPATH=. /work/venv-bench/bin/python bench/bench_scorer.py [--rows 1000000] [--rounds 5] [--threads 2] [--skip project_numba]

Contestants, each scoring the same matrix with ``--threads`` threads, one after another in every round:
LightGBM's ``Booster.predict``, the project's C trees (:mod:`training.native`; also its generic code, which a
CPU without AVX2 runs, as ``project_c_generic``), the numba trees
(:mod:`training.compiled`), lleaves, and treelite/tl2cgen. Every output is asserted equal to LightGBM's
probability within 1e-9. Prints the median wall time and CPU time per contestant, rows/s and the ratio to
LightGBM; then the public entry point, ``ScoringModel.predict_proba`` on a pandas frame with category
columns, against the kernel alone on the ready matrix (the frame's float columns are read in place).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

K = 65
CATEGORICAL = {0: 10, 1: 30}  # feature index -> number of categories


def _model(rng: np.random.Generator):
    import lightgbm as lgb

    x = rng.normal(size=(20_000, K))
    x[rng.random(x.shape) < 0.3] = np.nan
    for j, n in CATEGORICAL.items():
        x[:, j] = rng.integers(0, n, size=len(x))
    logit = np.nan_to_num(x[:, 2:7]).sum(axis=1) + (x[:, 0] % 3 == 0) - (x[:, 1] % 4 == 1)
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(int)
    return lgb.train({"objective": "binary", "num_leaves": 31, "verbose": -1, "num_threads": 2, "seed": 1},
                     lgb.Dataset(x, y, categorical_feature=list(CATEGORICAL)), num_boost_round=300)


def _matrix(rng: np.random.Generator, rows: int) -> np.ndarray:
    x = rng.normal(size=(rows, K))
    x[rng.random(x.shape) < 0.3] = np.nan
    for j, n in CATEGORICAL.items():
        x[:, j] = np.where(rng.random(rows) < 0.05, np.nan, rng.integers(0, n, size=rows))
    return x


def _contestants(booster, x: np.ndarray, threads: int, work: Path) -> dict:
    from training import native
    from training.compiled import CompiledForest

    out = {"lightgbm": lambda: booster.predict(x, num_threads=threads)}
    t = time.perf_counter()
    forest = native.NativeForest.from_booster(booster)
    print(f"project C trees: built or loaded in {time.perf_counter() - t:.1f} s ({forest.isa} code)", flush=True)
    out["project_c"] = lambda: forest.predict(x, threads=threads)
    if forest.isa != "generic":  # what a CPU without AVX2 runs
        generic = native.NativeForest(forest.library, num_features=forest.num_features, generic=True)
        out["project_c_generic"] = lambda: generic.predict(x, threads=threads)
    import numba

    numba.set_num_threads(threads)
    numba_forest = CompiledForest.from_booster(booster)
    out["project_numba"] = lambda: numba_forest.predict(x)
    model_file = work / "model.txt"
    booster.save_model(str(model_file))
    try:
        import lleaves

        t = time.perf_counter()
        ll = lleaves.Model(model_file=str(model_file))
        ll.compile(cache=str(work / "lleaves.bin"))
        print(f"lleaves: compiled in {time.perf_counter() - t:.1f} s", flush=True)
        out["lleaves"] = lambda: ll.predict(x, n_jobs=threads)
    except ImportError:
        print("lleaves: not installed here (see bench/README.md for the bench venv)", flush=True)
    try:
        import tl2cgen
        import treelite

        t = time.perf_counter()
        tl_model = treelite.frontend.load_lightgbm_model(str(model_file))
        lib = work / "treelite.so"
        if not lib.exists():
            tl2cgen.export_lib(tl_model, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 8},
                               nthread=threads)
        predictor = tl2cgen.Predictor(str(lib), nthread=threads)
        dmat = tl2cgen.DMatrix(x, dtype="float64")
        print(f"treelite/tl2cgen: built in {time.perf_counter() - t:.1f} s", flush=True)
        out["treelite"] = lambda: np.asarray(predictor.predict(dmat)).reshape(-1)
    except ImportError:
        print("treelite/tl2cgen: not installed here", flush=True)
    return out


def _bench_model(booster):
    from training.model import BUNDLE_FORMAT, ScoringModel, schema_hash

    features = []
    for j in range(K):
        f = {"name": f"f{j:02d}", "dimension": f"d{j % 7}"}
        if j in CATEGORICAL:
            f.update(kind="categorical", categories=[f"类{c}" for c in range(CATEGORICAL[j])])
        features.append(f)
    meta = {"format": BUNDLE_FORMAT, "kind": "lightgbm", "features": features, "schema_hash": schema_hash(features),
            "calibrator": {"method": "platt", "a": 1.0, "b": 0.0},
            "tier_policy": {"kind": "shares", "shares": [0.4, 0.3, 0.2, 0.1], "codes": list("ABCD"),
                            "cutoffs": [0.3, 0.5, 0.7]}}
    return ScoringModel(booster_text=booster.model_to_string(), meta=meta)


def _frame(model, x: np.ndarray):
    import pandas as pd

    cols = {}
    for j, f in enumerate(model.features):
        if f.get("kind") == "categorical":
            codes = np.where(np.isnan(x[:, j]), -1, np.nan_to_num(x[:, j], nan=0)).astype(int)
            cols[f["name"]] = pd.Categorical.from_codes(codes, categories=f["categories"])
        else:
            cols[f["name"]] = x[:, j]
    return pd.DataFrame(cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], help="contestants to leave out (e.g. project_numba)")
    parser.add_argument("--work", default=None, help="folder for compiled models (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-scorer-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CREDIT_RISK_TREE_CACHE", str(work / "trees"))
    rng = np.random.default_rng(20260101)
    booster = _model(rng)
    x = _matrix(rng, args.rows)
    contestants = {n: f for n, f in _contestants(booster, x, args.threads, work).items()
                   if n == "lightgbm" or n not in args.skip}
    reference = booster.predict(x, num_threads=args.threads)
    for name, run in contestants.items():  # warm-up (JIT, page faults) and the equality check
        diff = float(np.abs(run() - reference).max())
        assert diff <= 1e-9, f"{name}: max |p - lightgbm| = {diff:.3g}, expected <= 1e-9"
        print(f"{name}: max |p - lightgbm| = {diff:.3g}", flush=True)
    wall: dict[str, list[float]] = {n: [] for n in contestants}
    cpu: dict[str, list[float]] = {n: [] for n in contestants}
    for r in range(args.rounds):
        order = list(contestants) if r % 2 == 0 else list(reversed(contestants))  # interleaved, alternating
        for name in order:
            c, t = time.process_time(), time.perf_counter()
            contestants[name]()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    base = statistics.median(wall["lightgbm"])
    base_cpu = statistics.median(cpu["lightgbm"])
    figures = {"rows": args.rows, "features": K, "trees": booster.num_trees(), "threads": args.threads,
               "rounds": args.rounds, "load_average": [round(v, 2) for v in os.getloadavg()], "kernels": {}}
    for name in contestants:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        figures["kernels"][name] = {"median_s": round(w, 3), "rows_per_s": round(args.rows / w),
                                    "ratio_vs_lightgbm": round(base / w, 2), "cpu_s": round(c, 3),
                                    "cpu_ratio_vs_lightgbm": round(base_cpu / c, 2)}
    # the public entry point: a frame with category columns through ScoringModel.predict_proba
    model = _bench_model(booster)
    frame = _frame(model, x)
    from training import calibrate

    forest = model.native()
    kernel = forest.predict(x)
    p = model.predict_proba(frame)
    assert np.abs(p - calibrate.apply(model.meta["calibrator"], kernel)).max() <= 1e-9
    assert np.abs(p - calibrate.apply(model.meta["calibrator"], reference)).max() <= 1e-9
    t_kernel, t_frame, t_encode = [], [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        forest.predict(x)
        t_kernel.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.predict_proba(frame)
        t_frame.append(time.perf_counter() - t)
        t = time.perf_counter()
        model._encode.columns(frame)
        t_encode.append(time.perf_counter() - t)
    k, f, e = (statistics.median(v) for v in (t_kernel, t_frame, t_encode))
    figures["entry_point"] = {"kernel_on_matrix_s": round(k, 3), "predict_proba_on_frame_s": round(f, 3),
                              "frame_to_columns_s": round(e, 3), "frame_over_kernel": round(f / k, 2),
                              "frame_rows_per_s": round(args.rows / f),
                              "frame_ratio_vs_lightgbm_on_matrix": round(base / f, 2)}
    figures["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
