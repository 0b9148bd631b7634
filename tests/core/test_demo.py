"""The end-to-end demo runs every step on a small district and ends with how to reach the service."""

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_every_step_and_prints_a_summary(tmp_path):
    env = {**os.environ, "CREDIT_RISK_PSEUDONYM_KEY": "demo-test-key"}
    env.pop("CREDIT_RISK_DB_URL", None)
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "demo", "--entities", "1500", "--capacity", "300", "--home", str(home)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = done.stdout
    steps = re.findall(r"^\[([a-z-]+)\] \d+ s", summary, re.M)
    assert steps == ["synth", "ingest", "train", "publish", "plan", "evaluate-plan", "repair"]
    assert re.search(r"quarant\.", summary)
    for tier in ("A 信用风险低", "B 信用风险一般", "C 信用风险较高", "D 信用风险高"):
        assert tier in summary
    assert "credit-risk serve" in summary and "Authorization: Bearer" in summary
    assert (home / "warehouse.duckdb").exists() and (home / "operational.db").exists()
