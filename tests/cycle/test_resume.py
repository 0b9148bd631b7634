"""Interrupted cycles: killed during publication, after it, or as a process; the re-run publishes exactly once."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.cli import main
from core.opdb import engine
from cycle import store
from cycle.run import run_cycle

AS_OF = date(2025, 2, 1)


def _publications(settings, as_of: date = AS_OF) -> list[tuple]:
    with engine(settings).connect() as conn:
        return conn.execute(sa.text(
            "SELECT p.publication_id, p.status, p.model_version, p.entity_count, "
            "(SELECT count(*) FROM published_scores s WHERE s.publication_id = p.publication_id) "
            "FROM publications p WHERE p.as_of = :d"), {"d": as_of}).all()


def _ingest_runs(settings) -> int:
    from features.warehouse import connect

    con = connect(settings)
    try:
        return con.execute("SELECT count(*) FROM ingest_runs").fetchall()[0][0]
    finally:
        con.close()


def _cli(*argv: str) -> dict:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(list(argv)) == 0
    return json.loads(buf.getvalue())


def _another_champion(settings) -> None:
    """Someone promotes another model meanwhile: the local champion export now says version 99."""
    from serving.models import export_champion
    from training.model import ScoringModel, champion_path

    model = ScoringModel.load_local(champion_path(settings))
    model.meta["version"] = "99"
    export_champion(model, settings)


def test_a_cycle_killed_during_publication_is_finished_by_the_rerun_with_one_publication(district, tmp_path,
                                                                                          monkeypatch):
    import serving.publish

    settings = district.home(tmp_path)
    drop = district.drop("2025-01")

    def killed(*args, **kwargs):
        raise RuntimeError("killed while writing the publication")

    monkeypatch.setattr(serving.publish, "_rows", killed)
    with pytest.raises(RuntimeError, match="killed"):
        run_cycle(settings, as_of=AS_OF, drop=drop, actor="test", rules_file=district.rules_file)
    monkeypatch.undo()
    [(pub_id, status, version, _, scores)] = _publications(settings)
    assert status == "publishing" and version == "0" and scores == 0
    cyc = store.get(engine(settings), AS_OF)
    assert cyc["status"] == "failed" and "killed" in cyc["error"]
    assert {k: v["status"] for k, v in cyc["steps"].items()} == {
        "ingest": "done", "repairs": "done", "snapshot": "done", "publish": "failed"}
    runs = _ingest_runs(settings)

    _another_champion(settings)  # the re-run must still finish the pinned publication, not start another
    out = _cli("cycle", "--home", str(settings.home), "--as-of", AS_OF.isoformat(), "--rules", district.rules_file,
               "--json", "--actor", "test")
    assert {"as_of", "published", "tier_counts", "migration", "psi_score", "alerts", "retrained",
            "promoted"} <= set(out)
    [(again_id, status, version, count, scores)] = _publications(settings)
    assert again_id == pub_id == out["published"]["publication_id"]
    assert status == "published" and version == "0" and scores == count == out["published"]["entities"] > 300
    assert out["steps"]["ingest"] == "reused" and out["steps"]["publish"] == "ran"
    assert _ingest_runs(settings) == runs  # the drop was not ingested twice
    assert out["attempt"] == 2 and out["timings"]["publish"]["attempt"] == 2

    third = run_cycle(settings, as_of=AS_OF, actor="test", rules_file=district.rules_file)
    assert third["already_done"] and len(_publications(settings)) == 1


def test_a_cycle_killed_after_publication_does_not_publish_again(district, tmp_path, monkeypatch):
    import cycle.monitor

    settings = district.home(tmp_path)
    drop = district.drop("2025-01")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cycle.monitor, "monitor", killed)
    with pytest.raises(KeyboardInterrupt):
        run_cycle(settings, as_of=AS_OF, drop=drop, actor="test", rules_file=district.rules_file)
    monkeypatch.undo()
    [(pub_id, status, *_)] = _publications(settings)
    assert status == "published"
    _another_champion(settings)
    out = run_cycle(settings, as_of=AS_OF, actor="test", rules_file=district.rules_file)
    assert out["steps"]["publish"] == "reused" and out["steps"]["monitor"] == "ran"
    assert [p[0] for p in _publications(settings)] == [pub_id] and out["published"]["model_version"] == "0"
    with engine(settings).connect() as conn:
        audited = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'publish' AND subject = :p"),
                               {"p": pub_id}).scalar()
    assert audited == 1


def test_a_cycle_process_killed_midway_is_finished_by_the_rerun(district, tmp_path):
    """A real `credit-risk cycle` process is SIGKILLed while it builds the snapshot; the re-run completes it."""
    settings = district.home(tmp_path)
    drop = district.drop("2025-01")
    env = {**os.environ, "CREDIT_RISK_HOME": str(settings.home)}
    env.pop("CREDIT_RISK_DB_URL", None)
    cmd = [str(Path(sys.executable).parent / "credit-risk"), "cycle", "--as-of", AS_OF.isoformat(),
           "--drop", str(drop), "--rules", district.rules_file]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    eng = engine(settings)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            row = store.step_row(eng, AS_OF, "snapshot")
            if row is not None and row["status"] == "running":
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the cycle ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover - cleanup after a failed assertion
            os.killpg(proc.pid, signal.SIGKILL)
    assert store.get(eng, AS_OF)["steps"]["snapshot"]["status"] == "running"  # died without a word
    assert _publications(settings) == []
    out = run_cycle(settings, as_of=AS_OF, actor="test", rules_file=district.rules_file)
    [(pub_id, status, _, count, scores)] = _publications(settings)
    assert out["published"]["publication_id"] == pub_id and status == "published" and scores == count
    assert out["steps"]["ingest"] == "reused" and out["steps"]["snapshot"] == "ran"
    assert out["timings"]["snapshot"]["attempt"] == 2
