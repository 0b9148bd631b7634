"""Operational DB migrations and the audit log, on SQLite and PostgreSQL."""

import sqlalchemy as sa

from core import audit, opdb


def test_migrations_create_tables_and_are_idempotent(db_settings):
    eng = opdb.engine(db_settings)
    opdb.migrate.cache_clear()
    opdb.migrate(db_settings.db_url)  # second run changes nothing and does not fail
    names = set(sa.inspect(eng).get_table_names())
    assert {"audit_log", "api_keys", "publications", "published_scores", "tier_overrides"} <= names


def test_audit_entries_round_trip(db_settings):
    eng = opdb.engine(db_settings)
    with eng.begin() as conn:
        audit.record(conn, actor="officer-7", action="repair.decide", subject="CASE-1", outcome="approved",
                     inputs={"case": "CASE-1"}, versions={"rules": "repair-2026.1"})
    with eng.connect() as conn:
        rows = audit.entries(conn, subject="CASE-1")
    assert len(rows) == 1
    assert rows[0]["actor"] == "officer-7"
    assert rows[0]["versions"] == {"rules": "repair-2026.1"}
