"""Keyed pseudonymisation of personal identifiers (HMAC-SHA256; the key never lives with the data)."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(value: object, *, key: bytes, prefix: str = "P") -> str | None:
    """Return a stable pseudonym for ``value`` under ``key``; None stays None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip().upper()
    if not text:
        return None
    digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{prefix}{digest[:20]}"
