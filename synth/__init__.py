"""Simulated district generator with a hidden ground truth (synth.md): ``generate`` and ``emit_drop``."""

from __future__ import annotations


def generate(*args, **kwargs) -> dict:
    """Write a simulated district; see :func:`synth.district.generate`."""
    from synth.district import generate as _generate

    return _generate(*args, **kwargs)


def emit_drop(*args, **kwargs) -> dict:
    """Write one month's incremental drop; see :func:`synth.district.emit_drop`."""
    from synth.district import emit_drop as _emit_drop

    return _emit_drop(*args, **kwargs)


__all__ = ["generate", "emit_drop"]
