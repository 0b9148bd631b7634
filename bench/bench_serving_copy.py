"""Benchmark: publishing the service's read-only warehouse copy (``features.warehouse.publish_serving_copy``).

Usage:
    .venv/bin/python bench/bench_serving_copy.py                   # 34,000 entities (synth), once
    .venv/bin/python bench/bench_serving_copy.py --entities 200000

A ``synth`` district up to 2025-05-31 is ingested and a feature snapshot built. Then the copy is published
three times (each after a one-row change, so none is skipped as unchanged): CHECKPOINT and a byte copy of
the file. Baseline: the table-by-table export into a new DuckDB file (``features.warehouse._export``, the
fallback when the publishing process could not checkpoint). Also timed: one service-side read through
``features.warehouse.reader`` (a cursor on a connection kept per copy) against opening the copy per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 20260101


def _median(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=34_000)
    args = parser.parse_args()

    import duckdb

    import synth
    from core.settings import Settings, apply_offline_env
    from features import warehouse
    from features.ingest import ingest
    from features.snapshot import build_snapshot

    apply_offline_env()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        synth.generate(root / "base", entities=args.entities, seed=SEED, until=date(2025, 5, 31))
        settings = Settings.from_env(root / "home")
        ingest(settings, root / "base", actor="bench")
        con = warehouse.connect(settings)
        try:
            build_snapshot(con, as_of=date(2025, 6, 1))
            con.execute("CHECKPOINT")
        finally:
            con.close()
        print(f"district of {args.entities:,} entities ingested with a snapshot in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)

        def touch() -> None:
            c = warehouse.connect(settings)
            try:
                c.execute("INSERT INTO repairs (case_id) VALUES ('bench')")
                c.execute("DELETE FROM repairs WHERE case_id = 'bench'")
            finally:
                c.close()

        def publish() -> None:
            touch()
            warehouse.publish_serving_copy(settings, only_if_stale=True)

        def export() -> None:
            touch()
            target = root / "export.duckdb"
            target.unlink(missing_ok=True)
            c = warehouse.connect(settings)
            try:
                warehouse._export(c, target)
            finally:
                c.close()

        copy_s = _median(publish)
        export_s = _median(export)
        pointer = warehouse.current_copy(settings)
        copy_mb = (warehouse.serving_dir(settings) / pointer["file"]).stat().st_size / 1e6
        uscc = duckdb.connect(str(settings.warehouse_path), read_only=True).execute(
            "SELECT uscc FROM entities LIMIT 1").fetchall()[0][0]

        def read() -> None:
            c = warehouse.reader(settings)
            try:
                c.execute("SELECT COUNT(*) FROM penalties WHERE uscc = ?", [uscc]).fetchall()
            finally:
                c.close()

        def open_per_call() -> None:
            c = duckdb.connect(str(warehouse.serving_dir(settings) / pointer["file"]), read_only=True)
            try:
                c.execute("SELECT COUNT(*) FROM penalties WHERE uscc = ?", [uscc]).fetchall()
            finally:
                c.close()

        open_ms = _median(open_per_call, 11) * 1e3
        os.environ[warehouse.SERVICE_ENV] = "1"  # as in the service: read the copy, never refresh it
        read()
        read_ms = _median(read, 51) * 1e3
    print(f"entities {args.entities:,}; copy {copy_mb:,.1f} MB ({len(pointer['tables'])} tables)")
    print(f"publish (checkpoint + file copy) median {copy_s:.2f} s; table-by-table export median {export_s:.2f} s "
          f"(export / copy {export_s / copy_s:.1f}x)")
    print(f"service read: reader() median {read_ms:.2f} ms; opening the copy per call {open_ms:.2f} ms "
          f"(ratio {open_ms / read_ms:.0f}x)")


if __name__ == "__main__":
    main()
