"""List entries in effect on a day — serious list, abnormal list, other departments' lists — with their end
dates, read from the same point-in-time stages as the features (for the restriction check, serving/restrictions.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from core.publicity import publicity_rules
from features import snapshot

# the stages the list entries need (built from features.snapshot's list, in its order)
_NEEDED = ("_repairs_in_effect", "_records_voided", "_listings_in_effect", "_dept_lists_in_effect")


@dataclass(frozen=True)
class ListEntry:
    """One list entry in effect: which list (``record_kind`` serious_list | abnormal_list | dept_list, with the
    department's ``list_kind``), its id, listing date, planned end (None: until removed), the abnormal reason or
    serious-list domain (``detail``), and for other departments' lists who listed it and the document number."""

    uscc: str
    record_kind: str
    list_kind: str | None
    ref: str
    listed_date: date
    end_date: date | None
    detail: str | None = None
    department: str | None = None
    document_number: str | None = None


@dataclass(frozen=True)
class EntriesInEffect:
    """Every entity's list entries in effect on ``on`` and the registration status of every known entity."""

    on: date
    entries: dict[str, tuple[ListEntry, ...]]
    statuses: dict[str, str]


def _sql() -> str:
    months = publicity_rules()["serious_auto_removal_months"]
    return f"""
SELECT uscc, list_kind AS record_kind, CAST(NULL AS VARCHAR) AS list_kind, listing_id, listed_date,
       CASE WHEN list_kind = 'serious_list' THEN CAST(listed_date + INTERVAL {int(months)} MONTH AS DATE) END,
       COALESCE(reason, domain), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
FROM _listings_in_effect
UNION ALL
SELECT uscc, 'dept_list', list_kind, listing_id, listed_date, effect_end, CAST(NULL AS VARCHAR), department,
       document_number
FROM _dept_lists_in_effect
ORDER BY 1, 5 DESC, 4"""


def entries_in_effect(con: duckdb.DuckDBPyConnection, *, on: date) -> EntriesInEffect:
    """The list entries in effect on the day ``on`` (records known by the end of that day).

    Args:
        con: a warehouse connection (the service's read-only copy: features.warehouse.reader); temporary
            views and tables are created on it.
        on: the day; the stages are built at ``on + 1 day`` (a snapshot at as_of sees records before it).
    """
    as_of = on + timedelta(days=1)
    snapshot.prepare_views(con, as_of)
    params = snapshot.params(as_of)
    for table, file in (s for s in snapshot.stage_files() if s[0] in _NEEDED):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {snapshot.render(snapshot.sql_text(file), params)}")
    entries: dict[str, list[ListEntry]] = {}
    for row in con.execute(_sql()).fetchall():
        entries.setdefault(row[0], []).append(ListEntry(*row))
    statuses = dict(con.execute(
        "SELECT uscc, CASE WHEN status_date >= ? THEN 'active' ELSE status END FROM _pit_entities "
        "WHERE known_date IS NULL OR known_date < ?", [as_of, as_of]).fetchall())
    return EntriesInEffect(on, {u: tuple(v) for u, v in entries.items()}, statuses)
