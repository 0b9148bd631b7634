"""Shared fixtures: an isolated home per test, offline settings, and the operational DB on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

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
