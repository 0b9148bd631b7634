"""Hostile or broken input is bounded: 400 for out-of-range integers and dates, 413 for big bodies, 415 for
wrong content types, 429 over a key's rate; no request value reaches the log; readiness follows the audit log."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import httpx
import pytest

from serving.keys import create_key
from serving.runtime import AuditWriter, Runtime

MARKER = "91350100MARKER0001"  # a value sent in refused requests, which must never show in the log


@pytest.fixture(scope="module")
def client(served):
    with httpx.Client(base_url=served.url, timeout=60) as c:
        yield c


@pytest.mark.parametrize("path", [
    "/v1/tiers?page=92233720368547758",
    "/v1/tiers?page_size=0",
    f"/v1/entities/{'9' * 40}",
    "/v1/repair/eligibility/91350100M000100Y43?as_of=0001-01-01",
    "/v1/repair/whatif/91350100M000100Y43?as_of=9999-12-31",
    "/v1/inspection/plans/p1?offset=99999999999999999999",
    "/v1/inspection/overdue?on=0001-01-01",
])
def test_out_of_range_integers_and_dates_are_400_naming_the_parameter(served, client, path):
    r = client.get(path, headers=served.headers("admin"))
    assert r.status_code == 400, r.text
    name = path.split("?")[1].split("=")[0] if "?" in path else "uscc"
    assert name in r.json()["error"]


def test_an_override_id_above_2_63_is_400(served, client):
    r = client.post(f"/v1/overrides/{2**64}/revoke", headers=served.headers("planner"))
    assert r.status_code == 400 and "override_id" in r.json()["error"]


def test_a_body_over_the_limit_is_413_before_it_is_read(served, client):
    big = b'{"items": [' + b'{"uscc": "91350100M000100Y43"},' * 1_200_000 + b'{}]}'  # ~37 MB
    r = client.post("/score", content=big, headers={**served.headers("planner"), "content-type": "application/json"})
    assert r.status_code == 413 and "bytes" in r.json()["error"]


@pytest.mark.parametrize("ctype", ["multipart/form-data", "text/plain", "application/x-www-form-urlencoded"])
def test_a_wrong_content_type_is_415(served, client, ctype):
    r = client.post("/score", content=b'{"items": [{"uscc": "91350100M000100Y43"}]}',
                    headers={**served.headers("planner"), "content-type": ctype})
    assert r.status_code == 415 and "application/json" in r.json()["error"]


def test_a_key_over_its_rate_gets_429_with_retry_after(served, client):
    _, key = create_key(served.settings, role="planner", actor="test", rate_limit=0.5)  # one request per 2 s
    h = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/model", headers=h).status_code == 200
    r = client.get("/v1/model", headers=h)
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1 and "0.5 requests per second" in r.json()["error"]
    time.sleep(2.1)
    assert client.get("/v1/model", headers=h).status_code == 200
    assert client.get("/v1/model", headers=served.headers("planner")).status_code == 200  # other keys unaffected


def test_refused_requests_leave_no_request_value_and_no_traceback_in_the_log(served, client):
    h = served.headers("admin")
    client.post("/score", json={"items": [{"uscc": MARKER, "extra": MARKER}]}, headers=h)
    client.post("/score", json={"items": [{"features": {MARKER: 1}}]}, headers=h)
    client.post("/score", content=MARKER.encode(), headers={**h, "content-type": "multipart/form-data"})
    client.get(f"/v1/tiers?tier={MARKER}", headers=h)
    client.get(f"/v1/repair/eligibility/{MARKER}", headers=h)
    time.sleep(0.5)
    log = served.log.read_text()
    assert MARKER not in log and "Traceback" not in log


def test_readiness_fails_while_the_audit_log_cannot_be_written(tmp_path, served):
    broken = dataclasses.replace(served.settings, db_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    writer = AuditWriter(broken, interval=60)
    try:
        writer.put(actor="test", action="probe", outcome="ok")
        assert writer.flush() == 0 and writer.backlog() == 1
        assert "audit log" in writer.check()
    finally:
        writer._stop.set()
    runtime = Runtime(served.settings, loaded=SimpleNamespace(model=SimpleNamespace(version="7"), source="x",
                                                              note=None))
    try:
        assert runtime.readiness()["ready"] is True
        runtime.audit = writer
        state = runtime.readiness()
        assert state["ready"] is False and "audit log" in state["reason"]
    finally:
        runtime.close()
