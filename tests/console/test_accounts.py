"""Console accounts: scrypt hashes, users CLI, lock-out with audited failures, session expiry and sign-out."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from console import accounts
from core import audit, rules
from core.cli import main
from core.errors import Conflict, UserError
from core.opdb import engine


def test_password_hash_is_salted_scrypt_and_verifies_only_the_right_password():
    one, two = accounts.hash_password("correct horse"), accounts.hash_password("correct horse")
    assert one.startswith("scrypt$16384$8$1$") and one != two  # a fresh salt each time
    assert accounts.verify_password("correct horse", one) and accounts.verify_password("correct horse", two)
    assert not accounts.verify_password("correct horsf", one)
    assert not accounts.verify_password("correct horse", "sha256$abc")


def test_users_create_reads_the_password_from_stdin_and_list_never_shows_it(settings, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    assert main(["users", "create", "Wang.Li", "--role", "planner", "--home", str(settings.home), "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["name"] == "wang.li" and created["role"] == "planner"
    assert main(["users", "list", "--home", str(settings.home), "--json"]) == 0
    out = capsys.readouterr().out
    assert "wang.li" in out and "a-long-password-1" not in out and "scrypt" not in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "create", "zhao", "--role", "planner", "--home", str(settings.home)]) == 2
    assert "password: expected at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-2\n"))
    assert main(["users", "create", "zhao", "--role", "chief", "--home", str(settings.home)]) == 2
    assert "role: expected one of planner" in capsys.readouterr().err


def test_repeated_failures_lock_the_account_and_each_failure_is_audited_without_the_name(db_settings):
    cfg = rules.load("console")["login"]
    user = accounts.create_user(db_settings, name="li.officer", role="repair_officer", password="s3cret-password",
                                actor="test")
    for _ in range(int(cfg["max_failures"]) - 1):
        assert accounts.sign_in(db_settings, name="li.officer", password="wrong-password").refused == "bad_credentials"
    assert accounts.sign_in(db_settings, name="li.officer", password="wrong-password").refused == "locked"
    # locked: even the right password is refused until the lock-out ends
    assert accounts.sign_in(db_settings, name="li.officer", password="s3cret-password").refused == "locked"
    later = datetime.now(UTC) + timedelta(minutes=int(cfg["lockout_minutes"]) + 1)
    ok = accounts.sign_in(db_settings, name="li.officer", password="s3cret-password", now=later)
    assert ok.session is not None and ok.session.role == "repair_officer"
    with engine(db_settings).connect() as conn:
        entries = audit.entries(conn, action="console.login", limit=50)
    failures = [e for e in entries if e["outcome"].startswith("refused")]
    assert len(failures) == int(cfg["max_failures"]) + 1
    assert {e["actor"] for e in entries} == {f"user:{user.user_id}"}
    dumped = json.dumps(entries, default=str)
    assert "li.officer" not in dumped and "s3cret" not in dumped and "wrong-password" not in dumped
    assert accounts.sign_in(db_settings, name="nobody", password="x").refused == "bad_credentials"


def test_sessions_expire_end_at_sign_out_and_when_the_user_is_disabled(settings):
    accounts.create_user(settings, name="chen", role="planner", password="s3cret-password", actor="test")
    first = accounts.sign_in(settings, name="chen", password="s3cret-password")
    hours = float(rules.load("console")["session"]["hours"])
    assert accounts.session_for(settings, first.token).name == "chen"
    assert accounts.session_for(settings, first.token, now=datetime.now(UTC) + timedelta(hours=hours + 0.1)) is None
    accounts.sign_out(settings, first.token)
    assert accounts.session_for(settings, first.token) is None
    second = accounts.sign_in(settings, name="chen", password="s3cret-password")
    accounts.disable_user(settings, name="chen", actor="test")
    assert accounts.session_for(settings, second.token) is None
    assert accounts.sign_in(settings, name="chen", password="s3cret-password").refused == "disabled"
    with pytest.raises(Conflict):
        accounts.disable_user(settings, name="chen", actor="test")
    accounts.reset_password(settings, name="chen", password="another-password", actor="test")
    assert accounts.sign_in(settings, name="chen", password="another-password").session is not None
    with engine(settings).connect() as conn:
        stored = conn.execute(sa.select(accounts.USERS.c.password_hash)).scalar_one()
    assert "another-password" not in stored


def test_user_names_and_roles_are_checked(settings):
    with pytest.raises(UserError, match="name: expected"):
        accounts.create_user(settings, name="王 五", role="planner", password="s3cret-password", actor="t")
    accounts.create_user(settings, name="wu", role="admin", password="s3cret-password", actor="t")
    with pytest.raises(Conflict, match="already exists"):
        accounts.create_user(settings, name="WU", role="admin", password="s3cret-password", actor="t")
