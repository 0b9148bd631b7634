"""The service's Prometheus metrics, labelled by route template so that their number of series is bounded.

BentoML's own traffic metrics label requests by their raw path (one series per credit code asked for);
they are switched off and these take their place at ``/metrics``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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
