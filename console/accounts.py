"""Console accounts: users with scrypt password hashes, sign-in with lock-out, server-side sessions with CSRF tokens.

Passwords are hashed with ``hashlib.scrypt`` (memory-hard) and a per-user random salt; neither a password nor
a login name ever reaches the audit log, which names users by their random ``user_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import audit, rules
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from serving.keys import ROLES

USERS = sa.table(
    "console_users",
    *(sa.column(n) for n in ("user_id", "name", "role", "password_hash", "failed_logins", "created_by")),
    *(sa.column(n, sa.DateTime(timezone=True)) for n in ("created_at", "password_set_at", "locked_until",
                                                         "disabled_at")),
)
SESSIONS = sa.table(
    "console_sessions",
    sa.column("token_hash"), sa.column("user_id"), sa.column("csrf"), sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
# scrypt cost: N=2^14, r=8 (16 MiB per hash), p=1; about 50 ms here. Stored with each hash, so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


@dataclass(frozen=True)
class User:
    """A console user as the console sees it (never the hash)."""

    user_id: str
    name: str
    role: str
    disabled: bool
    locked_until: datetime | None
    failed_logins: int
    created_at: datetime


@dataclass(frozen=True)
class Session:
    """A signed-in user's session: who, their role, the form token and when it ends."""

    user_id: str
    name: str
    role: str
    csrf: str
    expires_at: datetime


def login_rules() -> dict:
    """The console's sign-in and session rules (core/rules/console.toml)."""
    table = rules.load("console")
    return {**table["login"], "session_hours": table["session"]["hours"]}


def hash_password(password: str, *, salt: bytes | None = None, n: int = SCRYPT_N, r: int = SCRYPT_R,
                  p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$<salt hex>$<hash hex>`` for a password (a fresh 16-byte salt unless one is given)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a stored ``scrypt$…`` hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    again = hash_password(password, salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(again.rsplit("$", 1)[1], digest)


def _check_password(password: str) -> None:
    least = int(login_rules()["min_password_chars"])
    if len(password or "") < least:
        raise UserError(f"password: expected at least {least} characters, got {len(password or '')}")


def _user(row) -> User:
    return User(row["user_id"], row["name"], row["role"], row["disabled_at"] is not None, row["locked_until"],
                int(row["failed_logins"]), row["created_at"])


def create_user(settings: Settings, *, name: str, role: str, password: str, actor: str) -> User:
    """Create a console user with ``role`` (one of the API roles)."""
    name = (name or "").strip().lower()
    if not name or len(name) > 64 or set(name) - NAME_CHARS:
        raise UserError(f"name: expected 1-64 characters among a-z 0-9 . _ -, got {name!r}")
    if role not in ROLES:
        raise UserError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    _check_password(password)
    now = datetime.now(UTC)
    user_id = secrets.token_hex(6)
    with engine(settings).begin() as conn:
        if conn.execute(sa.select(USERS.c.user_id).where(USERS.c.name == name)).first():
            raise Conflict(f"name: a console user named {name!r} already exists")
        conn.execute(sa.insert(USERS).values(user_id=user_id, name=name, role=role, password_hash=hash_password(password),
                                             failed_logins=0, created_at=now, created_by=actor, password_set_at=now))
        audit.record(conn, actor=actor, action="users.create", subject=f"user:{user_id}", outcome="created",
                     inputs={"role": role})
        return _user(conn.execute(sa.select(USERS).where(USERS.c.user_id == user_id)).mappings().one())


def list_users(settings: Settings) -> list[User]:
    """Every console user, by name."""
    with engine(settings).connect() as conn:
        return [_user(r) for r in conn.execute(sa.select(USERS).order_by(USERS.c.name)).mappings()]


def actor_names(settings: Settings) -> dict[str, str]:
    """``user:<id>`` → login name, to show staff names on pages (the audit log keeps the ids)."""
    with engine(settings).connect() as conn:
        return {f"user:{u}": n for u, n in conn.execute(sa.select(USERS.c.user_id, USERS.c.name))}


def _by_name(conn: Connection, name: str):
    row = conn.execute(sa.select(USERS).where(USERS.c.name == (name or "").strip().lower())).mappings().first()
    if row is None:
        raise NotFound(f"name: no console user named {name!r}")
    return row


def disable_user(settings: Settings, *, name: str, actor: str) -> User:
    """Disable a user: sign-in refused and every session of theirs ended."""
    with engine(settings).begin() as conn:
        row = _by_name(conn, name)
        if row["disabled_at"] is not None:
            raise Conflict(f"name: {name} was already disabled at {row['disabled_at']}")
        conn.execute(sa.update(USERS).where(USERS.c.user_id == row["user_id"]).values(disabled_at=datetime.now(UTC)))
        conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.user_id == row["user_id"]))
        audit.record(conn, actor=actor, action="users.disable", subject=f"user:{row['user_id']}", outcome="disabled")
        return _user(conn.execute(sa.select(USERS).where(USERS.c.user_id == row["user_id"])).mappings().one())


def reset_password(settings: Settings, *, name: str, password: str, actor: str) -> User:
    """Set a new password, clear the lock-out, re-enable the user and end their sessions."""
    _check_password(password)
    now = datetime.now(UTC)
    with engine(settings).begin() as conn:
        row = _by_name(conn, name)
        conn.execute(sa.update(USERS).where(USERS.c.user_id == row["user_id"]).values(
            password_hash=hash_password(password), password_set_at=now, failed_logins=0, locked_until=None,
            disabled_at=None))
        conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.user_id == row["user_id"]))
        audit.record(conn, actor=actor, action="users.reset", subject=f"user:{row['user_id']}", outcome="reset")
        return _user(conn.execute(sa.select(USERS).where(USERS.c.user_id == row["user_id"])).mappings().one())


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: a session token (cookie value) and session, or the reason it was refused."""

    token: str | None
    session: Session | None
    refused: str | None  # bad_credentials | locked | disabled


def sign_in(settings: Settings, *, name: str, password: str, now: datetime | None = None) -> SignIn:
    """Check a name and password; on success open a session, on failure count it (and lock after too many).

    Every failure is audited (by user id when the name is known, never the name typed or the password).
    """
    cfg = login_rules()
    now = now or datetime.now(UTC)
    with engine(settings).begin() as conn:
        row = conn.execute(sa.select(USERS).where(USERS.c.name == (name or "").strip().lower())).mappings().first()
        if row is None:
            verify_password(password, hash_password("x" * 10))  # same cost whether or not the name exists
            audit.record(conn, actor="anonymous", action="console.login", outcome="refused: bad_credentials")
            return SignIn(None, None, "bad_credentials")
        subject = f"user:{row['user_id']}"
        locked = row["locked_until"] is not None and _aware(row["locked_until"]) > now
        if row["disabled_at"] is not None or locked:
            why = "disabled" if row["disabled_at"] is not None else "locked"
            audit.record(conn, actor=subject, role=row["role"], action="console.login", subject=subject,
                         outcome=f"refused: {why}")
            return SignIn(None, None, why)
        if not verify_password(password, row["password_hash"]):
            failures = int(row["failed_logins"]) + 1
            lock = failures >= int(cfg["max_failures"])
            conn.execute(sa.update(USERS).where(USERS.c.user_id == row["user_id"]).values(
                failed_logins=0 if lock else failures,
                locked_until=now + timedelta(minutes=int(cfg["lockout_minutes"])) if lock else None))
            audit.record(conn, actor=subject, role=row["role"], action="console.login", subject=subject,
                         outcome="refused: bad_credentials" + ("; locked" if lock else ""),
                         inputs={"failures": failures}, versions={"rules": rules.version("console")})
            return SignIn(None, None, "locked" if lock else "bad_credentials")
        conn.execute(sa.update(USERS).where(USERS.c.user_id == row["user_id"]).values(failed_logins=0,
                                                                                     locked_until=None))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = now + timedelta(hours=float(cfg["session_hours"]))
        conn.execute(sa.insert(SESSIONS).values(token_hash=_digest(token), user_id=row["user_id"], csrf=csrf,
                                                created_at=now, expires_at=expires))
        audit.record(conn, actor=subject, role=row["role"], action="console.login", subject=subject, outcome="ok",
                     versions={"rules": rules.version("console")})
    return SignIn(token, Session(row["user_id"], row["name"], row["role"], csrf, expires), None)


def session_for(settings: Settings, token: str | None, *, now: datetime | None = None) -> Session | None:
    """The live session of a cookie value, or None (unknown, expired, or its user disabled)."""
    if not token:
        return None
    now = now or datetime.now(UTC)
    s, u = SESSIONS, USERS
    with engine(settings).connect() as conn:
        row = conn.execute(sa.select(s.c.user_id, s.c.csrf, s.c.expires_at, u.c.name, u.c.role, u.c.disabled_at)
                           .select_from(s.join(u, u.c.user_id == s.c.user_id))
                           .where(s.c.token_hash == _digest(token))).mappings().first()
    if row is None or row["disabled_at"] is not None or _aware(row["expires_at"]) <= now:
        return None
    return Session(row["user_id"], row["name"], row["role"], row["csrf"], _aware(row["expires_at"]))


def sign_out(settings: Settings, token: str) -> None:
    """End the session of a cookie value."""
    with engine(settings).begin() as conn:
        conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.token_hash == _digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
