"""List lookup benchmark: a 100,000-row GBK CSV of codes and names through ``serving.lists.annotate_list``
(the core of ``credit-risk lookup`` and ``POST /v1/lists/lookup``), in bounded memory.

    .venv/bin/python bench/bench_lookup.py [--entities 34000] [--rows 10000,100000]

Builds a throw-away home (toy model, one publication of ``--entities``, 1% of them closed; a warehouse
holding their names), writes lists of each size (half codes, half names only; 1% bad check characters,
1% unknown names), then times each lookup and measures its peak Python allocation (tracemalloc, a second
run): bounded memory means the peak does not grow with the list.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def write_list(path: Path, codes: list[str], names: dict[str, str], rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="gbk", newline="") as f:
        w = csv.writer(f)
        w.writerow(["序号", "企业名称", "统一社会信用代码", "备注"])
        for i, j in enumerate(rng.integers(len(codes), size=rows)):
            code = codes[j]
            name, given = names[code], code if i % 2 == 0 else ""
            if i % 100 == 1:
                name = f"不存在的公司{i}"
            if i % 100 == 2:
                given = code[:17] + ("0" if code[17] != "0" else "1")
            w.writerow([i + 1, name, given, "来自其他部门"])


def run(settings, src: Path, dst: Path, *, trace: bool) -> dict:
    from serving.lists import annotate_list, warehouse_names
    from serving.outcomes import CodeLookup
    from serving.runtime import PublishedIndex

    codes = CodeLookup(settings, PublishedIndex(settings))
    codes.index.current()  # the publication in memory first, as in the running service
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    with warehouse_names(settings) as names, src.open("rb") as fin, dst.open("wb") as fout:
        summary = annotate_list(fin, fout, resolve=codes.outcomes, match_names=names)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return {"rows": summary.rows, "seconds": round(elapsed, 2), "rows_per_s": round(summary.rows / elapsed),
            "peak_mib": round(peak / 2**20, 1) if peak else None, "outcomes": summary.outcomes,
            "matched_by_name": summary.matched_by_name}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=34_000)
    ap.add_argument("--rows", default="10000,100000")
    ap.add_argument("--seed", type=int, default=20260101)
    args = ap.parse_args()
    os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "bench-not-secret")
    from bench_service import prepare

    from core.settings import Settings
    from features.warehouse import connect

    with tempfile.TemporaryDirectory(prefix="cr-bench-lookup-") as tmp:
        home = Path(tmp) / "home"
        _, codes, _, closed = prepare(home, entities=args.entities, seed=args.seed)
        settings = Settings.from_env(home)
        names = {c: f"测试企业{i}有限公司" for i, c in enumerate(codes + closed)}
        register = pd.DataFrame({"uscc": list(names), "name": list(names.values())})  # noqa: F841 - read by SQL
        con = connect(settings)
        con.execute("INSERT INTO entities (uscc, name) SELECT uscc, name FROM register")
        con.close()
        out = {"entities": len(codes), "load_avg_start": os.getloadavg()[0], "runs": []}
        for n in (int(x) for x in args.rows.split(",")):
            src = Path(tmp) / f"list_{n}.csv"
            write_list(src, codes + closed, names, n, args.seed)
            timed = run(settings, src, Path(tmp) / f"out_{n}.csv", trace=False)
            traced = run(settings, src, Path(tmp) / f"out_{n}.csv", trace=True)
            row = {**timed, "peak_mib": traced["peak_mib"], "file_mib": round(src.stat().st_size / 2**20, 1)}
            out["runs"].append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
        out["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
