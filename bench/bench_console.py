"""Console page latencies (median / p95) on a real `credit-risk serve` over a built home (e.g. `credit-risk demo`).

    .venv/bin/python bench/bench_console.py --home .credit-risk --rounds 30
    .venv/bin/python bench/bench_console.py --home /path/to/1M/home --rounds 10 --csv 1

Signs in as a fresh admin user, warms every page once, then requests each page ``--rounds`` times in turn
over one keep-alive connection; the baseline is the API's own tier list (`GET /v1/tiers`, 50 rows) in the
same run. Prints one line per page and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pages(settings) -> dict[str, str]:
    import sqlalchemy as sa

    from console import queries
    from core.opdb import engine
    from serving.lookup import latest_publication
    from serving.publish import PUBLISHED_SCORES

    with engine(settings).connect() as conn:
        pub = latest_publication(conn)
        top = conn.execute(sa.select(PUBLISHED_SCORES.c.uscc).where(
            PUBLISHED_SCORES.c.publication_id == pub["publication_id"])
            .order_by(PUBLISHED_SCORES.c.probability.desc()).limit(1)).scalar_one()
        plans = queries.plans(conn, limit=1)
        towns = queries.distinct_values(conn, pub["publication_id"], "town_code")
        industries = queries.distinct_values(conn, pub["publication_id"], "industry_code")
    name = queries.names(settings, [top]).get(top, "")
    pages = {"overview": "/", "tiers": "/tiers", "tiers D": "/tiers?tier=D",
             "tiers search": f"/tiers?q={name[-4:] or top[:6]}", "tiers page 20": "/tiers?page=20",
             "tiers town": f"/tiers?town_code={towns[-1]}", "tiers industry": f"/tiers?industry_code={industries[0]}",
             "tiers individual, C": "/tiers?entity_type=individual&tier=C",
             "tiers town + B, page 5": f"/tiers?town_code={towns[0]}&tier=B&page=5",
             "entity": f"/entities/{top}", "plans": "/plans", "repair": "/repair", "model": "/model",
             "opinion ledger": "/opinions/ledger", "opinion ledger, overdue": "/opinions/ledger?overdue=1",
             "restriction check": f"/restrictions?uscc={top}"}
    if plans:
        pages["plan"] = f"/plans/{plans[0]['plan_id']}"
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a built home (warehouse, MLflow, operational DB)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--csv", type=int, default=3, help="full CSV exports of the tier list to time")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    import httpx

    from console.accounts import create_user
    from core.settings import Settings
    from serving.keys import create_key

    settings = Settings.from_env(args.home)
    name, password = f"bench.{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    create_user(settings, name=name, role="admin", password=password, actor="bench")
    _, key = create_key(settings, role="admin", label="bench_console", actor="bench")
    pages = _pages(settings)
    port = _free_port()
    env = {**os.environ, "CREDIT_RISK_HOME": str(settings.home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "credit-risk"), "serve", "--port", str(port),
                             "--home", str(settings.home)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("service did not start")
            time.sleep(0.5)
        client = httpx.Client(base_url=f"{base}/console", timeout=120)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"csrf": token, "name": name, "password": password})
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        timings: dict[str, list[float]] = {p: [] for p in pages} | {"baseline: GET /v1/tiers": [], "tiers.csv": []}
        for label, path in list(pages.items()):  # warm-up: first loads of names, mlflow, caches
            status = client.get(path).status_code
            if status != 200:  # e.g. the bench_features generator's ids are not valid credit codes
                print(f"skipped {label} ({path}): status {status}", file=sys.stderr)
                del pages[label], timings[label]
        for _ in range(args.rounds):
            for label, path in pages.items():
                t = time.perf_counter()
                r = client.get(path)
                timings[label].append(1000 * (time.perf_counter() - t))
                assert r.status_code == 200, (path, r.status_code)
            t = time.perf_counter()
            assert api.get("/v1/tiers?page_size=50").status_code == 200
            timings["baseline: GET /v1/tiers"].append(1000 * (time.perf_counter() - t))
        for _ in range(args.csv):
            t = time.perf_counter()
            try:
                status = client.get("/tiers.csv", timeout=900).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if status != 200:
                print(f"tiers.csv failed: {status} after {time.perf_counter() - t:.0f} s", file=sys.stderr)
                continue
            timings["tiers.csv"].append(1000 * (time.perf_counter() - t))
        timings = {k: v for k, v in timings.items() if v}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    base_median = statistics.median(timings["baseline: GET /v1/tiers"])
    summary = {}
    for label, values in timings.items():
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
        summary[label] = {"median_ms": round(statistics.median(values), 1), "p95_ms": round(p95, 1),
                          "vs_baseline": round(statistics.median(values) / base_median, 1), "n": len(values)}
        print(f"{label:<26} median {summary[label]['median_ms']:>8.1f} ms   p95 {p95:>8.1f} ms   "
              f"×{summary[label]['vs_baseline']:<6} (n={len(values)})")
    print(json.dumps({"home": str(settings.home), "rounds": args.rounds, "pages": summary}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
