"""Benchmark: repair eligibility per entity and case transitions, on a synthetic warehouse built in code.

Usage: .venv/bin/python bench/bench_repair.py --entities 34000 --cases 40
Prints the warehouse size, the median and 95th-percentile seconds of one entity's eligibility check,
the median seconds of each case step under its procedure (SQLite operational DB: each step writes the
case, its event, its notice and the audit entry; only registration and approval read the warehouse), and
the seconds of the batch sync that writes every decision into the warehouse.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.settings import Settings, apply_offline_env
from core.uscc import ALPHABET, WEIGHTS

DOCS = {"application": "A", "commitment": "C", "proof": "P"}


def _uscc(n: int) -> np.ndarray:
    body = np.char.add("91500000", np.char.zfill(np.arange(n).astype(str), 9))
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17).astype(np.int64) - ord("0")
    check = (31 - (digits * np.array(WEIGHTS)).sum(axis=1) % 31) % 31
    return np.char.add(body, np.array(list(ALPHABET))[check])


def build(settings: Settings, n: int, seed: int) -> dict[str, int]:
    from features.warehouse import connect

    rng = np.random.default_rng(seed)
    codes = _uscc(n)
    day0 = date(2021, 1, 1)

    def days(k: int, span: int) -> list[date]:
        return [day0 + timedelta(days=int(d)) for d in rng.integers(0, span, k)]

    entities = pd.DataFrame({"uscc": codes, "name": "e", "entity_type": rng.choice(
        ["limited_company", "individual"], n, p=[0.23, 0.77]), "industry_code": "6210", "town_code": "T01",
        "established": date(2010, 1, 1), "status": "active"})
    k = int(n * 0.3)
    decided = days(k, 1600)
    penalties = pd.DataFrame({
        "penalty_id": [f"P{i}" for i in range(k)], "uscc": rng.choice(codes, k), "decided_date": decided,
        "domain": rng.choice(["food", "price", "quality", "advertising"], k), "procedure": "ordinary",
        "severity": "ordinary", "sanctions": rng.choice(["fine", "warning", "fine;confiscation"], k),
        "fine_amount": rng.lognormal(10, 1.2, k), "leniency": False, "known_date": decided,
        "fine_paid_date": [d + timedelta(days=30) if rng.random() < 0.8 else None for d in decided]})
    a = int(n * 0.05)
    listed = days(a, 1600)
    abnormal = pd.DataFrame({"listing_id": [f"A{i}" for i in range(a)], "uscc": rng.choice(codes, a),
                             "listed_date": listed, "reason": "no_annual_report", "known_date": listed})
    s = max(1, int(n * 0.003))
    slisted = days(s, 1600)
    serious = pd.DataFrame({"listing_id": [f"S{i}" for i in range(s)], "uscc": rng.choice(codes, s),
                            "listed_date": slisted, "domain": "food", "known_date": slisted})
    con = connect(settings)
    for name, frame in (("entities", entities), ("penalties", penalties), ("abnormal_list", abnormal),
                        ("serious_list", serious)):
        con.register("_f", frame)
        cols = ", ".join(frame.columns)
        con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _f")
        con.unregister("_f")
    con.close()
    return {"entities": n, "penalties": k, "abnormal_list": a, "serious_list": s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=34_000)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    apply_offline_env()
    from features.warehouse import connect
    from repair import eligibility, workflow

    home = tempfile.mkdtemp(prefix="bench-repair-")
    settings = Settings.from_env(home)
    t = time.perf_counter()
    sizes = build(settings, args.entities, args.seed)
    print(f"warehouse {sizes} built in {time.perf_counter() - t:.1f} s")

    as_of = date(2025, 6, 2)
    con = connect(settings)
    pen = con.execute("SELECT uscc, penalty_id FROM penalties").fetchall()
    rng = np.random.default_rng(args.seed)
    sample = [pen[i][0] for i in rng.choice(len(pen), args.checks, replace=False)]
    times, eligible = [], []
    for u in sample:
        t = time.perf_counter()
        checks = eligibility.evaluate(con, u, as_of=as_of)
        times.append(time.perf_counter() - t)
        eligible += [(u, c.record_id) for c in checks if c.eligible_now and c.record_kind == "penalty"]
    con.close()
    q = np.quantile(times, [0.5, 0.95])
    print(f"eligibility per entity: median {q[0] * 1000:.1f} ms, p95 {q[1] * 1000:.1f} ms "
          f"({args.checks} entities, {len(eligible)} eligible penalties found)")

    steps: dict[str, list[float]] = {}
    for u, pid in eligible[:args.cases]:
        t = time.perf_counter()
        case = workflow.apply(settings, uscc=u, record_id=pid, documents=DOCS, actor="bench", on=as_of)
        steps.setdefault("apply", []).append(time.perf_counter() - t)
        path = ["accept", *(["review"] if case.procedure.code == "general" else []), "approve", "complete"]
        for action in path:
            t = time.perf_counter()
            workflow.transition(settings, case.case_id, action, actor="bench", on=as_of)
            steps.setdefault(action, []).append(time.perf_counter() - t)
    print("case steps, median ms: " + ", ".join(f"{k} {statistics.median(v) * 1000:.0f}"
                                                for k, v in steps.items()) + f" ({len(steps.get('apply', []))} cases)")
    t = time.perf_counter()
    synced = workflow.sync_warehouse(settings)
    print(f"sync of {synced.cases} decided cases into the warehouse: {time.perf_counter() - t:.2f} s "
          f"({synced.repairs} repairs rows)")


if __name__ == "__main__":
    main()
