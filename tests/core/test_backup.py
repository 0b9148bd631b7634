"""Backups: a restore brings the same tiers, cases, keys and audit back; a damaged backup restores nothing."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from core import cli
from core.backup import backup, restore
from core.errors import UserError
from core.opdb import engine
from core.settings import Settings


@dataclass
class Snap:
    snapshot_id: str
    as_of: date
    frame: object


def _fill(settings: Settings) -> None:
    """A home with a publication, a repair case, an API key, warehouse rows and an MLflow-store file."""
    from features.warehouse import connect
    from repair import procedures, workflow
    from serving.keys import create_key
    from serving.publish import publish
    from training.dataset import from_frame
    from training.toy import TOY_FEATURES, toy_frame
    from training.train import train

    frame = toy_frame(entities=200, periods=6, seed=5)
    ds = from_frame(frame, id_col="uscc", time_col="as_of", label_col="label",
                    features=[dict(f) for f in TOY_FEATURES])
    model = train(ds, num_boost_round=10, seed=5, params={"min_data_in_leaf": 20})
    model.meta["version"] = "3"
    as_of = sorted(frame["as_of"].unique())[-1]
    rows = frame[frame["as_of"] == as_of].drop(columns=["label"]).reset_index(drop=True)
    publish(settings, as_of=as_of, actor="test", model=model, snapshot=Snap(f"toy-{as_of}", as_of, rows))
    uscc = rows["uscc"].iloc[0]
    workflow.open_case(settings, procedure=procedures.for_record("penalty_publicity"), prefix="RP", uscc=uscc,
                       kind="penalty_publicity", record_kind="penalty", record_id="P-1", actor="officer",
                       on=date(2025, 3, 3),
                       documents={"application": "A"}, eligibility={}, details={})
    create_key(settings, role="planner", label="backup test", actor="test")
    con = connect(settings)
    try:
        con.execute("INSERT INTO repairs (record_kind, record_id, uscc, repaired_date, known_date, case_id) "
                    "VALUES ('penalty', 'P-0', ?, DATE '2025-01-02', DATE '2025-01-02', 'RP-OLD')", [uscc])
    finally:
        con.close()
    ml = sqlite3.connect(settings.home / "mlflow.db")  # the MLflow store is a SQLite file like this one
    ml.execute("CREATE TABLE registered_models (name TEXT)")
    ml.execute("INSERT INTO registered_models VALUES ('credit-risk')")
    ml.commit()
    ml.close()
    (settings.home / "reports").mkdir(parents=True, exist_ok=True)
    (settings.home / "reports" / "cycle-2025-07-01.html").write_text("<html>report</html>", encoding="utf-8")


def _state(settings: Settings) -> dict:
    with engine(settings).connect() as conn:
        tiers = conn.execute(sa.text("SELECT publication_id, uscc, tier, probability FROM published_scores "
                                     "ORDER BY publication_id, uscc")).all()
        cases = conn.execute(sa.text("SELECT case_id, uscc, state, version FROM repair_cases ORDER BY case_id")).all()
        keys = conn.execute(sa.text("SELECT key_id, role FROM api_keys ORDER BY key_id")).all()
        trail = conn.execute(sa.text("SELECT id, at, actor, action, subject, outcome FROM audit_log "
                                     "WHERE action NOT LIKE 'backup.%' ORDER BY id")).all()
    import duckdb

    wh = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        repairs = wh.execute("SELECT case_id, uscc FROM repairs ORDER BY case_id").fetchall()
    finally:
        wh.close()
    ml = sqlite3.connect(settings.home / "mlflow.db")
    try:
        models = ml.execute("SELECT name FROM registered_models").fetchall()
    finally:
        ml.close()
    report = (settings.home / "reports" / "cycle-2025-07-01.html").read_text(encoding="utf-8")
    return {"tiers": tiers, "cases": cases, "keys": keys, "audit": trail, "repairs": repairs, "models": models,
            "report": report}


def test_a_restore_brings_the_same_tiers_cases_keys_and_audit_back(settings, tmp_path):
    _fill(settings)
    before = _state(settings)
    assert before["tiers"] and before["cases"] and before["audit"] and before["keys"]
    made = backup(settings, tmp_path / "bk", actor="admin")
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert {f["path"] for f in manifest["files"]} >= {"operational.db", "mlflow.db", "home/warehouse.duckdb",
                                                     "home/reports/cycle-2025-07-01.html"}
    assert manifest["counts"]["published_scores"] == len(before["tiers"]) and manifest["versions"]["duckdb"]
    assert made.key_fingerprint and "test-key-not-secret" not in (tmp_path / "bk" / "manifest.json").read_text()

    target = dataclasses.replace(Settings.from_env(tmp_path / "restored"),
                                 db_url=f"sqlite:///{tmp_path / 'restored' / 'operational.db'}")
    out = restore(target, tmp_path / "bk", actor="admin")
    assert out.key_matches and out.warnings == []
    assert _state(target) == before
    with engine(target).connect() as conn:
        actions = [r[0] for r in conn.execute(sa.text("SELECT action FROM audit_log ORDER BY id"))]
    assert actions[-1] == "backup.restore"


def test_a_damaged_backup_restores_nothing_and_an_occupied_home_needs_force(settings, tmp_path):
    _fill(settings)
    backup(settings, tmp_path / "bk", actor="admin")
    with pytest.raises(UserError, match="expected an empty or new folder"):
        backup(settings, tmp_path / "bk", actor="admin")
    with pytest.raises(UserError, match="pass --force"):
        restore(settings, tmp_path / "bk", actor="admin")
    damaged = tmp_path / "bk" / "home" / "reports" / "cycle-2025-07-01.html"
    damaged.write_text("<html>changed</html>", encoding="utf-8")
    target = Settings.from_env(tmp_path / "restored")
    with pytest.raises(UserError, match="1 that do not: home/reports/cycle-2025-07-01.html"):
        restore(target, tmp_path / "bk", actor="admin")
    assert not (tmp_path / "restored" / "warehouse.duckdb").exists()


def test_backup_and_restore_commands(settings, tmp_path, capsys, monkeypatch):
    _fill(settings)
    assert cli.main(["backup", "--home", str(settings.home), "--to", str(tmp_path / "bk"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["repair_cases"] == 1
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path / "other"))
    code = cli.main(["restore", "--home", str(tmp_path / "other"), "--from", str(tmp_path / "bk")])
    assert code == 0 and "restored" in capsys.readouterr().out
    assert cli.main(["restore", "--home", str(tmp_path / "other"), "--from", str(tmp_path / "bk")]) == 2
    assert "pass --force" in capsys.readouterr().err


@pytest.mark.postgres
def test_a_postgresql_operational_db_is_dumped_and_restored(tmp_path, fresh_pg_database):
    url, drop = fresh_pg_database()
    url2, drop2 = fresh_pg_database()
    try:
        settings = dataclasses.replace(Settings.from_env(tmp_path / "home"), db_url=url)
        _fill(settings)
        before = _state(settings)
        backup(settings, tmp_path / "bk", actor="admin")
        assert (tmp_path / "bk" / "operational.pgdump").stat().st_size > 0
        target = dataclasses.replace(Settings.from_env(tmp_path / "restored"), db_url=url2)
        with pytest.raises(UserError, match="holds a pg_dump"):
            restore(Settings.from_env(tmp_path / "wrong"), tmp_path / "bk", actor="admin")
        out = restore(target, tmp_path / "bk", actor="admin")
        assert out.operational_db == "postgresql" and out.warnings == []
        assert _state(target) == before
    finally:
        drop()
        drop2()
