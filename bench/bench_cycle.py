"""Benchmark: one monthly cycle (ingest → snapshot → publish → monitor → cadence → report), per step.

Usage:
    .venv/bin/python bench/bench_cycle.py                        # default district: 34,000 entities (synth)
    .venv/bin/python bench/bench_cycle.py --entities 1000000     # 1M entities (run once)

Up to 200,000 entities the district is simulated by ``synth`` up to 2025-05-31, ingested, and a first
champion is trained on its own quarterly spine; a baseline cycle publishes 2025-06-01, then the timed
cycle ingests the synth drop of June 2025 and publishes 2025-07-01. Above that the warehouse is written
by the vectorised generator of ``bench_features.py`` (its codes are not valid credit codes, so no drop
is ingested there; ingest at scale is measured by ``bench_ingest.py``) and the champion is a small model
trained on catalog-shaped rows. Retraining is off (``--retrain never``): it is not a monthly step.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 20260101
BASE_UNTIL = date(2025, 5, 31)
BASELINE, TIMED = date(2025, 6, 1), date(2025, 7, 1)


def _synth_home(root: Path, entities: int):
    import synth
    from core.settings import Settings
    from features.ingest import ingest
    from features.warehouse import connect
    from serving.models import export_champion
    from training.dataset import from_warehouse
    from training.train import train

    synth.generate(root / "base", entities=entities, seed=SEED, until=BASE_UNTIL)
    settings = Settings.from_env(root / "home")
    ingest(settings, root / "base", actor="bench")
    con = connect(settings)
    try:
        ds = from_warehouse(con, start=date(2021, 10, 1), end=date(2024, 4, 1), freq="quarterly", data_end=BASE_UNTIL)
    finally:
        con.close()
    model = train(ds, num_boost_round=100, seed=SEED)
    model.meta["version"] = "1"
    export_champion(model, settings)
    synth.emit_drop(root / "drop-2025-06", month="2025-06", entities=entities, seed=SEED)
    return settings, root / "drop-2025-06"


def _generator_home(root: Path, entities: int):
    import duckdb

    from core.settings import Settings

    spec = importlib.util.spec_from_file_location("bench_features", Path(__file__).parent / "bench_features.py")
    bench_features = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_features)
    settings = Settings.from_env(root / "home")
    settings.ensure_home()
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        bench_features.make_district(con, entities=entities, seed=SEED)
    finally:
        con.close()
    bench_features.export_catalog_champion(settings, seed=SEED)
    return settings, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=34000)
    ap.add_argument("--dir", help="working folder (default: a temporary one)")
    args = ap.parse_args()
    os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "bench-key-not-secret")
    os.environ.pop("CREDIT_RISK_DB_URL", None)
    from core.settings import apply_offline_env

    apply_offline_env()
    from cycle.run import run_cycle

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dir or tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        setup = _synth_home if args.entities <= 200_000 else _generator_home
        settings, drop = setup(root, args.entities)
        setup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        base = run_cycle(settings, as_of=BASELINE, actor="bench", retrain="never")
        base_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = run_cycle(settings, as_of=TIMED, drop=drop, actor="bench", retrain="never")
        wall = time.perf_counter() - t0
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        figures = {
            "entities": args.entities, "published": out["published"]["entities"],
            "setup_seconds": round(setup_s, 1), "baseline_cycle_seconds": round(base_s, 1),
            "cycle_seconds": round(wall, 1),
            "steps": {k: v["seconds"] for k, v in out["timings"].items()},
            "drop_rows_loaded": (out["data_quality"] or {}).get("loaded"),
            "psi_score": out["psi_score"], "tier_counts": out["tier_counts"],
            "alerts": [a["code"] for a in out["alerts"]], "baseline_published": base["published"]["entities"],
            "peak_rss_gib": round(cpu.ru_maxrss / 2**20, 2), "load_average": os.getloadavg()[0],
        }
        print(json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
