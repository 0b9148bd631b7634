"""Restriction checks through the real service: the external_dept role may call only /v1/restrictions, and
every check is audited (one row per batch, with its counts)."""

from __future__ import annotations

import dataclasses
import os
import re
import time

import httpx
import pytest

from console.accounts import create_user
from core import audit
from core.opdb import engine
from core.settings import Settings
from features.warehouse import connect
from tests.serving.conftest import prepare_home
from tests.serving.test_restrictions import CLEAN, COURT, ON, SERIOUS, UNKNOWN, fill

PASSWORD = "pw-external-0123456789"


@pytest.fixture(scope="module")
def service(toy, tmp_path_factory, serving):
    model, frame = toy
    home = tmp_path_factory.mktemp("restrict") / "home"
    env = {**os.environ, "CREDIT_RISK_HOME": str(home), "BENTOML_HOME": str(home / "bentoml")}
    env.pop("CREDIT_RISK_DB_URL", None)
    settings = dataclasses.replace(Settings.from_env(home), db_url=f"sqlite:///{home / 'operational.db'}")
    keys = prepare_home(settings, model, frame)["keys"]
    con = connect(settings)
    fill(con)
    con.close()
    create_user(settings, name="tax.office", role="external_dept", password=PASSWORD, actor="test")
    with serving(home, env) as base:
        yield base, settings, keys


def _h(keys, role):
    return {"Authorization": f"Bearer {keys[role]}"}


def _audited(settings, action, actor, n=1, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        with engine(settings).connect() as conn:
            rows = [r for r in audit.entries(conn, action=action, limit=1000)
                    if r["actor"] == actor or (actor == "user:" and r["actor"].startswith("user:"))]
        if len(rows) >= n or time.time() > deadline:
            return rows
        time.sleep(0.2)


def test_external_dept_key_checks_a_code_and_is_refused_elsewhere(service):
    base, settings, keys = service
    h = _h(keys, "external_dept")
    r = httpx.get(f"{base}/v1/restrictions/{SERIOUS}", params={"as_of": ON.isoformat()}, headers=h, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "restricted" and body["as_of"] == ON.isoformat()
    assert all(m["basis"] and m["end_date"] == "2027-05-06" and m["record"]["ref"] == "YZSX-1"
               for m in body["measures"])
    clean = httpx.get(f"{base}/v1/restrictions/{CLEAN}", params={"as_of": ON.isoformat()}, headers=h).json()
    assert clean["status"] == "no_restriction" and clean["status_zh"] == "无限制" and clean["as_of"] == ON.isoformat()
    for method, path in (("GET", "/v1/tiers"), ("GET", f"/v1/entities/{SERIOUS}"), ("GET", "/v1/model"),
                         ("POST", "/score"), ("GET", "/metrics"), ("GET", "/v1/repair/cases/1")):
        kw = {"json": [{"uscc": SERIOUS}]} if method == "POST" else {}
        refused = httpx.request(method, f"{base}{path}", headers=h, timeout=30, **kw)
        assert refused.status_code == 403, (path, refused.status_code, refused.text)
    # other roles may check too
    assert httpx.get(f"{base}/v1/restrictions/{SERIOUS}", headers=_h(keys, "planner")).status_code == 200
    key_id = keys["external_dept"].split("_")[1]
    rows = _audited(settings, "restrictions.check", key_id, n=2)
    assert {r["subject"] for r in rows} == {SERIOUS, CLEAN}
    assert all(r["role"] == "external_dept" and r["inputs"]["as_of"] == ON.isoformat() for r in rows)
    assert any(r["outcome"] == "restricted:1" for r in rows) and any(r["outcome"] == "no_restriction:1" for r in rows)


def test_batch_answers_in_order_and_is_audited_once_with_counts(service):
    base, settings, keys = service
    bad = SERIOUS[:17] + ("0" if SERIOUS[17] != "0" else "1")
    codes = [SERIOUS, CLEAN, UNKNOWN, bad, COURT]
    r = httpx.post(f"{base}/v1/restrictions", json={"codes": codes, "purpose": "credit", "as_of": ON.isoformat()},
                   headers=_h(keys, "external_dept"), timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["status"] for i in body["items"]] == ["restricted", "no_restriction", "unknown_code", "invalid_code",
                                                    "restricted"]
    assert body["items"][3]["expected_check_character"] == SERIOUS[17]
    assert all(m["code"] == "credit" for i in body["items"] for m in i["measures"])
    assert body["counts"] == {"restricted": 2, "no_restriction": 1, "unknown_code": 1, "invalid_code": 1}
    rows = _audited(settings, "restrictions.batch", keys["external_dept"].split("_")[1])
    assert len(rows) == 1 and rows[0]["inputs"]["counts"] == body["counts"] and rows[0]["inputs"]["codes_count"] == 5
    assert rows[0]["inputs"]["purpose"] == "credit"


def test_bad_requests_answer_400_naming_the_field(service):
    base, _, keys = service
    h = _h(keys, "external_dept")
    r = httpx.get(f"{base}/v1/restrictions/{SERIOUS}", params={"purpose": "mortgage"}, headers=h)
    assert r.status_code == 400 and r.json()["error"].startswith("purpose:")
    r = httpx.post(f"{base}/v1/restrictions", json={"codes": [CLEAN] * 10_001}, headers=h, timeout=30)
    assert r.status_code == 400 and "codes" in r.json()["error"]
    r = httpx.post(f"{base}/v1/restrictions", json={"codes": []}, headers=h)
    assert r.status_code == 400


def test_console_page_checks_a_code_for_an_external_department_user(service):
    base, settings, _ = service
    with httpx.Client(base_url=f"{base}/console", timeout=30, follow_redirects=False) as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        signed = client.post("/login", data={"name": "tax.office", "password": PASSWORD, "csrf": csrf})
        assert signed.status_code == 303 and signed.headers["location"].endswith("/console/restrictions")
        page = client.get("/restrictions", params={"uscc": SERIOUS, "as_of": ON.isoformat(), "purpose": "credit"})
        assert page.status_code == 200
        assert "存在限制" in page.text and "限制获得信贷" in page.text and "YZSX-1" in page.text
        assert "限制参与政府采购" not in page.text  # the purpose keeps only credit
        clean = client.get("/restrictions", params={"uscc": CLEAN, "as_of": ON.isoformat()})
        assert "无限制" in clean.text
        assert client.get("/tiers").status_code == 403
    rows = _audited(settings, "restrictions.check", "user:", n=2)
    assert {r["subject"] for r in rows} >= {SERIOUS, CLEAN}
