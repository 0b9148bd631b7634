"""Risk classes A/B/C/D with their Chinese and English labels, read from the tiers rules table."""

from __future__ import annotations

from dataclasses import dataclass

from core import rules


@dataclass(frozen=True)
class Tier:
    code: str
    zh: str
    en: str


def tiers() -> tuple[Tier, ...]:
    """The classes in order from lowest to highest risk."""
    return tuple(Tier(t["code"], t["zh"], t["en"]) for t in rules.load("tiers")["tier"])


def codes() -> tuple[str, ...]:
    return tuple(t.code for t in tiers())


def label(code: str) -> Tier:
    for t in tiers():
        if t.code == code:
            return t
    raise KeyError(f"unknown tier {code!r}; expected one of {codes()}")
