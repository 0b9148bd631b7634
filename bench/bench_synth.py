"""Benchmark: generate a simulated district at 34k and 1M entities; print time, rows/s and peak memory.

Run: .venv/bin/python bench/bench_synth.py [--entities 34000 1000000] [--out /tmp/bench-synth] [--keep]
Each size runs in its own child process so that its peak resident memory is measured alone; CPU seconds
(all threads) and the load average are printed because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _child(entities: int, out: Path) -> None:
    import pyarrow.parquet as pq

    from synth import generate

    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    report = generate(out, entities=entities, seed=20260101)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rows = sum(report["counts"].values())
    latent = pq.ParquetFile(out / "ground_truth" / "latent_monthly.parquet").metadata.num_rows
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"entities": entities, "entities_total": report["entities_total"], "seconds": round(seconds, 1),
                      "cpu_seconds": round(cpu, 1), "load_average": [round(load_before, 1),
                                                                     round(os.getloadavg()[0], 1)],
                      "source_rows": rows, "latent_rows": latent, "rows_per_s": round((rows + latent) / seconds),
                      "source_rows_per_s": round(rows / seconds), "peak_rss_gib": round(peak_gib, 2),
                      "learnability": report.get("learnability")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, nargs="+", default=[34000, 1_000_000])
    parser.add_argument("--out", default="/tmp/bench-synth")
    parser.add_argument("--keep", action="store_true", help="keep each district (default: removed after its run)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.entities[0], Path(args.out))
        return
    for n in args.entities:
        out = Path(args.out) / str(n)
        shutil.rmtree(out, ignore_errors=True)
        res = subprocess.run([sys.executable, __file__, "--child", "--entities", str(n), "--out", str(out)],
                             capture_output=True, text=True)
        if res.returncode:
            print(f"synth {n:,} entities failed:\n{res.stderr[-3000:]}")
            continue
        figures = json.loads(res.stdout.strip().splitlines()[-1])
        le = figures.get("learnability") or {}
        print(f"synth {n:>9,} entities ({figures['entities_total']:,} ever registered): {figures['seconds']:.1f} s "
              f"(CPU {figures['cpu_seconds']:.1f} s, load average {figures['load_average'][0]}→"
              f"{figures['load_average'][1]}), {figures['source_rows']:,} source rows + "
              f"{figures['latent_rows']:,} ground-truth rows, {figures['rows_per_s']:,} rows/s, "
              f"peak RSS {figures['peak_rss_gib']:.2f} GiB; label rate {le.get('enterprise_label_rate_test')}, "
              f"AUC risk_12m {le.get('latent_auc')} / propensity {le.get('latent_propensity_auc')} / "
              f"quick model {le.get('observed_auc')}")
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
