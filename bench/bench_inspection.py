"""Benchmarks of inspection planning.

Scale: draw and inspector assignment of one plan on a synthetic target registry:
    .venv/bin/python bench/bench_inspection.py --entities 1000000 --capacity 30000
prints the seconds for the registry, the draw, inspector generation and assignment, and the plan's shape.

History: the district's own inspections of one year re-ordered by the published score
(evaluate-schedule), from a home where synth → ingest → train → score --as-of YEAR-01-01 ran:
    .venv/bin/python bench/bench_inspection.py --history-home HOME --year 2025
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from core.uscc import ALPHABET, WEIGHTS
from inspection.assign import assign, workload
from inspection.draw import draw
from inspection.policy import load_policy
from inspection.registries import generate_inspectors

INDUSTRIES = np.array(["6210", "6110", "5211", "1431", "3021", "7271", "4411", "8010", "0141", "7861"])


def _uscc(n: int) -> np.ndarray:
    """Valid credit codes 91500000 + a 9-digit serial + check character (all-digit body, so value = digit)."""
    body = np.char.add("91500000", np.char.zfill(np.arange(n).astype(str), 9))
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17).astype(np.int64) - ord("0")
    check = (31 - (digits * np.array(WEIGHTS)).sum(axis=1) % 31) % 31
    return np.char.add(body, np.array(list(ALPHABET))[check])


def targets(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    industry = rng.choice(INDUSTRIES, size=n)
    lic = np.where(np.isin(industry, ["6210", "5211"]) & (rng.random(n) < 0.8), "food_business", "")
    lic = np.where((industry == "6110") & (rng.random(n) < 0.6), "special_equipment", lic)
    lic = np.where(industry == "1431", "food_production", lic)
    return pd.DataFrame({
        "uscc": _uscc(n), "tier": rng.choice(list("ABCD"), size=n, p=[0.65, 0.25, 0.08, 0.02]),
        "probability": rng.random(n),
        "entity_type": np.where(rng.random(n) < 0.23, "limited_company", "individual"),
        "industry_code": industry, "town_code": rng.choice([f"T{k:02d}" for k in range(26)], size=n),
        "licence_types": lic,
    })


def history(home: str, year: int) -> None:
    """Inspections of ``year`` with the score published at its start, through evaluate-schedule."""
    import tempfile

    import sqlalchemy as sa

    from core import opdb
    from core.settings import Settings
    from features import warehouse
    from inspection.evaluate_schedule import evaluate_schedule_file
    from inspection.registries import latest_publication
    from inspection.results import ADVERSE_RESULTS

    settings = Settings.from_env(home)
    with opdb.engine(settings).connect() as conn:
        pub = latest_publication(conn)
        scores = pd.read_sql(sa.text("SELECT uscc, probability FROM published_scores WHERE publication_id = :p"),
                             conn, params={"p": pub["publication_id"]})
    con = warehouse.connect(settings, read_only=True)
    insp = con.execute("SELECT uscc, inspection_date, kind, result FROM inspections "
                       "WHERE year(inspection_date) = ?", [year]).df()
    con.close()
    frame = insp.merge(scores, on="uscc", how="inner")
    frame["adverse"] = frame["result"].isin(ADVERSE_RESULTS).astype(int)
    for kind in (None, "random"):
        part = frame if kind is None else frame[frame["kind"] == kind]
        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/history.parquet"
            part.to_parquet(path)
            ev = evaluate_schedule_file(path, date_col="inspection_date", score_col="probability",
                                        label_col="adverse")
        q = ev.days_earlier_quantiles
        print(f"{year} {kind or 'all kinds'} (publication {pub['publication_id']}): {ev.inspections:,} "
              f"inspections, {ev.positives:,} positives; days earlier mean {ev.days_earlier_mean} "
              f"(95% CI {ev.days_earlier_ci}, paired t {ev.paired_t}, p {ev.paired_p}), "
              f"p10/p50/p90 {q['p10']}/{q['p50']}/{q['p90']}, found later {ev.share_found_later}; "
              f"first-half share actual {ev.first_half_share_actual} vs re-ordered {ev.first_half_share_model}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=34_000)
    ap.add_argument("--capacity", type=int, default=1_500)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--history-home", help="home of a scored district: run the history benchmark instead")
    ap.add_argument("--year", type=int, default=2025)
    args = ap.parse_args()
    if args.history_home:
        history(args.history_home, args.year)
        return
    policy = load_policy()
    t0 = time.perf_counter()
    frame = targets(args.entities, args.seed)
    t1 = time.perf_counter()
    d = draw(frame, policy=policy, capacity=args.capacity, seed=args.seed)
    t2 = time.perf_counter()
    reg = generate_inspectors(frame, policy, seed=args.seed)
    t3 = time.perf_counter()
    out = assign(d.inspections, reg.frame, policy=policy, seed=args.seed)
    t4 = time.perf_counter()
    load = workload(out)
    print(f"entities {args.entities:,}  capacity {args.capacity:,}  random inspections {d.random_count:,}  "
          f"ratio kept {d.ratio_kept}  floor {d.floor['drawn']}/{d.floor['required_this_year']}")
    print(f"registry build {t1 - t0:.2f} s | draw {t2 - t1:.2f} s | inspector registry ({len(reg.frame)}) "
          f"{t3 - t2:.2f} s | assignment {t4 - t3:.2f} s")
    print(f"workload per inspector min {load.min()} max {load.max()}; "
          f"unmet specialties {(out['unmet_specialties'] != '').sum()}")


if __name__ == "__main__":
    main()
