"""The monthly reclassification cycle: ingest, snapshot, publish, monitor, retrain when due, report."""

from __future__ import annotations


def run_cycle(*args, **kwargs) -> dict:
    """Run (or resume) the cycle of one month; see :func:`cycle.run.run_cycle`."""
    from cycle.run import run_cycle as _run_cycle

    return _run_cycle(*args, **kwargs)


__all__ = ["run_cycle"]
