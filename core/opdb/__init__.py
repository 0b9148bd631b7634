"""Operational database (SQLAlchemy 2): SQLite file by default, PostgreSQL by URL; schema by migrations."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


@cache
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return eng
    return sa.create_engine(url, pool_pre_ping=True)


def engine(settings: Settings, *, migrate_first: bool = True) -> Engine:
    """The engine for the settings' operational DB, migrated to the newest schema on first use."""
    if settings.db_url.startswith("sqlite"):
        settings.ensure_home()
    eng = _engine(settings.db_url)
    if migrate_first:
        migrate(settings.db_url)
    return eng


@cache
def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to every head revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with _engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
