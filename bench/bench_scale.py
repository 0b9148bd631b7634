"""Benchmark: the monthly cycle at 1M, 3M and 10M entities on one machine, time and peak RSS per step.

Usage:
    .venv/bin/python bench/bench_scale.py --entities 1000000            # district under /tmp/scale1000000
    .venv/bin/python bench/bench_scale.py --entities 3000000
    .venv/bin/python bench/bench_scale.py --entities 10000000 --dir /tmp/scale10m
    .venv/bin/python bench/bench_scale.py --entities 10000000 --dir /tmp/scale10m --timed-again  # the timed month only
    .venv/bin/python bench/bench_scale.py --fit 1000000 3000000         # the fitted growth of recorded runs

The district's warehouse is written once by the vectorised generator of ``bench_features.py`` (a first champion
is trained on catalog-shaped rows) and reused by later runs (``--dir`` keeps it; the operational DB is made new
for every run). Each step then runs in its own child process, so that its peak RSS is its own
(``os.wait4``): the month's drop is ingested (a drop of new penalty, inspection and complaint records for the
month, written as extracts by this script), then the baseline month (snapshot, publish) and the timed month
(snapshot → score and publish → monitor). Figures go to ``<dir>/scale.json`` (one row per run) and stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))  # BENCH_CODE: measure another checkout
SEED = 20260101
BASELINE, TIMED = date(2025, 6, 1), date(2025, 7, 1)
STEPS = ("snapshot_base", "publish_base", "ingest", "snapshot", "publish", "monitor")


def _env() -> None:
    os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "bench-key-not-secret")
    for k in ("MLFLOW_DISABLE_TELEMETRY", "BENTOML_DO_NOT_TRACK", "DO_NOT_TRACK"):
        os.environ.setdefault(k, "true")


def _settings(root: Path):
    from core.settings import Settings

    os.environ["CREDIT_RISK_DB_URL"] = f"sqlite:///{root / 'run' / 'operational.db'}"
    os.environ["CREDIT_RISK_MLFLOW_URI"] = f"sqlite:///{root / 'run' / 'mlflow.db'}"
    return Settings.from_env(root / "home")


def setup(root: Path, entities: int) -> float:
    """Write the warehouse and the champion once (reused when ``<dir>/ready`` exists)."""
    import duckdb


    if (root / "ready").exists():
        return 0.0
    start = time.perf_counter()
    spec = importlib.util.spec_from_file_location("bench_features", Path(__file__).parent / "bench_features.py")
    bench_features = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_features)
    settings = _settings(root)
    settings.ensure_home()
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        con.execute(f"SET temp_directory = '{root / 'duckdb-tmp'}'")
        step = 1_000_000  # the generator holds a slice in pandas: write big districts in slices of entities
        for lo in range(0, entities, step):
            bench_features.make_district(con, entities=min(step, entities - lo), seed=SEED + lo // step,
                                         prefix=f"S{lo // step}" if entities > step else "")
        _score_opinions(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    bench_features.export_catalog_champion(settings, seed=SEED)
    (root / "ready").write_text(str(entities))
    return time.perf_counter() - start


def _score_opinions(con) -> None:
    """The generator's items have six titles, too few for the default opinion classifier: score them by keyword
    once (the snapshot then finds every item scored)."""
    con.execute("CREATE TABLE IF NOT EXISTS opinion_scores (opinion_id VARCHAR, negative_probability DOUBLE, "
                "model_id VARCHAR)")
    con.execute("DELETE FROM opinion_scores")
    con.execute("INSERT INTO opinion_scores SELECT opinion_id, CASE WHEN regexp_matches(title, '投诉|查处|变质') "
                "THEN 0.9 ELSE 0.1 END, 'bench-keywords' FROM opinions WHERE vendor_sentiment IS NULL")


def write_drop(root: Path, month: date) -> Path:
    """A month's drop: new penalty decisions, inspections and complaints of the month for 1% of the entities,
    as the extracts ingest reads (features.sources), with codes of entities already in the warehouse."""
    import duckdb

    from features.sources import SOURCES

    drop = root / f"drop-{month:%Y-%m}"
    if (drop / "done").exists():
        return drop
    drop.mkdir(parents=True, exist_ok=True)
    settings = _settings(root)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for name in ("penalties", "inspections", "complaints"):
            key = SOURCES[name].key[0]
            have = set(con.sql(f'SELECT * FROM "{name}" LIMIT 0').columns)
            cols = [c.name for c in SOURCES[name].columns if c.name in have]
            date_cols = [c for c in cols if c.endswith("_date") or c in ("decided_date", "known_date")]
            shift = ", ".join(
                (f"'D{month:%Y%m}' || \"{c}\" AS \"{c}\"" if c == key else
                 f"CAST(DATE '{month.isoformat()}' + INTERVAL (hash(\"{cols[0]}\") % 27) DAY AS DATE) AS \"{c}\""
                 if c in date_cols else f'"{c}"') for c in cols)
            con.execute(f"COPY (SELECT {shift} FROM \"{name}\" USING SAMPLE 1 PERCENT (bernoulli, 7)) "
                        f"TO '{drop / (name + '.csv')}' (HEADER)")
    finally:
        con.close()
    (drop / "done").write_text("ok")
    return drop


# ----------------------------------------------------------------------------------------- child steps
def child(step: str, root: Path) -> dict:
    from features.warehouse import connect

    settings = _settings(root)
    as_of = BASELINE if step.endswith("_base") else TIMED
    out: dict = {}
    if step == "ingest":
        from features.ingest import ingest

        summary = ingest(settings, write_drop(root, TIMED), actor="bench")
        out["loaded"] = sum(summary.get("loaded", {}).values())
    elif step.startswith("snapshot"):
        from features.snapshot import build_snapshot

        con = connect(settings)
        try:
            snap = build_snapshot(con, as_of=as_of)
        finally:
            con.close()
        out = {"snapshot_id": snap.snapshot_id, "entities": snap.entities}
    elif step.startswith("publish"):
        from features.snapshot import load_snapshot
        from serving.models import load_champion
        from serving.publish import publish

        sid = json.loads((root / "run" / f"{step.replace('publish', 'snapshot')}.json").read_text())["snapshot_id"]
        con = connect(settings)
        try:
            snap = load_snapshot(con, sid)
        finally:
            con.close()
        res = publish(settings, as_of=as_of, actor="bench", model=load_champion(settings).model, snapshot=snap)
        out = {"publication_id": res["publication_id"], "entities": res["entity_count"],
               "tier_counts": res["tier_counts"], "migration": res["migration"]}  # the monitor reads it, as in a cycle
    elif step == "monitor":
        from cycle.monitor import monitor
        from features.snapshot import load_snapshot

        pub = json.loads((root / "run" / "publish.json").read_text())
        sid = json.loads((root / "run" / "snapshot.json").read_text())["snapshot_id"]
        con = connect(settings)
        try:
            snap = load_snapshot(con, sid)
        finally:
            con.close()
        res = monitor(settings, as_of=TIMED, publication=pub, snapshot=snap)
        out = {"psi_score": res["psi_score"], "continuity": res["continuity"],
               "features_drifting": len(res["features_drifting"]), "jumpers": res["jumpers"]["count"]}
    (root / "run" / f"{step}.json").write_text(json.dumps(out, default=str))
    return out


def _tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants now (a publication's worker processes)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, total, grown = {pid}, 0, True
    while grown:
        grown = False
        for p, parent in parents.items():
            if parent in tree and p not in tree:
                tree.add(p)
                grown = True
    for p in tree:
        with contextlib.suppress(OSError):  # ended meanwhile
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def _run_child(args: list[str]) -> tuple[float, float, float]:
    """Run one step in a child process: wall seconds, peak RSS (GiB: the highest of the child's own peak and the
    sum over the child and its worker processes, sampled four times a second) and CPU seconds (user + system of
    the child and the workers it waited for; on a shared machine the CPU time is the steadier figure)."""
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.25):
            peak[0] = max(peak[0], _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"step {args} failed with exit code {proc.returncode}")
    rss = max(usage.ru_maxrss * 1024, peak[0]) / 2**30
    return time.perf_counter() - start, rss, usage.ru_utime + usage.ru_stime


def fit(rows: list[dict]) -> dict:
    """Least-squares fit of log(time) and log(RSS) against log(entities): the growth exponents."""
    out = {}
    n = np.log([r["entities"] for r in rows])
    for key in ("cycle_seconds", "cycle_cpu_seconds", "cycle_peak_rss_gib"):
        y = np.log([r[key] for r in rows])
        slope, intercept = np.polyfit(n, y, 1) if len(rows) > 1 else (1.0, y[0] - n[0])
        out[key] = {"exponent": round(float(slope), 3),
                    "at_10m": round(float(np.exp(intercept + slope * np.log(10_000_000))), 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, help="working folder (default /tmp/scale<entities>, kept)")
    ap.add_argument("--label", default="", help="a name for this run in scale.json (e.g. the branch)")
    ap.add_argument("--fit", nargs="*", help="fit the growth of the recorded runs of these sizes (their default "
                    "folders) or of these scale.json files")
    ap.add_argument("--timed-again", action="store_true", help="run only the timed month again, from the state "
                    "saved after the last run's baseline month (e.g. on a quieter machine)")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    args = ap.parse_args()
    _env()
    root = args.dir or Path(f"/tmp/scale{args.entities}")
    if args.step:
        child(args.step, root)
        return
    if args.fit:
        rows = []
        for n in args.fit:
            path = Path(f"/tmp/scale{n}") / "scale.json" if n.isdigit() else Path(n)
            recorded = [json.loads(line) for line in path.read_text().splitlines()]
            rows.append([r for r in recorded if r.get("label", "") == args.label][-1])
        print(json.dumps(fit(rows), indent=1))
        return
    root.mkdir(parents=True, exist_ok=True)
    setup_s = 0.0
    if not (root / "ready").exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import bench_scale as b; "
                        "b._env(); from pathlib import Path; b.setup(Path(sys.argv[2]), int(sys.argv[3]))",
                        str(Path(__file__).parent), str(root), str(args.entities)], check=True, cwd=ROOT)
        setup_s = time.perf_counter() - t0
    run = root / "run"
    import shutil

    base = root / "after-baseline"  # the warehouse and run folder as the baseline month left them
    warehouse = _settings(root).warehouse_path
    copies = warehouse.parent / "publications"  # the publications' columnar copies go with the operational DB
    shutil.rmtree(run, ignore_errors=True)
    shutil.rmtree(copies, ignore_errors=True)
    if args.timed_again:
        if not (base / "done").exists():
            raise SystemExit(f"--timed-again: no saved baseline month under {base}; run without it first")
        shutil.copytree(base / "run", run)
        shutil.copytree(base / "publications", copies)
        shutil.copyfile(base / warehouse.name, warehouse)
    else:
        run.mkdir()
    steps = STEPS[STEPS.index("ingest"):] if args.timed_again else STEPS
    figures: dict = {"label": args.label, "entities": args.entities, "setup_seconds": round(setup_s, 1),
                     "timed_again": args.timed_again, "load_average_start": round(os.getloadavg()[0], 2), "steps": {}}
    for step in steps:
        if step == "ingest" and not args.timed_again:
            shutil.rmtree(base, ignore_errors=True)
            shutil.copytree(run, base / "run")
            shutil.copytree(copies, base / "publications")
            shutil.copyfile(warehouse, base / warehouse.name)
            (base / "done").write_text("ok")
        seconds, rss, cpu = _run_child(["--step", step, "--dir", str(root), "--entities", str(args.entities)])
        figures["steps"][step] = {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                                  "peak_rss_gib": round(rss, 2), "load_average": round(os.getloadavg()[0], 2)}
        print(f"{step:<14} {seconds:8.1f} s  {cpu:8.1f} s CPU  {rss:6.2f} GiB", flush=True)
    timed = ("ingest", "snapshot", "publish", "monitor")
    figures["cycle_seconds"] = round(sum(figures["steps"][s]["seconds"] for s in timed), 1)
    figures["cycle_cpu_seconds"] = round(sum(figures["steps"][s]["cpu_seconds"] for s in timed), 1)
    figures["cycle_peak_rss_gib"] = max(figures["steps"][s]["peak_rss_gib"] for s in timed)
    figures["published"] = json.loads((run / "publish.json").read_text())["entities"]
    figures["monitor"] = json.loads((run / "monitor.json").read_text())
    figures["load_average_end"] = round(os.getloadavg()[0], 2)
    with open(root / "scale.json", "a") as fh:
        fh.write(json.dumps(figures, default=str) + "\n")
    print(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
