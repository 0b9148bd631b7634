"""Names of towns (乡镇街道) and industry classes (GB/T 4754-2017) by code, from core/rules/codelists.toml."""

from __future__ import annotations

from functools import cache

from core import rules


@cache
def _names(kind: str) -> dict[str, str]:
    return {e["code"]: e["zh"] for e in rules.load("codelists")[kind]}


def town_zh(code: str | None) -> str | None:
    """The town's Chinese name, or None for a code the list does not hold."""
    return _names("town").get(code) if code else None


def industry_zh(code: str | None) -> str | None:
    """The industry class's Chinese name (GB/T 4754-2017), or None for a code the list does not hold."""
    return _names("industry").get(code) if code else None
