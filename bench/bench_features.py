"""Benchmark: feature snapshot time and peak memory at district and national-like sizes, against pandas.

Usage:
    .venv/bin/python bench/bench_features.py                       # 34,000 entities, 5% revised
    .venv/bin/python bench/bench_features.py --revised-share 0     # no revisions (no history to search)
    .venv/bin/python bench/bench_features.py --entities 1000000    # 1M entities (run once)

A vectorised generator writes a warehouse with realistic volumes (annual reports, penalties, lists,
inspections, complaints, opinions, relations with a few large person groups, dense addresses); a child
process then builds the snapshot (timed, peak RSS) and a straightforward pandas implementation of a
subset of the features on the same data (timed, values compared). ``--revised-share`` of the entities and of
the penalties have a revision that arrived after the as-of date (a later drop): the snapshot must see the
version known at as_of (features/versions.py), and the pandas reference does the same.
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
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AS_OF = date(2025, 7, 1)
REVISION_DROP = date(2025, 9, 30)  # the drop that brought the revisions, after AS_OF
START = np.datetime64("2016-01-01")
END = np.datetime64("2025-12-31")
SUBSET = ["entity_age_years", "penalty_in_effect_count", "penalty_count_365d", "penalty_fine_yuan_in_effect",
          "abnormal_list_current_flag", "annual_report_missing_count_3y", "opinion_negative_count_365d",
          "complaint_count_365d", "affiliate_count", "affiliate_abnormal_list_share", "address_other_entity_count"]


def _days(rng, n, lo, hi):
    return lo + rng.integers(0, max(int((hi - lo).astype(int)), 1), n).astype("timedelta64[D]")


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i:09d}" for i in range(n)], dtype=object)


def _credit_codes(prefix: str, n: int) -> np.ndarray:
    """``n`` valid unified social credit codes (check character included), distinct per slice prefix ("S3"), so
    that records of the district's codes pass ingest's check like a real drop's."""
    from core.uscc import ALPHABET, WEIGHTS

    head = "91522228"
    nums = (int(prefix[1:]) if prefix else 0) * 10_000_000 + np.arange(n, dtype=np.int64)
    digits = (nums[:, None] // 10 ** np.arange(8, -1, -1, dtype=np.int64)) % 10
    total = sum(ALPHABET.index(c) * w for c, w in zip(head, WEIGHTS[:8], strict=True)) + digits @ np.array(WEIGHTS[8:])
    check = np.array(list(ALPHABET))[(31 - total % 31) % 31]
    return np.array([f"{head}{x:09d}{c}" for x, c in zip(nums.tolist(), check.tolist(), strict=True)], dtype=object)


def export_catalog_champion(settings, *, seed: int) -> None:
    """A 100-tree champion trained on a seeded catalog-shaped frame (every feature, 3,000 entities x 8 periods),
    exported locally as version "1": a model for districts the generator made (no labels of their own)."""
    from features.catalog import all_features
    from serving.models import export_champion
    from training.dataset import feature_spec, from_frame
    from training.toy import catalog_frame
    from training.train import train

    feats = [feature_spec(f) for f in all_features()]
    frame = catalog_frame(feats, entities=3000, periods=8, seed=seed)
    ds = from_frame(frame, id_col="uscc", time_col="as_of", label_col="label", features=feats)
    model = train(ds, num_boost_round=100, seed=seed, params={"min_data_in_leaf": 50})
    model.meta["version"] = "1"
    export_champion(model, settings)


def make_district(con, *, entities: int, seed: int, revised_share: float = 0.0, prefix: str = "") -> dict[str, int]:
    """Write source tables with district-like volumes into ``con``; return row counts. ``prefix`` starts every key
    (entities, records, persons), so that several calls write one larger district (bench_scale.py)."""
    from features.warehouse import create_ingest_tables, create_source_tables

    create_source_tables(con)
    create_ingest_tables(con)
    rng = np.random.default_rng(seed)
    n = entities
    uscc = _credit_codes(prefix, n)
    est = END - (rng.exponential(8 * 365, n).clip(0, 40 * 365)).astype("timedelta64[D]")
    individual = rng.random(n) < 0.77
    etype = np.where(individual, "individual", rng.choice(["limited_company", "sole_proprietorship", "partnership",
                                                            "cooperative", "branch"], n, p=[.8, .08, .04, .04, .04]))
    exited = rng.random(n) < 0.18
    status_date = np.where(exited, est + ((END - est).astype(int) * rng.random(n)).astype("timedelta64[D]"),
                           np.datetime64("NaT"))
    status = np.where(exited, np.where(rng.random(n) < 0.2, "revoked", "deregistered"), "active")
    dense = rng.random(n) < 0.12
    addr = np.where(dense, rng.integers(0, max(n // 200, 1), n), np.arange(n) + n)
    tables: dict[str, pd.DataFrame] = {}
    tables["entities"] = pd.DataFrame({
        "uscc": uscc, "name": uscc, "entity_type": etype,
        "industry_code": rng.choice(["6210", "6110", "5291", "1391", "3021", "4412", "7291"], n),
        "town_code": rng.integers(1, 27, n).astype(str), "address": np.char.add("addr", addr.astype(str)),
        "registered_capital": np.where(individual & (rng.random(n) < 0.8), np.nan, rng.lognormal(13, 1.5, n)),
        "established": est, "status": status, "status_date": status_date, "known_date": est})

    def pick(k, weight=None):
        return rng.choice(n, k, p=weight)

    # annual reports: every year from max(established, 2016) to 2024, 93% filed
    first = np.maximum(est.astype("datetime64[Y]").astype(int) + 1970, 2016)
    years = np.maximum(2024 - first + 1, 0)
    idx = np.repeat(np.arange(n), years)
    year = first[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(years) - years, years))
    filed = rng.random(len(idx)) < 0.93
    idx, year = idx[filed], year[filed]
    due = (year + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 180
    fdate = due - rng.integers(-60, 170, len(idx)).astype("timedelta64[D]")
    undisclosed = rng.random(len(idx)) < 0.2
    tables["annual_reports"] = pd.DataFrame({
        "uscc": uscc[idx], "year": year, "filed_date": fdate, "known_date": fdate,
        "employees": np.where(undisclosed, np.nan, rng.poisson(6, len(idx))),
        "revenue": np.where(undisclosed, np.nan, rng.lognormal(13, 1.2, len(idx))),
        "assets": rng.lognormal(13, 1.2, len(idx)), "liabilities": rng.lognormal(12.5, 1.2, len(idx))})
    k = int(0.3 * n)
    who = pick(k)
    decided = _days(rng, k, START, END)
    light = rng.random(k) < 0.4
    sanctions = np.where(light, "warning", np.where(rng.random(k) < 0.1, "fine;suspend_business", "fine"))
    tables["penalties"] = pd.DataFrame({
        "penalty_id": _ids(prefix + "P", k), "uscc": uscc[who], "decided_date": decided,
        "known_date": decided + rng.integers(0, 30, k).astype("timedelta64[D]"),
        "domain": rng.choice(["food", "price", "quality", "advertising"], k),
        "procedure": np.where(light, "simple", "ordinary"), "severity": rng.choice(["minor", "ordinary", "serious"], k),
        "sanctions": sanctions, "fine_amount": np.where(light, 0.0, rng.lognormal(9, 1.3, k)),
        "leniency": rng.random(k) < 0.05,
        "publicity_end": np.where(light, decided + 91, decided + 3 * 365).astype("datetime64[D]")})
    kr = k // 50
    tables["repairs"] = pd.DataFrame({
        "record_kind": "penalty", "record_id": tables["penalties"]["penalty_id"].to_numpy()[:kr],
        "uscc": uscc[who[:kr]], "repaired_date": decided[:kr] + 200, "known_date": decided[:kr] + 200})
    k = int(0.15 * n)
    listed = _days(rng, k, START, END)
    removed = rng.random(k) < 0.6
    tables["abnormal_list"] = pd.DataFrame({
        "listing_id": _ids(prefix + "A", k), "uscc": uscc[pick(k)], "listed_date": listed, "known_date": listed,
        "reason": rng.choice(["no_annual_report", "unreachable"], k, p=[.8, .2]),
        "removed_date": np.where(removed, listed + rng.integers(10, 700, k).astype("timedelta64[D]"),
                                 np.datetime64("NaT"))})
    k = int(0.004 * n)
    listed = _days(rng, k, START, END)
    tables["serious_list"] = pd.DataFrame({"listing_id": _ids(prefix + "S", k), "uscc": uscc[pick(k)], "listed_date": listed,
                                           "known_date": listed, "domain": "food"})
    k = int(0.5 * n)
    d = _days(rng, k, START, END)
    tables["inspections"] = pd.DataFrame({
        "inspection_id": _ids(prefix + "I", k), "uscc": uscc[pick(k)], "inspection_date": d, "known_date": d,
        "kind": rng.choice(["random", "targeted", "complaint"], k),
        "result": rng.choice(["no_issue", "issue_corrected", "case_opened", "not_found_at_address"], k,
                             p=[.8, .12, .05, .03])})
    k = int(0.12 * n)
    d = _days(rng, k, START, END)
    tables["complaints"] = pd.DataFrame({
        "complaint_id": _ids(prefix + "C", k), "uscc": uscc[pick(k)], "received_date": d, "known_date": d,
        "upheld": rng.random(k) < 0.4, "handled_date": d + rng.integers(1, 60, k).astype("timedelta64[D]")})
    k = int(0.3 * n)
    d = _days(rng, k, START, END)
    neg = rng.random(k) < 0.3
    vendor = np.where(rng.random(k) < 0.6, np.where(neg, "negative", "neutral"), None)
    text = np.where(neg, rng.choice(["被曝食品变质遭投诉", "游客投诉强制购物", "涉嫌虚假宣传被查处"], k),
                    rng.choice(["开业活动获得好评", "推出特色美食", "服务周到值得推荐"], k))
    tables["opinions"] = pd.DataFrame({
        "opinion_id": _ids(prefix + "O", k), "published_date": d, "known_date": d, "source": "news", "title": text,
        "uscc": np.where(rng.random(k) < 0.8, uscc[pick(k)], None), "vendor_sentiment": vendor,
        "reach": rng.integers(0, 5000, k)})
    k = int(0.2 * n)
    d = _days(rng, k, START, END)
    tables["changes"] = pd.DataFrame({"change_id": _ids(prefix + "G", k), "uscc": uscc[pick(k)], "change_date": d,
                                      "known_date": d, "item": rng.choice(["legal_rep", "address", "scope"], k)})
    k = int(0.3 * n)
    d = _days(rng, k, START - 3650, END)
    tables["licences"] = pd.DataFrame({
        "licence_id": _ids(prefix + "L", k), "uscc": uscc[pick(k)], "licence_type": rng.choice(["food_business",
                                                                                        "special_equipment"], k),
        "issued": d, "known_date": d, "expires": d + 5 * 365, "status": "valid"})
    # relations: one legal rep per entity (15% shared from a pool, a few nominees with hundreds of entities),
    # plus shareholders for companies
    pool = max(n // 20, 1)
    shared = rng.random(n) < 0.15
    person = np.where(shared, (rng.zipf(1.6, n) % pool), np.arange(n) + pool)
    comp = np.flatnonzero(~individual)
    sh = rng.integers(0, pool, len(comp))
    tables["relations"] = pd.DataFrame({
        "relation_id": _ids(prefix + "R", n + len(comp)), "uscc": np.concatenate([uscc, uscc[comp]]),
        "relation_type": np.concatenate([np.full(n, "legal_rep"), np.full(len(comp), "shareholder")]),
        "person_key": np.char.add(prefix + "P", np.concatenate([person, sh]).astype(str)),
        "start_date": np.concatenate([est, est[comp]]), "known_date": np.concatenate([est, est[comp]])})
    counts = {}
    for name, frame in tables.items():
        con.register("_bench", frame)
        con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _bench')
        con.unregister("_bench")
        counts[name] = int(len(frame))
    counts.update(_revise(con, rng, revised_share))
    return counts


def _revise(con, rng, share: float) -> dict[str, int]:
    """Give ``share`` of the entities (town, capital) and of the penalties (fine) a new version from a drop dated
    after AS_OF: the old version moves to ``<table>_history`` as ingest does."""
    if share <= 0:
        return {}
    con.execute("INSERT INTO ingest_runs (ingest_id, as_of) VALUES ('bench-revision', ?)", [REVISION_DROP])
    out = {}
    for table, key, change in (("entities", "uscc", "town_code = 'T99', registered_capital = registered_capital * 2"),
                               ("penalties", "penalty_id", "fine_amount = fine_amount * 3 + 1")):
        keys = [r[0] for r in con.execute(f"SELECT {key} FROM {table}").fetchall()]
        chosen = pd.DataFrame({key: np.array(keys, dtype=object)[rng.random(len(keys)) < share]})
        con.register("_chosen", chosen)
        con.execute(f"INSERT INTO {table}_history SELECT *, 'bench-revision' FROM {table} "
                    f"WHERE {key} IN (SELECT {key} FROM _chosen)")
        con.execute(f"UPDATE {table} SET {change}, _ingest_id = 'bench-revision' "
                    f"WHERE {key} IN (SELECT {key} FROM _chosen)")
        con.unregister("_chosen")
        out[f"{table}_revised"] = len(chosen)
    return out


def as_known(con, name: str, key: str, as_of: date) -> pd.DataFrame:
    """A table as known at ``as_of``, the pandas way: a row superseded by a drop dated on or after ``as_of``
    is replaced by its old version."""
    cur = con.table(name).df()
    hist = con.sql(f"SELECT h.* FROM {name}_history h JOIN ingest_runs r ON r.ingest_id = h._superseded_by "
                   f"WHERE r.as_of >= DATE '{as_of.isoformat()}'").df()
    if hist.empty:
        return cur
    return pd.concat([cur[~cur[key].isin(hist[key])], hist[cur.columns]], ignore_index=True)


def pandas_subset(t: dict[str, pd.DataFrame], as_of: date, scores: pd.DataFrame) -> pd.DataFrame:
    """The SUBSET features written the straightforward pandas way (same rules, same data)."""
    from features.snapshot import params

    p = params(as_of)
    ts = pd.Timestamp(as_of)
    s365 = pd.Timestamp(p["start_365d"])
    e = t["entities"]
    exited = e["status"].isin(["deregistered", "revoked"]) & (e["status_date"].fillna(e["established"]) < ts)
    sp = e[(e["established"] <= ts) & (e["known_date"].isna() | (e["known_date"] < ts)) & ~exited].copy()
    out = pd.DataFrame({"uscc": sp["uscc"].to_numpy()}).set_index("uscc")
    out["entity_age_years"] = ((ts - sp.set_index("uscc")["established"]).dt.days / 365.25)
    pen = t["penalties"]
    rep = t["repairs"]
    rep = rep[(rep["repaired_date"] <= ts) & (rep["known_date"].fillna(rep["repaired_date"]) <= ts)]
    published = (pen["procedure"] != "simple") & (pen["sanctions"] != "warning")  # a warning alone: not published
    pen = pen[(pen["decided_date"] < ts) & (pen["known_date"] < ts) & ~pen["leniency"].fillna(False).astype(bool)
              & published & (pen["publicity_end"] > ts) & ~pen["penalty_id"].isin(rep["record_id"])]
    g = pen.groupby("uscc")
    out["penalty_in_effect_count"] = g.size()
    out["penalty_count_365d"] = pen[pen["decided_date"] >= s365].groupby("uscc").size()
    out["penalty_fine_yuan_in_effect"] = g["fine_amount"].sum()
    ab = t["abnormal_list"]
    ab = ab[(ab["listed_date"] < ts) & (ab["known_date"] < ts) & (ab["removed_date"].isna() | (ab["removed_date"] >= ts))]
    cur = pd.Series(1, index=ab["uscc"].unique())
    out["abnormal_list_current_flag"] = cur
    ar = t["annual_reports"]
    last, first = p["last_due_year"], p["first_due_year"]
    ar = ar[ar["filed_date"].notna() & (ar["filed_date"] < ts) & (ar["known_date"] < ts)
            & ar["year"].between(first, last)]
    est_year = sp.set_index("uscc")["established"].dt.year.clip(lower=first)
    due = (last - est_year + 1).clip(lower=0)
    ar = ar.merge(est_year.rename("fy").reset_index(), on="uscc")
    filed = ar[ar["year"] >= ar["fy"]].groupby("uscc").size()
    out["annual_report_missing_count_3y"] = due - filed.reindex(due.index).fillna(0)
    op = t["opinions"].merge(scores, on="opinion_id", how="left")
    pneg = np.where(op["vendor_sentiment"].isna(), op["negative_probability"],
                    (op["vendor_sentiment"] == "negative").astype(float))
    op = op[op["uscc"].notna() & (op["published_date"] < ts) & (op["known_date"] < ts) & (op["published_date"] >= s365)
            & (pneg >= p["negative_threshold"])]
    out["opinion_negative_count_365d"] = op.groupby("uscc").size()
    co = t["complaints"]
    co = co[(co["received_date"] < ts) & (co["known_date"] < ts) & (co["received_date"] >= s365)]
    out["complaint_count_365d"] = co.groupby("uscc").size()
    rel = t["relations"]
    rel = rel[(rel["known_date"] < ts) & (rel["start_date"].isna() | (rel["start_date"] < ts))
              & (rel["end_date"].isna() | (rel["end_date"] >= ts)) & rel["person_key"].notna()]
    rel = rel[["uscc", "person_key"]].drop_duplicates()
    size = rel.groupby("person_key").size()
    ok = size[(size >= 2) & (size <= p["person_group_cap"])].index
    r = rel[rel["person_key"].isin(ok)]
    pairs = r.merge(r, on="person_key", suffixes=("", "_o"))
    pairs = pairs[pairs["uscc"] != pairs["uscc_o"]][["uscc", "uscc_o"]].drop_duplicates()
    known = e[(e["established"] <= ts) & (e["known_date"].isna() | (e["known_date"] < ts))]["uscc"]
    pairs = pairs[pairs["uscc_o"].isin(known)]
    pairs["ab"] = pairs["uscc_o"].isin(cur.index).astype(float)
    ga = pairs.groupby("uscc")
    out["affiliate_count"] = ga.size()
    out["affiliate_abnormal_list_share"] = ga["ab"].mean()
    addr = sp[sp["address"].notna() & (sp["address"] != "")]
    n_at = addr.groupby("address")["uscc"].transform("size")
    out["address_other_entity_count"] = pd.Series((n_at - 1).to_numpy(), index=addr["uscc"].to_numpy())
    fill0 = [c for c in SUBSET if c not in ("entity_age_years", "affiliate_abnormal_list_share",
                                            "address_other_entity_count")]
    out[fill0] = out[fill0].fillna(0)
    return out[SUBSET].astype(float).sort_index()


def sql_subset(con, as_of: date) -> pd.DataFrame:
    """The same SUBSET through the production SQL: helper stages, the five dimensions involved, the columns."""
    import importlib

    from features import snapshot as S

    p = S._prepare(con, as_of)
    dims = ("attributes", "annual_report", "compliance", "opinion", "affiliates")
    for dim in dims:
        sql = S.sql_text(importlib.import_module(f"features.{dim}").SQL)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _d_{dim} AS {S.render(sql, p)}")
    owner = {f.name: f.dimension for f in S.all_features()}
    cols = ", ".join(f"d_{owner[c]}.{c}" for c in SUBSET)
    joins = " ".join(f"LEFT JOIN _d_{d} d_{d} ON d_{d}.uscc = s.uscc" for d in dims)
    return con.sql(f"SELECT s.uscc, {cols} FROM _spine s {joins}").df()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(path: str) -> dict:
    """Child process: snapshot (time, peak RSS), then the pandas subset (time, agreement)."""
    import duckdb

    from features import opinions
    from features.snapshot import build_snapshot

    con = duckdb.connect(path)
    t0 = time.perf_counter()
    scored = opinions.ensure_scores(con)
    t_scores = time.perf_counter() - t0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs, cpu = [], []
    for _ in range(2):
        t0, c0 = time.perf_counter(), _cpu()
        snap = build_snapshot(con, as_of=AS_OF)
        runs.append(time.perf_counter() - t0)
        cpu.append(_cpu() - c0)
    rss_snapshot = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), _cpu()
    sql_subset(con, AS_OF)
    t_sql_subset, cpu_sql_subset = time.perf_counter() - t0, _cpu() - c0
    t0 = time.perf_counter()
    tables = {name: con.table(name).df() for name in ("repairs", "abnormal_list", "annual_reports", "opinions",
                                                       "complaints", "relations")}
    tables["entities"] = as_known(con, "entities", "uscc", AS_OF)
    tables["penalties"] = as_known(con, "penalties", "penalty_id", AS_OF)
    scores = con.table("opinion_scores").df()[["opinion_id", "negative_probability"]]
    t_load = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu()
    ref = pandas_subset(tables, AS_OF, scores)
    t_pandas, cpu_pandas = time.perf_counter() - t0, _cpu() - c0
    ours = snap.frame.set_index("uscc")[SUBSET].astype(float).sort_index()
    agree = bool(ours.index.equals(ref.index)) and bool(np.allclose(ours.to_numpy(), ref.to_numpy(), equal_nan=True))
    return {"entities": snap.entities, "features": len(snap.feature_names), "opinion_scoring_s": round(t_scores, 2),
            "opinions_scored": scored, "snapshot_s": [round(r, 2) for r in runs],
            "snapshot_cpu_s": [round(c, 2) for c in cpu], "pandas_subset_cpu_s": round(cpu_pandas, 2),
            "snapshot_peak_rss_gib": round(rss_snapshot / 2**20, 2), "rss_before_snapshot_gib": round(rss0 / 2**20, 2),
            "pandas_subset_s": round(t_pandas, 2), "pandas_load_s": round(t_load, 2),
            "subset_features": len(SUBSET), "subset_values_agree": agree,
            "sql_subset_s": round(t_sql_subset, 2), "sql_subset_cpu_s": round(cpu_sql_subset, 2),
            "ratio_pandas_subset_over_sql_subset": round(t_pandas / t_sql_subset, 2),
            "cpu_ratio_pandas_subset_over_sql_subset": round(cpu_pandas / cpu_sql_subset, 2),
            "ratio_pandas_subset_over_full_snapshot": round(t_pandas / min(runs), 2),
            "cpu_ratio_pandas_subset_over_full_snapshot": round(cpu_pandas / min(cpu), 2),
            "load_average_1m": round(os.getloadavg()[0], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=34_000)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--revised-share", type=float, default=0.05,
                    help="share of entities and penalties with a revision that arrived after as_of")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        con = duckdb.connect(path)
        counts = make_district(con, entities=args.entities, seed=args.seed, revised_share=args.revised_share)
        con.close()
        t_gen = time.perf_counter() - t0
        child = subprocess.run([sys.executable, __file__, "--measure", path], capture_output=True, text=True,
                               check=False)
        if child.returncode:
            sys.stderr.write(child.stderr)
            raise SystemExit(child.returncode)
        result = json.loads(child.stdout.strip().splitlines()[-1])
    result = {"entities_generated": args.entities, "seed": args.seed, "as_of": AS_OF.isoformat(),
              "revised_share": args.revised_share,
              "generate_s": round(t_gen, 1), "rows": counts, **result}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"same {len(SUBSET)} features: SQL {result['sql_subset_s']:.2f} s vs pandas {result['pandas_subset_s']:.2f} s "
          f"= {result['ratio_pandas_subset_over_sql_subset']:.2f}× (CPU {result['cpu_ratio_pandas_subset_over_sql_subset']:.2f}×)")
    print(f"snapshot of {result['entities']} active entities × {result['features']} features: "
          f"best {min(result['snapshot_s']):.2f} s, peak RSS {result['snapshot_peak_rss_gib']:.2f} GiB; "
          f"pandas subset ({len(SUBSET)} features) {result['pandas_subset_s']:.2f} s "
          f"(+{result['pandas_load_s']:.2f} s load) = {result['ratio_pandas_subset_over_full_snapshot']:.2f}× "
          f"the full SQL snapshot (CPU-time ratio {result['cpu_ratio_pandas_subset_over_full_snapshot']:.2f}, "
          f"load average {result['load_average_1m']}); values agree: {result['subset_values_agree']}")


if __name__ == "__main__":
    main()
