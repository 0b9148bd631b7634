"""Benchmark: the snapshot and the scoring on Spark — local[1] vs local[2] vs a standalone cluster of two
workers on 127.0.0.1 — and DuckDB vs Spark on the same district, as ratios in one command.

Usage:
    .venv/bin/python bench/bench_spark.py --entities 1000000 --work /tmp/spark1m   # the issue's size (~1 h in all)
    .venv/bin/python bench/bench_spark.py --entities 1000000 --work /tmp/spark1m --prepare-only   # data and model
    .venv/bin/python bench/bench_spark.py --entities 1000000 --work /tmp/spark1m --configs 'local[2]' standalone
    .venv/bin/python bench/bench_spark.py --entities 2000 --repeat 1

One synth district is generated and ingested, exported to the Parquet layout (features/spark/parquet.py) and a
small model trained on its DuckDB snapshot; then each configuration runs in its own child process (its own JVM):
``duckdb`` (build_snapshot + model.score), ``local[1]``, ``local[2]``, ``standalone`` (master + 2 workers × 1
core, started here and stopped at the end). Each reports the snapshot seconds (Spark: transpiled SQL, Parquet in
and out) and the scoring seconds (mapInPandas in the executors, written as Parquet in uscc order as publication
reads it). Medians of ``--repeat`` runs; the ratios are against local[1] (speed-up per core) and against DuckDB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "bench-key-not-secret")
AS_OF = date(2023, 7, 1)
CONFIGS = ("duckdb", "local[1]", "local[2]", "standalone")


def prepare(work: Path, entities: int, seed: int) -> dict:
    import numpy as np
    import pandas as pd

    from core.settings import Settings
    from features import opinions
    from features import snapshot as fsnap
    from features.catalog import all_features
    from features.ingest import ingest
    from features.spark import parquet
    from features.warehouse import connect
    from training.dataset import feature_spec, from_frame
    from training.train import train

    if (work / "prepared.json").exists():  # a later run with the same --work times the configurations only
        return json.loads((work / "prepared.json").read_text())
    t = time.perf_counter()
    settings = Settings.from_env(work / "home")
    # each stage once (a rerun with the same --work resumes), the generator in its own process (its memory goes
    # with it)
    if not (work / "drop" / "done").exists():
        subprocess.run([sys.executable, "-c", "import sys, synth; synth.generate(sys.argv[1], entities=int(sys.argv[2]), "
                        "seed=int(sys.argv[3]))", str(work / "drop"), str(entities), str(seed)], check=True)
        (work / "drop" / "done").write_text("ok")
    if not (work / "ingested").exists():
        ingest(settings, work / "drop")
        (work / "ingested").write_text("ok")
    con = connect(settings)
    clf = opinions.current(settings, con)
    exported = parquet.export(con, parquet.root_of(settings), classifier=clf)
    snap = fsnap.build_snapshot(con, as_of=AS_OF, classifier=clf)
    con.close()
    active = snap.entities
    every = max(1, active // 50_000)  # about 50,000 rows for the model, never the whole snapshot in memory
    part = pd.concat([b.iloc[::every] for b in snap.batches(100_000)], ignore_index=True)
    rng = np.random.default_rng(5)
    periods = [part.assign(as_of=date(2021 + k // 4, 1 + 3 * (k % 4), 1),
                           label=(rng.random(len(part)) < 0.1 + 0.5 * (part["penalty_in_effect_count"] > 0)).astype(int))
               for k in range(8)]
    model = train(from_frame(pd.concat(periods, ignore_index=True), id_col="uscc", time_col="as_of", label_col="label",
                             features=[feature_spec(f) for f in all_features()]), num_boost_round=50)
    model.meta["version"] = "bench"
    model.export_local(work / "model")
    info = {"entities_active": active, "prepare_seconds": round(time.perf_counter() - t, 1),
            "export_seconds": exported.seconds}
    (work / "prepared.json").write_text(json.dumps(info))
    return info


# heap per core, the same in every configuration (at 1M: 1g per core ran out of heap in local[1], 3g per core in
# local[2]'s sort-merge joins); local mode holds its cores' tasks in the driver JVM
GIB_PER_CORE = int(os.environ.get("BENCH_SPARK_GIB_PER_CORE", "6"))


def child(work: Path, config: str) -> dict:
    """One configuration, timed in this process."""
    from training.model import ScoringModel

    model = ScoringModel.load_local(work / "model")
    if config == "duckdb":
        from core.settings import Settings
        from features import snapshot as fsnap
        from features.warehouse import connect

        con = connect(Settings.from_env(work / "home"))
        t = time.perf_counter()
        frame = fsnap.compute_features(con, as_of=AS_OF)
        snap_s = time.perf_counter() - t
        con.close()
        t = time.perf_counter()
        model.score(frame)
        return {"snapshot_s": snap_s, "score_s": time.perf_counter() - t, "rows": len(frame)}
    import contextlib

    import pyarrow.parquet as pq

    from features.spark import cluster, parquet, session
    from features.spark import snapshot as ssnap
    from training import spark_scoring

    root = parquet.root_of(type("S", (), {"home": work / "home"}))
    with contextlib.ExitStack() as stack:
        if config == "standalone":
            memory = f"{GIB_PER_CORE}g"
            c = stack.enter_context(cluster.standalone(work / "cluster", workers=2, cores=1, memory=memory))
            spark = session.session(c.master, conf={**cluster.conf_for(c, executor_memory=memory),
                                                    "spark.driver.memory": "2g"})
        else:
            cores = int(config[len("local["):-1])
            spark = session.session(config, conf={"spark.driver.memory": f"{GIB_PER_CORE * cores}g"})
        t = time.perf_counter()
        built = ssnap.build(spark, root, as_of=AS_OF)
        snap_s = time.perf_counter() - t
        t = time.perf_counter()
        rows = spark.read.parquet(str(built.path)).drop("snapshot_id")
        folder = spark_scoring.write(rows, model, work / f"scores-{config}")
        n = sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))
        score_s = time.perf_counter() - t
        spark.stop()
    return {"snapshot_s": snap_s, "score_s": score_s, "rows": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", help="keep the district here (default: a temporary folder)")
    ap.add_argument("--configs", nargs="*", choices=CONFIGS, default=list(CONFIGS),
                    help="the configurations to time (default all)")
    ap.add_argument("--prepare-only", action="store_true", help="generate, ingest, export and train, then stop "
                    "(a later run with the same --work times the configurations)")
    ap.add_argument("--child", nargs=2, metavar=("WORK", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1])))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_spark_"))
    load0 = os.getloadavg()[0]
    info = prepare(work, args.entities, args.seed)
    if args.prepare_only:
        print(json.dumps(info))
        return
    runs: dict[str, list[dict]] = {c: [] for c in args.configs}
    for k in range(args.repeat):  # interleaved: each configuration sees the same load drift
        for c in args.configs:
            t, load = time.perf_counter(), os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, "--child", str(work), c], capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{c} failed ({out.returncode}):\n{out.stderr[-4000:]}")
            runs[c].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"run {k + 1} {c}: {json.dumps(runs[c][-1])}, {time.perf_counter() - t:.0f} s with the JVM, "
                  f"load {load:.1f} → {os.getloadavg()[0]:.1f}", flush=True)
    med = {c: {k: statistics.median(r[k] for r in rs) for k in ("snapshot_s", "score_s")} for c, rs in runs.items()}
    print(f"entities {args.entities:,} (active at {AS_OF}: {info['entities_active']:,}); prepare "
          f"{info['prepare_seconds']} s, Parquet export {info['export_seconds']} s; load avg {load0:.1f} → "
          f"{os.getloadavg()[0]:.1f}")
    if not {"local[1]", "duckdb"} <= med.keys():
        print(json.dumps(med, indent=1))
        return
    base, duck = med["local[1]"], med["duckdb"]
    print(f"{'config':<12}{'snapshot s':>12}{'score s':>10}{'total s':>10}{'vs local[1]':>13}{'vs duckdb':>11}")
    for c, m in med.items():
        tot = m["snapshot_s"] + m["score_s"]
        print(f"{c:<12}{m['snapshot_s']:>12.1f}{m['score_s']:>10.1f}{tot:>10.1f}"
              f"{(base['snapshot_s'] + base['score_s']) / tot:>12.2f}×{tot / (duck['snapshot_s'] + duck['score_s']):>10.2f}×")


if __name__ == "__main__":
    main()
