"""Service benchmark (loopback only, bounded): latency at fixed rates (1-item and 100-item ``/score``
requests, swept to find the highest rate that keeps p99 within target with zero non-2xx), closed-loop
throughput, a 10,000-code mixed batch (1% closed, 1% unknown, 1% bad check characters), batch scores/s,
and the service's garbage-collector pauses (from its ``/metrics``).

    .venv/bin/python bench/bench_service.py [--entities 34000] [--rates 250,500,750] [--duration 20]
    .venv/bin/python bench/bench_service.py --grow-to 1000000   # the same, served from a 1M publication

``--grow-to N`` grows the publication to N entities after it is made (bench/grow_publication.py: copies of its
rows with new credit codes, written straight into the operational DB). The service's resident memory (every
process of ``credit-risk serve``, from /proc) is read once ready and after the runs.

Builds a throw-away home (toy model exported locally, one publication of ``--entities``, 1% of them
closed), starts ``credit-risk serve`` on a free loopback port, drives it with aiohttp (installed with
BentoML; far lighter than httpx at high concurrency), prints the figures, stops it.
``CREDIT_RISK_GC_FREEZE=0`` in the environment runs the service without its start-up ``gc.freeze()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class _Snap:
    snapshot_id: str
    as_of: date
    frame: object


def prepare(home: Path, *, entities: int, seed: int) -> tuple[dict[str, str], list[str], list[dict], list[str]]:
    """A home with a locally exported toy model, one publication (1% of the entities closed) and keys;
    returns keys, published codes, feature records and closed codes."""
    import pandas as pd

    from core.settings import Settings
    from serving.keys import create_key
    from serving.models import export_champion
    from serving.publish import publish
    from training.dataset import from_frame
    from training.toy import TOY_FEATURES, toy_frame
    from training.train import train

    settings = Settings.from_env(home)
    frame = toy_frame(entities=600, periods=8, seed=seed)
    model = train(from_frame(frame, id_col="uscc", time_col="as_of", label_col="label",
                             features=[dict(f) for f in TOY_FEATURES]), num_boost_round=60, seed=seed)
    model.meta["version"] = "bench-1"
    export_champion(model, settings)
    big = toy_frame(entities=entities, periods=1, seed=seed + 1).drop(columns=["label"])
    big = big.drop_duplicates("uscc").reset_index(drop=True)
    as_of = big["as_of"].iloc[0]
    closed = big["uscc"].iloc[-max(1, len(big) // 100):].tolist()
    big = big[~big["uscc"].isin(closed)].reset_index(drop=True)
    publish(settings, as_of=as_of, actor="bench", model=model, snapshot=_Snap("bench-snap", as_of, big),
            closed=pd.DataFrame({"uscc": closed, "status": "deregistered", "status_date": pd.Timestamp(as_of)}))
    keys = {role: create_key(settings, role=role, actor="bench")[1] for role in ("planner", "admin")}
    names = model.feature_names
    records = [{n: (None if (isinstance(v, float) and np.isnan(v)) else v) for n, v in zip(names, row, strict=True)}
               for row in big[names].head(10_000).itertuples(index=False)]
    return keys, big["uscc"].tolist(), records, closed


def _published_codes(home: Path, publication_id: str) -> list[str]:
    import sqlalchemy as sa

    from core.opdb import engine
    from core.settings import Settings
    from serving.publish import PUBLISHED_SCORES as s

    with engine(Settings.from_env(home)).connect() as conn:
        return [u for (u,) in conn.execute(sa.select(s.c.uscc).where(s.c.publication_id == publication_id))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "CREDIT_RISK_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "credit-risk"), "serve", "--port", str(port), "--home", str(home)],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(home / "serve.log", "w"),  # noqa: SIM115 - lives as long as the server
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"service did not become ready; see {home / 'serve.log'}")


def rss_mib(pid: int) -> dict[str, float]:
    """Resident memory (MiB) of ``pid`` and each of its descendants, by process id (Linux /proc)."""
    out: dict[str, float] = {}
    pending = [pid]
    while pending:
        p = pending.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        out[str(p)] = round(rss / 1024, 1)
        pending += [int(k) for k in kids]
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def fixed_rate(url: str, key: str, codes: list[str], *, rate: float, duration: float, seed: int,
                     batch: int = 1) -> dict:
    """Open loop: one ``batch``-item request every 1/rate seconds for ``duration`` seconds (aiohttp client)."""
    import aiohttp

    rng = np.random.default_rng(seed)
    lat: list[float] = []
    status: dict[int, int] = {}  # 0: timed out or connection failed
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base_url=url, headers=headers, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def one(picked: list[str]) -> None:
            t0 = time.perf_counter()
            try:
                async with session.post("/score", json={"items": [{"uscc": c} for c in picked]}) as r:
                    await r.read()
                    status[r.status] = status.get(r.status, 0) + 1
            except (TimeoutError, aiohttp.ClientError):  # the service fell too far behind: counted, not fatal
                status[0] = status.get(0, 0) + 1
            lat.append(1000 * (time.perf_counter() - t0))

        tasks = []
        start = time.perf_counter()
        n = int(rate * duration)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one([codes[int(j)] for j in rng.integers(len(codes), size=batch)])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"rate": rate, "batch": batch, "requests": n, "achieved_rps": round(n / elapsed, 1),
            "p50_ms": round(_pct(lat, 50), 1), "p99_ms": round(_pct(lat, 99), 1), "max_ms": round(max(lat), 1),
            "status": status, "non_2xx": sum(v for k, v in status.items() if not 200 <= k < 300)}


async def closed_loop(url: str, key: str, codes: list[str], *, concurrency: int, duration: float) -> dict:
    """Closed loop: ``concurrency`` clients sending single-item requests back to back."""
    import aiohttp

    lat: list[float] = []
    status: dict[int, int] = {}
    stop = time.perf_counter() + duration
    async with aiohttp.ClientSession(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def worker(w: int) -> None:
            i = w
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with session.post("/score", json={"items": [{"uscc": codes[i % len(codes)]}]}) as r:
                    await r.read()
                    status[r.status] = status.get(r.status, 0) + 1
                lat.append(1000 * (time.perf_counter() - t0))
                i += concurrency

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {"concurrency": concurrency, "rps": len(lat) / elapsed, "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
            "status": status}


def batches(url: str, key: str, items: list[dict], *, rounds: int) -> dict:
    """Sequential batch requests; scores per second over all rounds."""
    import httpx

    status: dict[int, int] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        client.post("/score", json={"items": items[:10]})
        t0 = time.perf_counter()
        for _ in range(rounds):
            r = client.post("/score", json={"items": items})
            status[r.status_code] = status.get(r.status_code, 0) + 1
        elapsed = time.perf_counter() - t0
    return {"batch": len(items), "rounds": rounds, "scores_per_s": rounds * len(items) / elapsed,
            "ms_per_batch": 1000 * elapsed / rounds, "status": status}


def mixed_batch(url: str, key: str, codes: list[str], closed: list[str], *, rounds: int, seed: int) -> dict:
    """10,000 codes: 97% published, 1% closed, 1% unknown (valid), 1% failing their check character."""
    import httpx

    from core import uscc as uscc_check

    rng = np.random.default_rng(seed)
    unknown = [uscc_check.complete("93" + "".join(rng.choice(list("0123456789"), 15))) for _ in range(100)]
    bad = [c[:17] + ("0" if c[17] != "0" else "1") for c in rng.choice(codes, 100)]
    picked = list(rng.choice(codes, 9_700)) + [closed[i % len(closed)] for i in range(100)] + unknown + bad
    items = [{"uscc": str(picked[i])} for i in rng.permutation(len(picked))]
    times, counts = [], None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        for _ in range(rounds):
            t0 = time.perf_counter()
            r = client.post("/score", json={"items": items})
            times.append(1000 * (time.perf_counter() - t0))
            assert r.status_code == 200, r.text[:300]
            counts = r.json()["counts"]
    return {"items": len(items), "rounds": rounds, "median_ms": round(float(np.median(times)), 1),
            "max_ms": round(max(times), 1), "counts": counts}


def gc_pauses(url: str, key: str) -> dict:
    """The service's own garbage-collector figures (serving.metrics.GcPauses) from /metrics."""
    import httpx

    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=30).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("credit_risk_gc_frozen_objects"):
            out["frozen_objects"] = int(float(line.split(" ")[1]))
        elif line.startswith("credit_risk_gc_") and 'generation="2"' in line:
            name, value = line.split(" ")
            out[name.split("{")[0].removeprefix("credit_risk_gc_")] = round(float(value), 4)
    return out


def _sustainable(runs: list[dict], target_ms: float) -> float | None:
    ok = [r["rate"] for r in runs if r["non_2xx"] == 0 and r["p99_ms"] <= target_ms]
    return max(ok) if ok else None


def _stop(signum, _frame) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=34_000)
    ap.add_argument("--rates", default="100,200,300,500,750", help="1-item requests per second to sweep (ascending)")
    ap.add_argument("--rates-100", default="10,25,50,100", help="100-item requests per second to sweep (ascending)")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds at each fixed rate")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--grow-to", type=int, default=0, help="grow the publication to this many entities first")
    args = ap.parse_args()
    os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "bench-not-secret")
    with tempfile.TemporaryDirectory(prefix="cr-bench-") as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        keys, codes, records, closed = prepare(home, entities=args.entities, seed=args.seed)
        if args.grow_to > len(codes):
            from bench.grow_publication import grow
            from core.settings import Settings

            grown = grow(Settings.from_env(home), args.grow_to)
            codes = _published_codes(home, grown["publication_id"])
        print(f"prepared home: {len(codes):,} published entities in {time.perf_counter() - t0:.1f} s", flush=True)
        port = _free_port()
        proc = start_server(home, port)
        url = f"http://127.0.0.1:{port}"
        try:
            out: dict = {"rss_mib_ready": rss_mib(proc.pid), "entities": len(codes), "db": os.environ.get("CREDIT_RISK_DB_URL", "sqlite").split("@")[-1],
                         "gc_freeze": os.environ.get("CREDIT_RISK_GC_FREEZE", "1") != "0",
                         "load_avg_start": os.getloadavg()[0]}
            asyncio.run(fixed_rate(url, keys["planner"], codes, rate=100, duration=3, seed=args.seed))  # warm up
            gc_before = gc_pauses(url, keys["admin"])
            for label, rates, batch, target in (("single", args.rates, 1, 50.0),
                                                ("batch100", args.rates_100, 100, 150.0)):
                runs = []
                for rate in (float(r) for r in rates.split(",")):
                    run = asyncio.run(fixed_rate(url, keys["planner"], codes, rate=rate, duration=args.duration,
                                                 seed=args.seed, batch=batch))
                    runs.append(run)
                    print(label, json.dumps(run), flush=True)
                    if run["non_2xx"] or run["achieved_rps"] < 0.9 * rate:
                        break  # past what the service can take: higher rates only queue up
                out[label] = {"runs": runs, "target_p99_ms": target,
                              "max_sustainable_rate": _sustainable(runs, target)}
            gc_after = gc_pauses(url, keys["admin"])
            out["gc_gen2_during_fixed_rates"] = {
                "collections": gc_after["collections_total"] - gc_before["collections_total"],
                "pause_seconds": round(gc_after["pause_seconds_total"] - gc_before["pause_seconds_total"], 3),
                "frozen_objects": gc_after.get("frozen_objects")}
            print("gc generation 2 during the fixed rates", json.dumps(out["gc_gen2_during_fixed_rates"]), flush=True)
            out["closed_loop"] = asyncio.run(closed_loop(url, keys["planner"], codes, concurrency=args.concurrency,
                                                         duration=10))
            print("closed loop", json.dumps(out["closed_loop"]), flush=True)
            out["mixed_batch"] = mixed_batch(url, keys["planner"], codes, closed, rounds=args.rounds, seed=args.seed)
            print("mixed batch", json.dumps(out["mixed_batch"]), flush=True)
            by_code = [{"uscc": c} for c in codes[:args.batch]]
            out["batch_by_code"] = batches(url, keys["planner"], by_code, rounds=args.rounds)
            print("batch by code", json.dumps(out["batch_by_code"]), flush=True)
            live = [{"features": r} for r in records[:args.batch]]
            out["batch_live"] = batches(url, keys["planner"], live, rounds=max(1, args.rounds // 2))
            print("batch live", json.dumps(out["batch_live"]), flush=True)
            out["load_avg_end"] = os.getloadavg()[0]
            out["rss_mib_end"] = rss_mib(proc.pid)
            print("rss MiB ready", json.dumps(out["rss_mib_ready"]), "end", json.dumps(out["rss_mib_end"]), flush=True)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
