"""API keys: created once, stored as SHA-256 hashes, mapped to one role each, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from core import audit
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from core.settings import Settings

# external_dept: other departments' keys, for the restriction checks only (/v1/restrictions)
ROLES = ("planner", "repair_officer", "model_operator", "admin", "external_dept")
KEY_PREFIX = "crk_"

API_KEYS = sa.table(
    "api_keys",
    sa.column("key_id"), sa.column("key_hash"), sa.column("role"), sa.column("label"),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("created_by"),
    sa.column("revoked_at", sa.DateTime(timezone=True)), sa.column("rate_limit", sa.Float),
)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id (safe to log), its role and its own rate limit (requests/s, None: default)."""

    key_id: str
    role: str
    rate_limit: float | None = None


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(settings: Settings, *, role: str, label: str | None = None, actor: str,
               rate_limit: float | None = None) -> tuple[str, str]:
    """Create a key for ``role``; returns ``(key_id, key)``. The key itself is shown once, never stored.

    ``rate_limit`` (requests per second) overrides the service's default limit for this key.
    """
    if role not in ROLES:
        raise UserError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    if rate_limit is not None and not 0 < rate_limit <= 100_000:
        raise UserError(f"rate_limit: expected requests per second from 0 to 100000, got {rate_limit}")
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with engine(settings).begin() as conn:
        conn.execute(sa.insert(API_KEYS).values(
            key_id=key_id, key_hash=hash_key(key), role=role, label=label,
            created_at=datetime.now(UTC), created_by=actor, rate_limit=rate_limit,
        ))
        audit.record(conn, actor=actor, action="keys.create", subject=f"key:{key_id}", outcome="created",
                     inputs={"role": role, "label": label, "rate_limit": rate_limit})
    return key_id, key


def list_keys(settings: Settings, *, include_revoked: bool = True) -> list[dict[str, Any]]:
    """Every key's id, role, label and dates (never the key or its hash)."""
    q = sa.select(API_KEYS.c.key_id, API_KEYS.c.role, API_KEYS.c.label, API_KEYS.c.created_at,
                  API_KEYS.c.created_by, API_KEYS.c.revoked_at, API_KEYS.c.rate_limit).order_by(API_KEYS.c.created_at)
    if not include_revoked:
        q = q.where(API_KEYS.c.revoked_at.is_(None))
    with engine(settings).connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def revoke_key(settings: Settings, *, key_id: str, actor: str) -> dict[str, Any]:
    """Revoke a key so that it stops authenticating; revoking twice is refused."""
    now = datetime.now(UTC)
    with engine(settings).begin() as conn:
        row = conn.execute(sa.select(API_KEYS.c.role, API_KEYS.c.revoked_at)
                           .where(API_KEYS.c.key_id == key_id)).first()
        if row is None:
            raise NotFound(f"key_id: no API key {key_id!r}")
        if row.revoked_at is not None:
            raise Conflict(f"key_id: key {key_id} was already revoked at {row.revoked_at}")
        conn.execute(sa.update(API_KEYS).where(API_KEYS.c.key_id == key_id).values(revoked_at=now))
        audit.record(conn, actor=actor, action="keys.revoke", subject=f"key:{key_id}", outcome="revoked",
                     inputs={"role": row.role})
    return {"key_id": key_id, "role": row.role, "revoked_at": now}


def caller_for(settings: Settings, key: str) -> Caller | None:
    """The caller a presented key belongs to, or None when it is unknown or revoked."""
    if not key or not key.startswith(KEY_PREFIX):
        return None
    with engine(settings).connect() as conn:
        row = conn.execute(sa.select(API_KEYS.c.key_id, API_KEYS.c.role, API_KEYS.c.rate_limit).where(
            API_KEYS.c.key_hash == hash_key(key), API_KEYS.c.revoked_at.is_(None))).first()
    return Caller(row.key_id, row.role, row.rate_limit) if row else None
