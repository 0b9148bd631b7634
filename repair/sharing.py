"""Sharing results (信用信息共享): the outbound records of repairs and corrections for the credit-sharing platform.

Each decision that changes a record (a completed or revoked repair, a voided or corrected record) leaves a
row in the operational DB table ``credit_share_outbox`` in the decision's own transaction
(repair/workflow.py); :func:`export_shared` drops the rows not yet sent as a file with its schema.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core import audit
from core.opdb import engine
from core.settings import Settings
from repair import rules, store


def export_shared(settings: Settings, *, to: str | Path, actor: str, role: str | None = None,
                  include_exported: bool = False) -> SharedExport:
    """Write the not yet exported outbound records for the credit-sharing platform to a file in ``to``.

    One JSON Lines file per export (``credit-share-<UTC time>.jsonl``) beside the schema it follows
    (``credit-share-schema.json``); the rows are marked exported in the operational DB and the export
    is audited. Re-running exports nothing new unless ``include_exported``.
    """
    folder = Path(to)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    name = f"credit-share-{now:%Y%m%dT%H%M%S%fZ}.jsonl"
    eng = engine(settings)
    with eng.begin() as conn:
        q = sa.select(store.OUTBOX).order_by(store.OUTBOX.c.created_at, store.OUTBOX.c.share_id)
        if not include_exported:
            q = q.where(store.OUTBOX.c.exported_at.is_(None))
        rows = [dict(r) for r in conn.execute(q).mappings()]
        lines = [json.dumps(_shared_record(r), ensure_ascii=False, sort_keys=True) for r in rows]
        (folder / "credit-share-schema.json").write_text(json.dumps(SHARE_SCHEMA, ensure_ascii=False, indent=2)
                                                         + "\n", encoding="utf-8")
        path = folder / name
        if rows:
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            conn.execute(sa.update(store.OUTBOX).where(store.OUTBOX.c.share_id.in_([r["share_id"] for r in rows]))
                         .values(exported_at=now, export_file=name))
        audit.record(conn, actor=actor, role=role, action="repair.export_shared", subject=name if rows else None,
                     outcome=f"exported {len(rows)}", inputs={"to": str(folder), "records": len(rows),
                                                             "include_exported": include_exported},
                     versions=rules.versions())
    return SharedExport(path=str(path) if rows else None, records=len(rows),
                        messages=tuple(sorted({r["message"] for r in rows})))


@dataclass(frozen=True)
class SharedExport:
    """One file drop for the credit-sharing platform."""

    path: str | None  # None when there was nothing to export
    records: int
    messages: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# The outbound record's schema (JSON Schema), written beside every export.
SHARE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "credit-share record (信用修复与异议结果共享记录)",
    "type": "object",
    "required": ["schema_version", "share_id", "message", "uscc", "record_kind", "record_id", "effective_on",
                 "case_id", "authority", "created_at"],
    "properties": {
        "schema_version": {"type": "string", "description": "version of this schema"},
        "share_id": {"type": "string", "description": "unique id of the record (case id and event)"},
        "message": {"enum": ["repaired", "repair_revoked", "record_voided", "record_corrected"],
                    "description": "修复完成 / 撤销修复 / 记录撤销 / 记录更正"},
        "uscc": {"type": "string", "pattern": "^[0-9A-HJ-NP-RTUWXY]{18}$"},
        "record_kind": {"type": "string", "description": "penalty, abnormal_list, serious_list, inspection, ..."},
        "record_id": {"type": "string"},
        "effective_on": {"type": "string", "format": "date", "description": "the day the change takes effect"},
        "corrections": {"type": ["object", "null"], "description": "field -> corrected value (record_corrected)"},
        "case_id": {"type": "string"},
        "authority": {"type": "string", "description": "the deciding bureau"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


def _shared_record(row: dict[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    return {
        "schema_version": row["schema_version"], "share_id": row["share_id"], "message": row["message"],
        "uscc": row["uscc"], "record_kind": row["record_kind"], "record_id": row["record_id"],
        "effective_on": _iso(row["effective_on"]),
        "corrections": json.loads(row["corrections"]) if row["corrections"] else None,
        "case_id": row["case_id"], "authority": row["authority"],
        "created_at": _iso(created),
    }


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)
