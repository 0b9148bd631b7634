"""Planner endpoints: role-checked draw, fetch, results and overdue report through the /v1 app."""

import pytest
from fastapi.testclient import TestClient

from serving.api import build_app
from serving.keys import create_key


@pytest.fixture
def client(db_settings, targets, publish, fill_warehouse):
    t = targets.iloc[:300].reset_index(drop=True)
    publish(db_settings, t)
    fill_warehouse(db_settings, t)
    return TestClient(build_app())


def test_planner_draws_fetches_and_records_results(db_settings, client):
    _, key = create_key(db_settings, role="planner", actor="test")
    _, officer = create_key(db_settings, role="repair_officer", actor="test")
    auth = {"Authorization": f"Bearer {key}"}
    body = {"period": "2026-B1", "capacity": 60, "seed": 11}
    assert client.post("/inspection/plans", json=body).status_code == 401
    assert client.post("/inspection/plans", json=body,
                       headers={"Authorization": f"Bearer {officer}"}).status_code == 403
    r = client.post("/inspection/plans", json=body, headers=auth)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["seed"] == 11 and plan["random"] <= 60
    got = client.get(f"/inspection/plans/{plan['plan_id']}?limit=3", headers=auth).json()
    assert len(got["inspections"]) == 3 and got["plan"]["plan_id"] == plan["plan_id"]
    first = got["inspections"][0]["inspection_id"]
    r = client.post(f"/inspection/plans/{plan['plan_id']}/results", headers=auth, json={
        "results": [{"inspection_id": first, "result": "issue_corrected", "checked_on": "2026-03-02"}]})
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == 1
    assert r.json()["results"][0]["due"] == "2026-03-30"
    late = client.get("/inspection/overdue?on=2026-04-01", headers=auth).json()
    assert [i["inspection_id"] for i in late["items"]] == [first]
    bad = client.post(f"/inspection/plans/{plan['plan_id']}/results", headers=auth, json={
        "results": [{"inspection_id": first, "result": "great", "checked_on": "2026-03-02"}]})
    assert bad.status_code == 400 and "result" in bad.json()["error"]
    assert client.get("/inspection/plans/PLAN-none", headers=auth).status_code == 404
