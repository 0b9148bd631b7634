"""Benchmark: what direct triggers and record-carrying reasons add to one publication of the 34k district.

Usage:
    .venv/bin/python bench/bench_publish.py [--entities 34000] [--rounds 3]

The district is simulated by ``synth`` up to 2025-05-31 and ingested; a champion is trained on its own
quarterly spine (100 rounds); the snapshot at 2025-06-01 is built once. Each round publishes that snapshot
into a fresh operational DB twice: with the warehouse at hand (triggers on features and records, every
reason naming its records: the published path) and without it (baseline: triggers on features only,
reasons naming their top feature). Prints medians, the ratio, and the record query alone. A ``--dir``
from an earlier run reuses its ingested district.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 20260101
UNTIL, AS_OF = date(2025, 5, 31), date(2025, 6, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=34000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", help="working folder (default: a temporary one)")
    args = ap.parse_args()

    import synth
    from core.settings import Settings, apply_offline_env
    from features.ingest import ingest
    from features.reason_records import reason_records
    from features.snapshot import build_snapshot
    from features.warehouse import connect
    from serving.publish import publish
    from training.dataset import from_warehouse
    from training.train import train

    apply_offline_env()
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-publish-"))
    settings = Settings.from_env(root / "home")
    if not settings.warehouse_path.exists():  # a --dir from an earlier run keeps its district
        synth.generate(root / "base", entities=args.entities, seed=SEED, until=UNTIL)
        os.environ.pop("CREDIT_RISK_DB_URL", None)
        ingest(settings, root / "base", actor="bench")
    con = connect(settings)
    try:
        ds = from_warehouse(con, start=date(2021, 10, 1), end=date(2024, 4, 1), freq="quarterly", data_end=UNTIL)
        model = train(ds, num_boost_round=100, seed=SEED, budget_s=0)
        model.meta["version"] = "1"
        snap = build_snapshot(con, as_of=AS_OF)
        t = time.perf_counter()
        records = reason_records(con, as_of=AS_OF)
        query = time.perf_counter() - t
    finally:
        con.close()
    model.score(snap.frame.head(5000))  # compile the forest once, outside the timings

    def timed(home: Path, run: str) -> tuple[float, dict]:
        os.environ["CREDIT_RISK_DB_URL"] = f"sqlite:///{root / f'operational-{run}.db'}"  # a fresh DB per run
        s = Settings.from_env(home)
        t = time.perf_counter()
        out = publish(s, as_of=AS_OF, actor="bench", model=model, snapshot=snap)
        return time.perf_counter() - t, out

    with_records, without = [], []
    for i in range(args.rounds):
        seconds, pub = timed(root / "home", f"records-{i}")
        with_records.append(seconds)
        seconds, _ = timed(root / "bare", f"bare-{i}")  # same snapshot and model, no warehouse in the home
        without.append(seconds)
    shutil.rmtree(root / "bare", ignore_errors=True)
    a, b = statistics.median(with_records), statistics.median(without)
    print(f"entities published: {pub['entity_count']:,}  tiers {pub['tier_counts']}")
    print(f"triggers fired: {pub['trigger_counts']}")
    print(f"reason records: {sum(len(v) for d in records.values() for v in d.values()):,} for {len(records):,} "
          f"entities; record query alone {query:.2f} s")
    print(f"publish with records and triggers: median {a:.2f} s  {[round(x, 2) for x in with_records]}")
    print(f"publish without the warehouse (baseline): median {b:.2f} s  {[round(x, 2) for x in without]}")
    print(f"added: {a - b:.2f} s (x{a / b:.2f})")


if __name__ == "__main__":
    main()
