"""The 舆情台账 through the real service: an item published on a Friday evening is listed by
/v1/opinions/ledger?overdue=true from 48 clock hours later (Sunday evening), not a minute before; transitions."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from core.audit import entries
from core.opdb import engine
from tests.opinion_ledger.conftest import add_items

RUN_AT = datetime.fromisoformat("2026-11-28T09:00:00+00:00")


@pytest.fixture(scope="module")
def ledger(served):
    from opinion_ledger.workflow import open_entries

    add_items(served.settings)
    open_entries(served.settings, at=RUN_AT, actor="test")
    return httpx.Client(base_url=served.url, timeout=30, headers=served.headers("planner"))


def _ids(client, **params) -> list[str]:
    r = client.get("/v1/opinions/ledger", params=params)
    assert r.status_code == 200, r.text
    return [e["entry_id"] for e in r.json()["entries"]]


def test_friday_evening_item_is_overdue_from_sunday_evening_in_the_api(ledger):
    assert "YQTZ-YQ-FRI" not in _ids(ledger, overdue="true", at="2026-11-29T19:29:00+08:00")
    assert "YQTZ-YQ-FRI" in _ids(ledger, overdue="true", at="2026-11-29T19:30:00+08:00")
    assert "YQTZ-YQ-FRI" in _ids(ledger, overdue="true", at="2026-11-29T11:30:00Z")  # the same instant in UTC
    assert "YQTZ-YQ-FRI" in _ids(ledger, overdue="true")  # now (after 2026-11-29) without `at`
    body = ledger.get("/v1/opinions/ledger", params={"overdue": "true", "at": "2026-11-29T19:30:00+08:00"}).json()
    fri = next(e for e in body["entries"] if e["entry_id"] == "YQTZ-YQ-FRI")
    assert fri["due_at"].startswith("2026-11-29T11:30:00") and fri["state"] == "pending" and fri["overdue"]


def test_transition_moves_the_entry_audits_the_key_and_bad_input_is_400(served, ledger):
    r = ledger.post("/v1/opinions/ledger/YQTZ-YQ-CLF/transition", json={"to": "unfounded", "reason": "经核查不属实"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "unfounded" and r.json()["verification"] == "unfounded"
    assert "YQTZ-YQ-CLF" in _ids(ledger, state="unfounded")
    bad = ledger.post("/v1/opinions/ledger/YQTZ-YQ-CLF/transition", json={"to": "followed_up", "reason": "x"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("to: from unfounded")
    assert ledger.post("/v1/opinions/ledger/YQTZ-YQ-CLF/transition", json={"to": "responded"}).status_code == 400
    assert ledger.get("/v1/opinions/ledger", params={"state": "nonsense"}).status_code == 400
    assert ledger.get("/v1/opinions/ledger/YQTZ-NOPE").status_code == 404
    with engine(served.settings).connect() as conn:
        row = entries(conn, action="opinion_ledger.transition")[0]
    assert row["actor"].startswith("key:") and row["role"] == "planner" and row["inputs"]["to"] == "unfounded"


def test_the_ledger_is_for_planners(served, ledger):
    r = httpx.get(f"{served.url}/v1/opinions/ledger", headers=served.headers("repair_officer"), timeout=30)
    assert r.status_code == 403
    spec = httpx.get(f"{served.url}/docs.json", headers=served.headers("admin"), timeout=30).json()
    listing = spec["paths"]["/v1/opinions/ledger"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LedgerList")
