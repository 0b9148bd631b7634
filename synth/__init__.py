"""Simulated district generator with a hidden ground truth (synth.md): ``generate`` and ``emit_drop``.

Ground truth (``ground_truth/`` beside the extracts, for evaluation only; docs/synth.md):

- ``latent_monthly.parquet``: one row per entity and month (establishment month through exit month):
  ``uscc``, ``month`` (first day), ``propensity`` (monthly probability a violation starts),
  ``violating`` (true state), ``domain`` (of the running violation), ``dormant``, and ``risk_12m`` — the
  simulator's own probability that the design label (an adverse event of core/rules/labels.toml known
  in the 12 months after ``as_of = month``) fires, given the state entering the month: the ceiling
  for any model, calibrated.
- ``entities.parquet``: per entity, type, industry, size, base propensity and logit, co-control group
  and its shared effect, established, exit date and kind, dormant_from.
"""

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
