"""Restriction-check benchmark: a batch of 10,000 credit codes (restricted, clean, unknown, a few invalid)
answered in process (``serving.restrictions.check_codes`` + JSON) and through the real service
(``POST /v1/restrictions`` with an external_dept key).

    .venv/bin/python bench/bench_restrictions.py [--entities 34000] [--codes 10000] [--rounds 7]

Builds a throw-away home: the simulated district (``synth``) ingested into the warehouse (which publishes the
service's read-only copy), a toy champion model (the service is ready only with one) and an external_dept key.
Checks the last simulated day. Prints the time to load one day's entries (once per copy and day), then the
median (and min/max) of ``--rounds`` batches in process and over HTTP, with and without a purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ON = date(2025, 12, 31)  # the last simulated day (synth --end default)


def prepare(home: Path, *, entities: int, seed: int) -> str:
    """Synth + ingest into ``home``, a toy model exported, an external_dept key; returns the key."""
    from core.cli import main
    from core.settings import Settings
    from serving.keys import create_key
    from serving.models import export_champion
    from training.dataset import from_frame
    from training.toy import TOY_FEATURES, toy_frame
    from training.train import train

    out = home.parent / "extract"
    t0 = time.perf_counter()
    assert main(["synth", "--out", str(out), "--entities", str(entities), "--seed", str(seed), "--home", str(home),
                 "--json"]) == 0
    t1 = time.perf_counter()
    assert main(["ingest", str(out), "--home", str(home), "--json"]) == 0
    t2 = time.perf_counter()
    print(f"synth {t1 - t0:.1f} s, ingest {t2 - t1:.1f} s", file=sys.stderr)
    settings = Settings.from_env(home)
    frame = toy_frame(entities=300, periods=6, seed=seed)
    model = train(from_frame(frame, id_col="uscc", time_col="as_of", label_col="label",
                             features=[dict(f) for f in TOY_FEATURES]), num_boost_round=20, seed=seed)
    model.meta["version"] = "bench-1"
    export_champion(model, settings)
    return create_key(settings, role="external_dept", actor="bench")[1]


def codes_mix(settings, *, n: int, seed: int) -> tuple[list[str], dict[str, int]]:
    """n codes: up to 30% restricted, 60% clean, 9% unknown (valid codes no entity has), 1% bad check character."""
    from core.uscc import complete
    from serving.restrictions import RestrictionIndex, measures_for

    state = RestrictionIndex(settings).entries(ON)
    restricted = sorted(u for u, e in state.entries.items() if u in state.statuses and measures_for(e))
    clean = sorted(set(state.statuses) - set(state.entries))
    rng = np.random.default_rng(seed)
    k_r = min(len(restricted), int(n * 0.3))
    k_u, k_i = int(n * 0.09), int(n * 0.01)
    k_c = n - k_r - k_u - k_i
    picked = list(rng.choice(restricted, k_r)) + list(rng.choice(clean, k_c))
    picked += [complete(f"91990000{i:09d}") for i in range(k_u)]
    picked += [c[:17] + ("0" if c[17] != "0" else "1") for c in rng.choice(clean, k_i)]
    rng.shuffle(picked)
    return [str(c) for c in picked], {"restricted": k_r, "clean": k_c, "unknown": k_u, "invalid": k_i,
                                      "restricted_entities": len(restricted), "entities": len(state.statuses)}


def _stats(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values) * 1000, 1), "min_ms": round(min(values) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1), "rounds": len(values)}


def in_process(settings, codes: list[str], *, rounds: int, purpose: str | None) -> dict:
    from serving.restrictions import RestrictionIndex, check_codes

    index = RestrictionIndex(settings)
    t0 = time.perf_counter()
    index.entries(ON)
    load = time.perf_counter() - t0
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        body = check_codes(settings, codes, purpose=purpose, on=ON, index=index).model_dump_json()
        times.append(time.perf_counter() - t)
    return {"load_day_s": round(load, 3), "bytes": len(body), **_stats(times)}


def over_http(url: str, key: str, codes: list[str], *, rounds: int, purpose: str | None) -> dict:
    import httpx

    payload = {"codes": codes, "as_of": ON.isoformat(), **({"purpose": purpose} if purpose else {})}
    times = []
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
        first = client.post(f"{url}/v1/restrictions", json=payload)  # loads the day's entries once
        first.raise_for_status()
        for _ in range(rounds):
            t = time.perf_counter()
            r = client.post(f"{url}/v1/restrictions", json=payload)
            r.raise_for_status()
            times.append(time.perf_counter() - t)
    return {"counts": r.json()["counts"], **_stats(times)}


def main() -> None:
    from bench_service import _free_port, start_server

    from core.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entities", type=int, default=34_000)
    ap.add_argument("--codes", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seed", type=int, default=20260101)
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    with tempfile.TemporaryDirectory(prefix="bench-restrict-") as tmp:
        home = Path(tmp) / "home"
        key = prepare(home, entities=args.entities, seed=args.seed)
        settings = Settings.from_env(home)
        codes, mix = codes_mix(settings, n=args.codes, seed=args.seed)
        result = {"entities": args.entities, "codes": len(codes), "mix": mix, "load_avg": os.getloadavg(),
                  "in_process": in_process(settings, codes, rounds=args.rounds, purpose=None),
                  "in_process_credit": in_process(settings, codes, rounds=args.rounds, purpose="credit")}
        port = _free_port()
        proc = start_server(home, port)
        try:
            url = f"http://127.0.0.1:{port}"
            result["http"] = over_http(url, key, codes, rounds=args.rounds, purpose=None)
            result["http_credit"] = over_http(url, key, codes, rounds=args.rounds, purpose="credit")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        result["load_avg_after"] = os.getloadavg()
        print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
