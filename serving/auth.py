"""Bearer-key authentication and role checks for the service's FastAPI routes.

Use in a router: ``caller: Caller = Depends(require_role("repair_officer"))``; ``admin`` passes
every check. The settings come from :func:`get_settings` (environment), which tests may override
with ``app.dependency_overrides[get_settings]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from core.settings import Settings
from serving.keys import ROLES, Caller, caller_for

__all__ = ["Caller", "SettingsDep", "authenticate", "get_settings", "require_role"]

ADMIN = "admin"
CALLER_KEY = "credit_risk.caller"  # where the authenticated caller is kept in the ASGI scope


def get_settings() -> Settings:
    """The service's settings, from the environment (``$CREDIT_RISK_HOME``, ``$CREDIT_RISK_DB_URL``)."""
    return Settings.from_env()


SettingsDep = Annotated[Settings, Depends(get_settings)]


def authenticate(authorization: str | None, settings: Settings) -> Caller:
    """The caller for an ``Authorization`` header value; raises 401 when it carries no valid key."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(status_code=401, detail="Authorization: expected 'Bearer <key>', got none",
                            headers={"WWW-Authenticate": "Bearer"})
    caller = caller_for(settings, key.strip())
    if caller is None:
        raise HTTPException(status_code=401, detail="Authorization: the key is unknown or revoked",
                            headers={"WWW-Authenticate": "Bearer"})
    return caller


def require_role(*roles: str) -> Callable[..., Caller]:
    """A FastAPI dependency admitting callers whose key has one of ``roles`` (or ``admin``).

    Returns the :class:`Caller`; 401 without a valid key, 403 for a key of another role.
    """
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"require_role: expected roles among {ROLES}, got {unknown}")
    allowed = frozenset(roles) | {ADMIN}

    def dependency(request: Request, settings: SettingsDep) -> Caller:
        caller = request.scope.get(CALLER_KEY)  # already authenticated by the service gate
        if caller is None:
            caller = authenticate(request.headers.get("authorization"), settings)
            request.scope[CALLER_KEY] = caller
        if caller.role not in allowed:
            raise HTTPException(status_code=403, detail=(
                f"role: this endpoint needs one of {', '.join(sorted(allowed))}, the key has {caller.role}"))
        return caller

    return dependency
