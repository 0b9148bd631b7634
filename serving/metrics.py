"""The service's Prometheus metrics, labelled by route template so that their number of series is bounded.

BentoML's own traffic metrics label requests by their raw path (one series per credit code asked for);
they are switched off and these take their place at ``/metrics``.
"""

from __future__ import annotations

import gc
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """Requests by route template, method and status; their durations; refused requests; audit backlog."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("credit_risk_http_requests", "HTTP requests by route template, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.duration = Histogram("credit_risk_http_request_duration_seconds", "time to answer, by route template",
                                  ["route"], buckets=BUCKETS, registry=self.registry)
        self.refused = Counter("credit_risk_http_refused", "requests refused before any route ran "
                               "(401 no valid key, 429 over the key's rate)", ["status"], registry=self.registry)
        self.audit_backlog = Gauge("credit_risk_audit_backlog", "audit entries waiting to be written",
                                   registry=self.registry)
        self.audit_failing = Gauge("credit_risk_audit_failing", "1 while audit writes fail", registry=self.registry)
        self.gc = GcPauses()
        self.registry.register(self.gc)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.duration.labels(route).observe(seconds)
        if status in (401, 429):
            self.refused.labels(str(status)).inc()

    def render(self, runtime) -> bytes:
        """The exposition text, with the audit writer's state read now."""
        self.audit_backlog.set(runtime.audit.backlog())
        self.audit_failing.set(1 if runtime.audit.last_error else 0)
        return generate_latest(self.registry)


class GcPauses:
    """Garbage-collector pauses per generation (count, total and longest), measured by a gc callback.

    The callback only updates plain numbers: it may run inside any allocation, even one made while a
    metrics lock is held, so it must take no lock itself.
    """

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        gen = info.get("generation", 2)
        pause = time.perf_counter() - self._started
        self.count[gen] += 1
        self.seconds[gen] += pause
        self.longest[gen] = max(self.longest[gen], pause)

    def collect(self):
        count = CounterMetricFamily("credit_risk_gc_collections", "collections by generation", labels=["generation"])
        total = CounterMetricFamily("credit_risk_gc_pause_seconds", "time in collections", labels=["generation"])
        longest = GaugeMetricFamily("credit_risk_gc_longest_pause_seconds", "longest collection since start",
                                    labels=["generation"])
        for g in range(3):
            count.add_metric([str(g)], self.count[g])
            total.add_metric([str(g)], self.seconds[g])
            longest.add_metric([str(g)], self.longest[g])
        frozen = GaugeMetricFamily("credit_risk_gc_frozen_objects", "objects moved out of the collector's reach "
                                   "by gc.freeze() at start-up")
        frozen.add_metric([], gc.get_freeze_count())
        yield from (count, total, longest, frozen)
