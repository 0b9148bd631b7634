"""Service benchmark (loopback only, bounded): single-score latency at a fixed rate, closed-loop
throughput at fixed concurrency, and batch scores/s through ``POST /score``.

    .venv/bin/python bench/bench_service.py [--entities 34000] [--rate 100] [--duration 60]

Builds a throw-away home (toy model exported locally, one publication of ``--entities``), starts
``credit-risk serve`` on a free loopback port, drives it with aiohttp (installed with BentoML; far lighter
than httpx at high concurrency), prints the figures, stops it.
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


def prepare(home: Path, *, entities: int, seed: int) -> tuple[dict[str, str], list[str], list[dict]]:
    """A home with a locally exported toy model, one publication and keys; returns keys, codes, records."""
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
    publish(settings, as_of=as_of, actor="bench", model=model, snapshot=_Snap("bench-snap", as_of, big))
    keys = {role: create_key(settings, role=role, actor="bench")[1] for role in ("planner", "admin")}
    names = model.feature_names
    records = [{n: (None if (isinstance(v, float) and np.isnan(v)) else v) for n, v in zip(names, row, strict=True)}
               for row in big[names].head(10_000).itertuples(index=False)]
    return keys, big["uscc"].tolist(), records


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "CREDIT_RISK_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/credit-risk"), "serve", "--port", str(port), "--home", str(home)],
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


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def fixed_rate(url: str, key: str, codes: list[str], *, rate: float, duration: float, seed: int) -> dict:
    """Open loop: one single-item request every 1/rate seconds for ``duration`` seconds (aiohttp client)."""
    import aiohttp

    rng = np.random.default_rng(seed)
    lat: list[float] = []
    status: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base_url=url, headers=headers, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def one(code: str) -> None:
            t0 = time.perf_counter()
            async with session.post("/score", json={"items": [{"uscc": code}]}) as r:
                await r.read()
                status[r.status] = status.get(r.status, 0) + 1
            lat.append(1000 * (time.perf_counter() - t0))

        tasks = []
        start = time.perf_counter()
        n = int(rate * duration)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(codes[int(rng.integers(len(codes)))])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"requests": n, "achieved_rps": n / elapsed, "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
            "max_ms": max(lat), "status": status, "5xx": sum(v for k, v in status.items() if k >= 500)}


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


def _stop(signum, _frame) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=34_000)
    ap.add_argument("--rate", type=float, default=100.0, help="single-score requests per second")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds at the fixed rate")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20260101)
    args = ap.parse_args()
    os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "bench-not-secret")
    with tempfile.TemporaryDirectory(prefix="cr-bench-") as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        keys, codes, records = prepare(home, entities=args.entities, seed=args.seed)
        print(f"prepared home: {len(codes):,} published entities in {time.perf_counter() - t0:.1f} s", flush=True)
        port = _free_port()
        proc = start_server(home, port)
        url = f"http://127.0.0.1:{port}"
        try:
            out = {"entities": len(codes), "db": os.environ.get("CREDIT_RISK_DB_URL", "sqlite").split("@")[-1]}
            out["fixed_rate"] = asyncio.run(fixed_rate(url, keys["planner"], codes, rate=args.rate,
                                                       duration=args.duration, seed=args.seed))
            print("fixed rate", json.dumps(out["fixed_rate"]), flush=True)
            out["closed_loop"] = asyncio.run(closed_loop(url, keys["planner"], codes, concurrency=args.concurrency,
                                                         duration=15))
            print("closed loop", json.dumps(out["closed_loop"]), flush=True)
            by_code = [{"uscc": c} for c in codes[:args.batch]]
            out["batch_by_code"] = batches(url, keys["planner"], by_code, rounds=args.rounds)
            print("batch by code", json.dumps(out["batch_by_code"]), flush=True)
            live = [{"features": r} for r in records[:args.batch]]
            out["batch_live"] = batches(url, keys["planner"], live, rounds=max(1, args.rounds // 2))
            print("batch live", json.dumps(out["batch_live"]), flush=True)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
