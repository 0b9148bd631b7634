"""Benchmark: ingest of a simulated district (rows/s, peak memory), optionally re-ingested to time the no-op pass.

    .venv/bin/python bench/bench_ingest.py --entities 34000
    .venv/bin/python bench/bench_ingest.py --entities 1000000 --drop /tmp/district-1m

The district is generated once with ``synth.generate`` in a child process (so its memory does not count)
into ``--drop`` (default ``/tmp/credit-risk-bench/district-<entities>-<seed>[-dirty]``) and reused when
present. Ingest runs in this process into a fresh home; peak memory is this process's maximum RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _generate(drop: Path, *, entities: int, seed: int, dirty_rate: float) -> float:
    code = ("import sys, synth; synth.generate(sys.argv[1], entities=int(sys.argv[2]), seed=int(sys.argv[3]), "
            "dirty_rate=float(sys.argv[4]))")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(drop), str(entities), str(seed), str(dirty_rate)],
                   check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=34000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--dirty-rate", type=float, default=0.0)
    parser.add_argument("--drop", type=Path, help="district folder (generated when missing)")
    parser.add_argument("--twice", action="store_true", help="ingest the same drop again and time the no-op pass")
    args = parser.parse_args()
    os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "bench-key-not-secret")
    suffix = "-dirty" if args.dirty_rate else ""
    drop = args.drop or Path(tempfile.gettempdir()) / "credit-risk-bench" / f"district-{args.entities}-{args.seed}{suffix}"
    if not (drop / "synth_report.json").exists():
        seconds = _generate(drop, entities=args.entities, seed=args.seed, dirty_rate=args.dirty_rate)
        print(f"generated {drop} in {seconds:.1f} s (child process)")

    from core.settings import Settings
    from features.ingest import ingest

    size = sum(p.stat().st_size for p in drop.iterdir() if p.is_file())
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as home:
        settings = Settings.from_env(home)
        start = time.perf_counter()
        summary = ingest(settings, drop)
        seconds = time.perf_counter() - start
        rows = sum(f.get("rows", 0) for f in summary["files"])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB -> GiB
        figures = {
            "entities": args.entities, "dirty_rate": args.dirty_rate, "files": len(summary["files"]),
            "input_mb": round(size / 1e6, 1), "rows": rows, "loaded": sum(summary["loaded"].values()),
            "quarantined": sum(sum(v.values()) for v in summary["quarantined"].values()),
            "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds), "peak_rss_gib": round(peak, 2),
            "warehouse_mb": round(settings.warehouse_path.stat().st_size / 1e6, 1),
            "per_file_s": {f["file"]: f.get("seconds") for f in summary["files"]},
        }
        if args.twice:
            start = time.perf_counter()
            again = ingest(settings, drop)
            figures["reingest_seconds"] = round(time.perf_counter() - start, 1)
            figures["reingest_new_rows"] = sum(c["new"] + c["revised"] for c in again["changes"].values())
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
