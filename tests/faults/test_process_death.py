"""The service's processes die cleanly: kill -9 of serve or of its worker, SIGTERM with requests in flight,
and no acknowledged decision without its audit row."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import date, timedelta

import httpx
import pytest
import sqlalchemy as sa

from core.opdb import engine

pytestmark = pytest.mark.slow  # a real service, killed and restarted: about a minute each


def test_kill_9_of_serve_stops_its_worker_and_a_restart_binds_the_same_port(district, serve, tmp_path):
    settings = district.home(tmp_path)
    svc = serve(settings)
    worker = svc.worker()
    os.kill(svc.proc.pid, signal.SIGKILL)
    svc.proc.wait(timeout=10)
    assert svc.gone(worker, timeout=45), "the worker outlived credit-risk serve"
    assert svc.port_free()
    svc.start()  # same home, same port
    assert httpx.get(f"{svc.url}/readyz", timeout=10).status_code == 200
    assert svc.worker() != worker
    svc.stop()
    assert svc.port_free()


def test_kill_9_of_the_worker_brings_a_new_worker_and_the_service_answers_again(district, serve, tmp_path):
    settings = district.home(tmp_path)
    svc = serve(settings)
    worker = svc.worker()
    os.kill(worker, signal.SIGKILL)
    assert svc.gone(worker, timeout=10)
    svc.wait_ready(timeout=90)
    fresh = svc.worker()
    assert fresh != worker and svc.proc.poll() is None
    r = httpx.get(f"{svc.url}/v1/tiers?page_size=1", headers=svc.headers("planner"), timeout=30)
    assert r.status_code == 200 and r.json()["total"] > 0
    svc.stop()
    assert svc.gone(fresh, timeout=30) and svc.port_free()


def test_sigterm_lets_requests_in_flight_finish(district, serve, tmp_path):
    settings = district.home(tmp_path)
    svc = serve(settings)
    with engine(settings).connect() as conn:
        usccs = [r[0] for r in conn.execute(sa.text("SELECT uscc FROM published_scores LIMIT 8"))]
    results: list[tuple[float, int | str]] = []
    clients = [httpx.Client(base_url=svc.url, timeout=60, headers=svc.headers("repair_officer")) for _ in usccs]
    for c in clients:  # connected (keep-alive) before the test starts, so each request is sent at once
        assert c.get("/healthz").status_code == 200

    def slow_call(c: httpx.Client, u: str) -> None:  # a what-if computes the entity's features
        try:
            r = c.get(f"/v1/repair/whatif/{u}")
            results.append((time.monotonic(), r.status_code))
        except httpx.HTTPError as exc:
            results.append((time.monotonic(), type(exc).__name__))

    threads = [threading.Thread(target=slow_call, args=(c, u)) for c, u in zip(clients, usccs, strict=True)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.3)
    signalled = time.monotonic()
    os.killpg(svc.proc.pid, signal.SIGTERM)  # what systemd (or Ctrl-C) does
    for t in threads:
        t.join(timeout=90)
    svc.proc.wait(timeout=60)
    for c in clients:
        c.close()
    print(f"SIGTERM at +{signalled - started:.2f} s; answers:",
          [(round(at - started, 2), code) for at, code in sorted(results, key=lambda r: r[0])])
    assert len(results) == len(usccs)
    assert [code for _, code in results] == [200] * len(usccs)
    assert any(at > signalled for at, _ in results), "no request was in flight when SIGTERM came"
    assert svc.port_free()


def test_every_acknowledged_decision_has_its_audit_row_after_a_worker_kill(district, serve, tmp_path):
    settings = district.home(tmp_path)
    svc = serve(settings)
    with engine(settings).connect() as conn:
        usccs = [r[0] for r in conn.execute(sa.text("SELECT DISTINCT uscc FROM published_scores ORDER BY uscc"))]
    acked: dict[int, str] = {}  # override_id -> uscc, for every 201 the service sent
    failed: list[str] = []
    lock = threading.Lock()
    todo = iter(usccs)
    expires = (date.today() + timedelta(days=30)).isoformat()

    def client() -> None:
        with httpx.Client(base_url=svc.url, timeout=30) as c:
            while True:
                with lock:
                    u = next(todo, None)
                if u is None:
                    return
                try:
                    r = c.post("/v1/overrides", headers=svc.headers("planner"),
                               json={"uscc": u, "tier": "C", "reason": "faults test: kill", "expires_on": expires})
                except httpx.HTTPError as exc:
                    failed.append(type(exc).__name__)  # not acknowledged: the client knows to retry
                    time.sleep(0.2)
                    continue
                if r.status_code == 201:
                    with lock:
                        acked[r.json()["override_id"]] = u
                else:
                    failed.append(str(r.status_code))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked) < 10 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(svc.worker(), signal.SIGKILL)  # in the middle of the stream
    for t in threads:
        t.join(timeout=120)
    assert len(acked) >= 10
    svc.wait_ready(timeout=90)
    with engine(settings).connect() as conn:
        audited = {json.loads(i)["override_id"]: s for i, s in conn.execute(sa.text(
            "SELECT inputs, subject FROM audit_log WHERE action = 'override.set'"))}
        stored = {i: u for i, u in conn.execute(sa.text("SELECT override_id, uscc FROM tier_overrides"))}
    assert all(audited.get(i) == u for i, u in acked.items())  # every acknowledged decision is audited
    assert set(stored) == set(audited)  # and no decision is stored without its audit row, or the reverse
    assert set(acked) <= set(stored)
