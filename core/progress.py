"""Progress for long steps, on stderr so that ``--json`` output stays clean."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def say(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Announce a step and how long it took."""
    start = time.perf_counter()
    say(f"… {label}")
    yield
    say(f"✓ {label} ({time.perf_counter() - start:.1f} s)")


def track(items: Iterable[T], label: str, total: int | None = None, every: int = 1) -> Iterator[T]:
    """Yield from ``items`` and report ``label i/total`` every ``every`` items."""
    total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    for i, item in enumerate(items, 1):
        if i == 1 or i % every == 0 or i == total:
            say(f"  {label} {i}/{total}" if total else f"  {label} {i}")
        yield item
