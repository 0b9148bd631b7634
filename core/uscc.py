"""Unified social credit code (统一社会信用代码, GB 32100-2015): check character and validation."""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
LENGTH = 18


class InvalidCode(ValueError):
    """A credit code that is malformed or fails its check character."""


def check_character(first17: str) -> str:
    """Return the check character for the first 17 characters of a code."""
    if len(first17) != 17:
        raise InvalidCode(f"expected 17 characters before the check character, got {len(first17)}")
    try:
        total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    except KeyError as exc:
        raise InvalidCode(f"character {exc.args[0]!r} is not allowed in a credit code") from None
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: object) -> str | None:
    """Say what is wrong with a code, or None when it is valid."""
    if not isinstance(code, str):
        return f"expected an 18-character string, got {type(code).__name__}"
    if len(code) != LENGTH:
        return f"expected 18 characters, got {len(code)}"
    bad = [ch for ch in code if ch not in _VALUE]
    if bad:
        return f"character {bad[0]!r} is not allowed (no I, O, Z, S, V or lower case)"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"uscc {code} fails its check character (expected {expected})"
    return None


def is_valid(code: object) -> bool:
    """True when ``code`` is a well-formed credit code with a correct check character."""
    return problem(code) is None


def validate(code: object) -> str:
    """Return ``code`` unchanged when valid, else raise :class:`InvalidCode` saying why."""
    reason = problem(code)
    if reason:
        raise InvalidCode(reason)
    return code  # type: ignore[return-value]


def valid_mask(codes) -> np.ndarray:
    """Vectorised validity for an array-like of codes (None/NaN count as invalid)."""
    return np.fromiter((is_valid(c) for c in codes), dtype=bool, count=len(codes))


def complete(first17: str) -> str:
    """Append the check character to a 17-character prefix."""
    return first17 + check_character(first17)
