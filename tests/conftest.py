"""Shared fixtures: an isolated home per test, offline settings, and the operational DB on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings, apply_offline_env

apply_offline_env()
os.environ.setdefault("CREDIT_RISK_PSEUDONYM_KEY", "test-key-not-secret")
PG_URL = os.environ.get("CREDIT_RISK_TEST_PG_URL")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh home folder; the operational DB is its SQLite file."""
    monkeypatch.delenv("CREDIT_RISK_DB_URL", raising=False)
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def settings(home) -> Settings:
    return Settings.from_env(home)


def _fresh_pg_database() -> tuple[str, callable]:
    """Create an empty PostgreSQL database; return its URL and a function that drops it."""
    import sqlalchemy as sa

    name = f"cr_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        from core.opdb import _engine

        _engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session")
def fresh_pg_database():
    """For fixtures of wider scope: the factory of empty PostgreSQL databases (skips without a server)."""
    if not PG_URL:
        pytest.skip("set CREDIT_RISK_TEST_PG_URL to run the PostgreSQL variant")
    return _fresh_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_settings(request, home, monkeypatch) -> Settings:
    """Settings whose operational DB is SQLite, or a fresh PostgreSQL database when a URL is given."""
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("set CREDIT_RISK_TEST_PG_URL to run the PostgreSQL variant")
        url, drop = _fresh_pg_database()
        request.addfinalizer(drop)
        monkeypatch.setenv("CREDIT_RISK_DB_URL", url)
    return Settings.from_env(home)


ROOT = Path(__file__).resolve().parents[1]


def cycle_rules(version: str, *, max_champion_age_months: int, spine_months: int, num_boost_round: int,
                search_configs: int | None = None) -> str:
    """A cycle rules table (core/rules/cycle.toml's shape) for tests: real monitoring thresholds, and a cheap
    but real retraining (a quarterly spine, few trees) with the given champion age limit."""
    search = f"search_configs = {search_configs}\n" if search_configs is not None else ""
    return f"""
[meta]
version = "{version}"
source = "tests"
effective = "2026-01-01"
[drift]
psi_bins = 10
psi_warn = 0.10
psi_alert = 0.25
[monitor]
jump_tiers = 2
max_listed = 50
max_quarantine_share = 0.05
[cadence]
retrain_on_score_psi = 0.25
retrain_on_features_drifting = 5
max_champion_age_months = {max_champion_age_months}
min_months_between = 12
[retrain]
freq = "quarterly"
spine_months = {spine_months}
num_boost_round = {num_boost_round}
{search}"""


def first_champion(settings: Settings, *, data_end, seed: int, num_boost_round: int):
    """A small model trained on the warehouse's own quarterly spine (2021-04 to 2023-10), exported as the local
    champion with version "0"."""
    from datetime import date

    from features.warehouse import connect
    from serving.models import export_champion
    from training.dataset import from_warehouse
    from training.train import train

    con = connect(settings)
    try:
        ds = from_warehouse(con, start=date(2021, 4, 1), end=date(2023, 10, 1), freq="quarterly", data_end=data_end)
    finally:
        con.close()
    model = train(ds, num_boost_round=num_boost_round, seed=seed, params={"min_data_in_leaf": 20})
    model.meta["version"] = "0"
    export_champion(model, settings)
    return model


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen, base: str, log: Path, *, timeout: float = 120) -> None:
    """Wait until the service at ``base`` answers /readyz with 200; fail with its log if it exits or times out."""
    import httpx

    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"service did not become ready: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)


@contextlib.contextmanager
def _serving(home: Path, env: dict[str, str], *, timeout: float = 120) -> Iterator[str]:
    """`credit-risk serve` over ``home`` on a free loopback port until it answers /readyz; yields its base URL.

    Its output goes to ``home / "serve.log"``; on exit the process group gets SIGTERM (SIGKILL after 30 s).
    """
    port = free_port()
    log = open(home / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(Path(sys.executable).parent / "credit-risk"), "serve", "--port", str(port),
                             "--home", str(home)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, home / "serve.log", timeout=timeout)
        yield base
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server is killed
            os.killpg(proc.pid, 9)
        log.close()


@pytest.fixture(scope="session")
def serving():
    """Start the real service over a home: ``with serving(home, env) as base_url: ...``."""
    return _serving
