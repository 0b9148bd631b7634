"""Home-wide locks between processes: one lock file per purpose under ``<home>/locks/``, held with ``flock``.

The holder writes who it is (pid, host, command, actor, since) into the lock file, so a refused process can
say who holds it. The lock dies with its process (``kill -9`` included): the kernel drops a ``flock`` when the
file's last descriptor closes, so a stale file never blocks anyone. Re-entrant within a process: a step that
takes the lock inside a command that already holds it just goes on.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import progress
from core.errors import Busy

_HELD: dict[str, list[Any]] = {}  # lock path -> [fd, depth]
_GUARD = threading.RLock()


def lock_path(home: Path, name: str) -> Path:
    return Path(home) / "locks" / f"{name}.lock"


def holder(home: Path, name: str) -> dict[str, Any] | None:
    """Who holds the lock ``name`` of ``home`` now (None when nobody does)."""
    path = lock_path(home, name)
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(path) or {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe(info: dict[str, Any] | None) -> str:
    """``pid 123 on host, `credit-risk cycle ...`, actor cron:cycle, since 2026-...``."""
    if not info:
        return "another process"
    parts = [f"pid {info.get('pid')} on {info.get('host')}"]
    if info.get("purpose"):
        parts.append(str(info["purpose"]))
    if info.get("actor"):
        parts.append(f"actor {info['actor']}")
    if info.get("since"):
        parts.append(f"since {info['since']}")
    return ", ".join(parts)


@contextmanager
def hold(home: Path, name: str, *, purpose: str, actor: str | None = None,
         wait: bool | float = False) -> Iterator[bool]:
    """Hold the home's lock ``name`` for the block; yields True when this call took it (False: re-entered).

    Args:
        home: the home folder (the lock file is ``<home>/locks/<name>.lock``).
        purpose: what the holder does, shown to whoever is refused (e.g. ``cycle 2025-07-01``).
        wait: False refuses at once with :class:`~core.errors.Busy` naming the holder; True waits as long
            as it takes; a number waits that many seconds at most.
    """
    path = lock_path(home, name)
    key = str(path)
    with _GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
            try:
                yield False
            finally:
                _HELD[key][1] -= 1
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, path, name, wait)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose, "actor": actor,
                "command": " ".join(sys.argv[:6])[:300], "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode("utf-8"), 0)
        with _GUARD:
            _HELD[key] = [fd, 1]
        try:
            yield True
        finally:
            with _GUARD:
                _HELD.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, name: str, wait: bool | float) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    info = _read(path)
    if wait is False:
        raise Busy(f"{name}: expected to run alone, but {describe(info)} holds {path}; "
                   f"wait for it to finish or pass --wait")
    progress.say(f"waiting for the {name} lock, held by {describe(info)}")
    deadline = None if wait is True else time.monotonic() + float(wait)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                raise Busy(f"{name}: waited {float(wait):.0f} s, but {describe(_read(path))} still holds "
                           f"{path}") from None
            time.sleep(0.2)
