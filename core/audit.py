"""The audit log: who did what, when, with which inputs and versions, and how it ended.

Never pass personal data here: subjects are credit codes, case ids or plan ids.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

AUDIT = sa.table(
    "audit_log",
    sa.column("id"), sa.column("at"), sa.column("actor"), sa.column("role"), sa.column("action"),
    sa.column("subject"), sa.column("inputs"), sa.column("versions"), sa.column("outcome"),
)


def record(conn: Connection, *, actor: str, action: str, outcome: str, subject: str | None = None,
           role: str | None = None, inputs: dict[str, Any] | None = None,
           versions: dict[str, Any] | None = None) -> None:
    """Append one audit entry inside the caller's transaction."""
    conn.execute(sa.insert(AUDIT).values(
        at=datetime.now(UTC), actor=actor, role=role, action=action, subject=subject,
        inputs=json.dumps(inputs or {}, ensure_ascii=False, default=str, sort_keys=True),
        versions=json.dumps(versions or {}, ensure_ascii=False, default=str, sort_keys=True),
        outcome=outcome[:200],
    ))


def entries(conn: Connection, *, action: str | None = None, subject: str | None = None,
            limit: int = 100) -> list[dict[str, Any]]:
    """Newest audit entries, optionally filtered by action and subject."""
    q = sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
    if action:
        q = q.where(AUDIT.c.action == action)
    if subject:
        q = q.where(AUDIT.c.subject == subject)
    rows = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        row["inputs"] = json.loads(row["inputs"] or "{}")
        row["versions"] = json.loads(row["versions"] or "{}")
        rows.append(row)
    return rows
