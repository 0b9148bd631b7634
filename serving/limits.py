"""The service's own limits (not regulatory parameters): batch and body sizes, paging, dates, request rates.

Every bound a request can hit is declared here once, used by the schemas, the routes and the middleware,
and documented in the OpenAPI page. ``CREDIT_RISK_RATE_LIMIT`` (requests per second per key),
``CREDIT_RISK_MAX_BODY_MB`` and ``CREDIT_RISK_REFUSED_AUDIT_SECONDS`` are read when the service starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

MAX_BATCH = 10_000  # items in one POST /score
MAX_PAGE_SIZE = 1_000
MAX_PAGE = 1_000_000  # page numbers beyond this are refused (page * page_size stays a small integer)
MAX_OFFSET = 10_000_000
MAX_ID = 2**31 - 1  # integer ids in paths (SQLite and PostgreSQL integer columns)
MIN_DATE = date(1949, 10, 1)  # no market entity record predates the People's Republic's registers
MAX_DATE = date(2199, 12, 31)
MAX_CODE_CHARS = 32  # a credit code longer than this is not a typo of one: the request is malformed
MAX_LIST_ROWS = 200_000  # rows of one uploaded list


@dataclass(frozen=True)
class ServiceLimits:
    """Limits read at start-up: body size (bytes), the default per-key rate (requests/s, burst of 1 s), and
    how often refused requests are summarised in the audit log (seconds)."""

    max_body_bytes: int = 32 * 1024 * 1024
    rate_per_key: float = 2_000.0
    refused_audit_seconds: float = 60.0

    @classmethod
    def from_env(cls) -> ServiceLimits:
        body_mb = float(os.environ.get("CREDIT_RISK_MAX_BODY_MB") or 32)
        rate = float(os.environ.get("CREDIT_RISK_RATE_LIMIT") or 2_000)
        every = float(os.environ.get("CREDIT_RISK_REFUSED_AUDIT_SECONDS") or 60)
        if min(body_mb, rate, every) <= 0:
            raise ValueError(f"CREDIT_RISK_MAX_BODY_MB, CREDIT_RISK_RATE_LIMIT, CREDIT_RISK_REFUSED_AUDIT_SECONDS: "
                             f"expected positive numbers, got {body_mb}, {rate}, {every}")
        return cls(max_body_bytes=int(body_mb * 1024 * 1024), rate_per_key=rate, refused_audit_seconds=every)
