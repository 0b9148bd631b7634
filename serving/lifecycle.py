"""The service's processes die together: a worker never outlives ``credit-risk serve``.

``credit-risk serve`` is BentoML's process supervisor (circus, in-process); it forks the worker that
serves HTTP on a socket it passes down. If the supervisor is killed (``kill -9``), nothing tells the worker,
which keeps the port and answers with a stale view, and the next start fails with "Address already in
use". So the worker asks the kernel for SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``), and a
watch thread does the same where that is not available or the parent died before the request. SIGTERM
is uvicorn's graceful stop: it stops accepting, finishes the requests in flight, then exits; if that has
not happened after :data:`DRAIN_SECONDS`, the worker exits hard.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)
PARENT_ENV = "CREDIT_RISK_SERVE_PID"  # set by `credit-risk serve` for its workers
PR_SET_PDEATHSIG = 1
DRAIN_SECONDS = 30.0
WATCH_SECONDS = 1.0


def die_with_parent() -> bool:
    """In a worker of ``credit-risk serve``: stop (gracefully) when the supervisor dies. True when armed."""
    expected = os.environ.get(PARENT_ENV)
    if not expected or str(os.getpid()) == expected:  # not under `credit-risk serve`, or the supervisor itself
        return False
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:  # pragma: no cover - kernel refused
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s; relying on the watch thread", ctypes.get_errno())
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    return True


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    log.warning("the supervisor (pid %s) is gone: stopping this worker", parent)
    os.kill(os.getpid(), signal.SIGTERM)  # a no-op when PR_SET_PDEATHSIG has already asked
    time.sleep(DRAIN_SECONDS)
    os._exit(1)  # the graceful stop did not finish in time
