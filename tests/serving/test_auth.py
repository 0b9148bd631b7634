"""Bearer keys: hashed storage, 401 without a valid key, 403 for the wrong role, admin passes."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from core.audit import entries
from core.opdb import engine
from serving.auth import Caller, require_role
from serving.keys import create_key, list_keys, revoke_key


def _app() -> TestClient:
    app = FastAPI()

    @app.get("/plans")
    def plans(caller: Caller = Depends(require_role("planner"))):  # noqa: B008
        return {"key_id": caller.key_id, "role": caller.role}

    return TestClient(app)


def test_keys_are_stored_hashed_and_admit_their_role(db_settings):
    key_id, key = create_key(db_settings, role="planner", label="t", actor="test")
    with engine(db_settings).connect() as conn:
        stored = conn.execute(sa.text("SELECT key_hash FROM api_keys WHERE key_id = :k"), {"k": key_id}).scalar()
    assert stored != key and len(stored) == 64 and key not in stored
    r = _app().get("/plans", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json() == {"key_id": key_id, "role": "planner"}


def test_missing_or_unknown_key_is_401_and_wrong_role_403(db_settings):
    client = _app()
    assert client.get("/plans").status_code == 401
    assert client.get("/plans", headers={"Authorization": "Bearer crk_nope_nope"}).status_code == 401
    _, officer = create_key(db_settings, role="repair_officer", actor="test")
    r = client.get("/plans", headers={"Authorization": f"Bearer {officer}"})
    assert r.status_code == 403 and "role" in r.json()["detail"]
    _, admin = create_key(db_settings, role="admin", actor="test")
    assert client.get("/plans", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_revoked_key_stops_working_and_is_audited(db_settings):
    key_id, key = create_key(db_settings, role="planner", actor="test")
    revoke_key(db_settings, key_id=key_id, actor="test")
    assert _app().get("/plans", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    listed = {k["key_id"]: k for k in list_keys(db_settings)}
    assert listed[key_id]["revoked_at"] is not None and "key_hash" not in listed[key_id]
    with engine(db_settings).connect() as conn:
        actions = [e["action"] for e in entries(conn, subject=f"key:{key_id}")]
    assert actions == ["keys.revoke", "keys.create"]
