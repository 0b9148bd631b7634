"""Benchmark: the data fingerprint a snapshot build computes, full scan against the incremental ledger.

Usage:
    .venv/bin/python bench/bench_fingerprint.py                       # 300,000 entities (generated)
    .venv/bin/python bench/bench_fingerprint.py --entities 1000000
    .venv/bin/python bench/bench_fingerprint.py --warehouse W.duckdb  # a copy of an existing warehouse (read: copied)

Generates a district with bench_features.make_district (written directly, so no table has a ledger row), then on
fresh connections times: the full scan (the reference, as every build did before), the first incremental call
(hashes every table once and records it), the steady state (nothing written since), and a writer's delta (1,000
penalties inserted through features.fingerprints.changing, as ingest does) followed by the next build's call.
Every incremental value is checked against the full scan.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _timed(path: str, fn) -> tuple[float, object]:
    import duckdb

    con = duckdb.connect(path)
    try:
        t0 = time.perf_counter()
        out = fn(con)
        return time.perf_counter() - t0, out
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--warehouse", help="copy this warehouse instead of generating one (the file is only read)")
    args = ap.parse_args()
    import duckdb

    from bench.bench_features import make_district
    from features import fingerprints
    from features.snapshot import data_fingerprint, reference_fingerprint

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        if args.warehouse:
            shutil.copyfile(args.warehouse, path)
            entities = None
        else:
            con = duckdb.connect(path)
            make_district(con, entities=args.entities, seed=args.seed)
            con.close()
            entities = args.entities
        prepared = time.perf_counter() - t0
        full_s, ref = min((_timed(path, reference_fingerprint) for _ in range(2)), key=lambda r: r[0])
        first_s, first = _timed(path, data_fingerprint)
        steady = [_timed(path, data_fingerprint) for _ in range(3)]

        def write(con):
            con.execute("BEGIN")
            with fingerprints.changing(con, "penalties", "t.penalty_id LIKE 'BENCH-%'"):
                con.execute("INSERT INTO penalties (penalty_id, uscc, decided_date, known_date) "
                            "SELECT 'BENCH-' || i, (SELECT MIN(uscc) FROM entities), DATE '2025-01-02', "
                            "DATE '2025-01-02' FROM range(1000) r(i)")
            con.execute("COMMIT")

        write_s, _ = _timed(path, write)
        after_s, after = _timed(path, data_fingerprint)
        settled_s, settled = _timed(path, data_fingerprint)
        ref_after_s, ref_after = _timed(path, reference_fingerprint)
        rows = _timed(path, lambda c: sum(p.rows for p in fingerprints.full_parts(c, fingerprints.tables(c)).values()))[1]
    assert first == ref and all(fp == ref for _, fp in steady), "incremental differs from the full scan"
    assert after == settled == ref_after != ref, "after the write: incremental differs from the full scan"
    result = {
        "entities": entities, "warehouse": args.warehouse, "rows_fingerprinted": rows, "prepare_s": round(prepared, 1),
        "full_scan_s": round(full_s, 3), "first_incremental_s": round(first_s, 3),
        "steady_incremental_s": [round(s, 3) for s, _ in steady],
        "writer_delta_1000_rows_s": round(write_s, 3), "after_write_s": round(after_s, 3),
        "after_write_settled_s": round(settled_s, 3), "full_scan_after_write_s": round(ref_after_s, 3),
        "equal_to_full_scan": True, "load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
