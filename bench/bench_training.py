"""Benchmark: training on the default district's multi-year spine, and batch scoring rows/s vs LightGBM.

Run: .venv/bin/python bench/bench_training.py [--home DIR] [--rows 1000000]
Builds the default district (synth 34,000 entities, ingest) in DIR on first use, then times: the
feature spine + labels, training + calibration + evaluation, and scoring of --rows rows with the compiled
trees against LightGBM's own predict (same model, same matrix, same command).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _district(home: Path) -> None:
    from core.settings import Settings
    from features.ingest import ingest
    from synth.district import generate

    settings = Settings.from_env(home / "home")
    if settings.warehouse_path.exists():
        return
    t = time.perf_counter()
    generate(home / "drop", entities=34000, seed=20260101)
    print(f"synth (34,000 entities): {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    ingest(settings, home / "drop")
    print(f"ingest: {time.perf_counter() - t:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default="bench/out/district", help="work folder (reused between runs)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the scoring benchmark")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()

    from core.settings import Settings, apply_offline_env

    apply_offline_env()
    root = Path(args.home)
    figures: dict = {}
    _district(root)
    settings = Settings.from_env(root / "home")
    from features.warehouse import connect
    from training import labels
    from training.dataset import default_spine, from_warehouse
    from training.run import run

    if not args.skip_training:
        con = connect(settings)
        data_end = labels.data_end(con)
        start, end = default_spine(data_end)
        t = time.perf_counter()
        dataset = from_warehouse(con, start=start, end=end, data_end=data_end)
        con.close()
        figures["spine_and_labels_s"] = round(time.perf_counter() - t, 1)
        figures["spine_rows"] = int(len(dataset.frame))
        figures["train_rows"] = int(len(dataset.part("train")))
        t = time.perf_counter()
        result = run(settings, dataset, actor="bench", ground_truth=root / "drop" / "ground_truth")
        figures["train_evaluate_register_s"] = round(time.perf_counter() - t, 1)
        figures["metrics"] = result["metrics"]
        figures["tier_event_rates"] = result["tier_event_rates"]
        figures["num_trees"] = result["num_trees"]
        print(json.dumps(figures, indent=1), flush=True)

    scoring_benchmark(settings, rows=args.rows, figures=figures)
    print(json.dumps(figures, indent=1))


def scoring_benchmark(settings, *, rows: int, figures: dict) -> None:
    """Score ``rows`` rows (resampled from the test slice's feature distribution) both ways."""
    import lightgbm as lgb

    from training import native
    from training.batch import load_model
    from training.compiled import CompiledForest

    model = load_model(settings, "champion")
    # a fixed 300-tree model on the same features, so the figure does not depend on early stopping
    rng = np.random.default_rng(20260101)
    x_train = rng.normal(size=(20_000, len(model.features)))
    x_train[rng.random(x_train.shape) < 0.3] = np.nan
    y = (rng.random(20_000) < 1 / (1 + np.exp(-np.nan_to_num(x_train[:, :5]).sum(axis=1)))).astype(int)
    fixed = lgb.train({"objective": "binary", "num_leaves": 31, "verbose": -1, "num_threads": 2, "seed": 1},
                      lgb.Dataset(x_train, y), num_boost_round=300)
    x = rng.normal(size=(rows, len(model.features)))
    x[rng.random(x.shape) < 0.3] = np.nan
    for label, booster in (("champion", model.booster), ("fixed_300_trees", fixed)):
        t = time.perf_counter()
        slow = booster.predict(x, num_threads=2)
        t_slow = time.perf_counter() - t
        entry = {"trees": booster.num_trees(), "rows": rows, "lightgbm_rows_per_s": round(rows / t_slow)}
        evaluators = [("numba", CompiledForest.from_booster(booster))]
        if native.available():
            t = time.perf_counter()
            evaluators.append(("c", native.NativeForest.from_booster(booster)))
            entry["c_build_s"] = round(time.perf_counter() - t, 1)  # once per model, then cached
        for name, forest in evaluators:
            forest.predict(x[:1000])  # JIT / library load
            t = time.perf_counter()
            fast = forest.predict(x)
            t_fast = time.perf_counter() - t
            entry[f"{name}_rows_per_s"] = round(rows / t_fast)
            entry[f"{name}_ratio"] = round(t_slow / t_fast, 2)
            entry[f"{name}_max_abs_diff"] = float(np.abs(fast - slow).max())
        figures[f"scoring_{label}"] = entry
        print(json.dumps({label: entry}), flush=True)
    frame_rows = min(rows, 200_000)
    import pandas as pd

    frame = pd.DataFrame(x[:frame_rows], columns=model.feature_names)
    for f in model.features:
        if f.get("kind") == "categorical":
            frame[f["name"]] = pd.Series(np.asarray(f.get("categories") or ["x"], dtype=object)).sample(
                frame_rows, replace=True, random_state=1).to_numpy()
    frame["uscc"] = "X"
    t = time.perf_counter()
    model.score(frame, reasons=False)  # 200k rows: numba path (C trees from 500k rows)
    figures["score_frame_rows_per_s"] = round(frame_rows / (time.perf_counter() - t))
    one = frame.iloc[[0]]
    model.score(one)
    t = time.perf_counter()
    for _ in range(200):
        model.score(one)
    figures["single_row_score_with_reasons_ms"] = round((time.perf_counter() - t) / 200 * 1000, 2)


if __name__ == "__main__":
    main()
