"""Repair endpoints behind the `repair_officer` role, mounted in the service's FastAPI app."""

from datetime import date

from fastapi.testclient import TestClient

from serving.api import build_app
from serving.keys import create_key

DOCS = {"application": "APP-1", "commitment": "COM-1", "proof": "PRF-1"}


def _client(settings, role="repair_officer"):
    _, key = create_key(settings, role=role, actor="test")
    return TestClient(build_app()), {"Authorization": f"Bearer {key}"}


def test_officer_runs_a_case_through_the_api(db_settings, db_wh):
    u = db_wh.entity()
    pid = db_wh.penalty(u, decided=date(2024, 1, 15), paid=date(2024, 2, 1))
    client, auth = _client(db_settings)
    r = client.get(f"/repair/eligibility/{u}", params={"as_of": "2025-09-01"}, headers=auth)
    assert r.status_code == 200 and r.json()["records"][0]["eligible_now"] is True
    r = client.post("/repair/cases", headers=auth, json={"uscc": u, "record_id": pid, "documents": DOCS,
                                                         "on": "2025-09-01"})
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    r = client.post(f"/repair/cases/{cid}/actions", headers=auth,
                    json={"action": "accept", "on": "2025-09-02", "expected_version": 1})
    assert r.status_code == 200 and r.json()["state"]["code"] == "accepted"
    r = client.post(f"/repair/cases/{cid}/actions", headers=auth,
                    json={"action": "refuse", "reason": "late", "on": "2025-09-02", "expected_version": 1})
    assert r.status_code == 409 and "changed since you read it" in r.json()["error"]
    r = client.get(f"/repair/cases/{cid}", headers=auth)
    assert r.status_code == 200 and [e["to_state"] for e in r.json()["events"]] == ["applied", "accepted"]
    r = client.get(f"/repair/entities/{u}/cases", headers=auth)
    assert r.status_code == 200 and r.json()["cases"][0]["case_id"] == cid


def test_roles_and_bad_requests(settings, wh):
    u = wh.entity()
    client, auth = _client(settings)
    _, planner = _client(settings, role="planner")
    assert client.get(f"/repair/eligibility/{u}").status_code == 401
    assert client.get(f"/repair/eligibility/{u}", headers=planner).status_code == 403
    r = client.get("/repair/eligibility/not-a-code", headers=auth)
    assert r.status_code == 400 and "uscc" in r.json()["error"]
    r = client.post("/repair/cases", headers=auth, json={"uscc": u, "record_id": "PEN-X", "documents": {}})
    assert r.status_code == 404 and "no negative record 'PEN-X'" in r.json()["error"]
    assert client.get("/repair/cases/RP-NONE", headers=auth).status_code == 404


def test_notices_applicant_view_and_objections_through_the_api(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 6, 2), paid=date(2025, 6, 20))  # not yet repairable on 2025-09-01
    client, auth = _client(settings)
    r = client.post("/repair/cases", headers=auth, json={"uscc": u, "record_id": pid, "documents": DOCS,
                                                         "on": "2025-09-01"})
    assert r.status_code == 201 and r.json()["state"]["code"] == "refused"
    cid, (notice,) = r.json()["case_id"], r.json()["notices"]
    assert r.json()["eligibility"]["earliest_date"] == "2025-12-02" and "最短公示期未届满" in notice["reason"]
    r = client.get(f"/repair/cases/{cid}", headers=auth, params={"audience": "applicant"})
    body = r.json()
    assert r.status_code == 200 and body["version"] is None and body["actions"] == []
    assert body["reasons"] == [notice["reason"]] and all(e["actor"] is None for e in body["events"])
    r = client.get(f"/repair/notices/{notice['notice_id']}", headers=auth)
    assert r.status_code == 200 and [x["code"] for x in r.json()["remedies"]] == ["objection", "review", "litigation"]
    r = client.get(f"/repair/notices/{notice['notice_id']}/page", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html") and "理由：" in r.text
    r = client.post("/repair/objections", headers=auth, json={"uscc": u, "record_kind": "penalty", "record_id": pid,
                                                              "documents": {"objection": "O", "evidence": "E"},
                                                              "on": "2025-09-02"})
    assert r.status_code == 201 and r.json()["procedure"]["code"] == "objection"
    r = client.post("/repair/objections", headers=auth, json={"uscc": u, "record_kind": "licence", "record_id": "X"})
    assert r.status_code == 400 and "record_kind" in r.json()["error"]
    assert client.get("/repair/notices/NOPE", headers=auth).status_code == 404
    r = client.get("/repair/due", headers=auth, params={"soon": 5})
    assert r.status_code == 200 and r.json()["soon_workdays"] == 5 and set(r.json()) == {
        "today", "soon_workdays", "overdue", "due_soon"}
