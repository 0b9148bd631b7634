"""Training labels: an adverse regulatory event in the horizon after each as_of (core/rules/labels.toml)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from core import inspection_results, rules
from core.publicity import penalty_class_sql, penalty_classes, publicity_rules
from features.snapshot import Sql, render
from features.sources import SANCTIONS
from features.warehouse import first_row

RULES = "labels"


def definition(name: str = RULES) -> dict[str, Any]:
    """The label definition (its [label] table, events and split), with the rules version."""
    data = rules.load(name)
    if not data.get("event"):
        raise rules.RulesError(f"core/rules/{name}.toml: expected at least one [[event]], got none")
    return data


def placeholders() -> dict[str, Any]:
    """Values of the placeholders an event condition may use, from the publicity and inspection-result tables."""
    published = [c.code for c in penalty_classes() if c.published]
    klass = penalty_class_sql(sanctions=SANCTIONS, p="penalties",
                              entity_type="(SELECT x.entity_type FROM entities x WHERE x.uscc = penalties.uscc)")
    return {
        "penalty_published": Sql(f"({klass}) IN (" + ", ".join(f"'{c}'" for c in published) + ")"),
        "serious_void_removals": list(publicity_rules()["serious_void_removals"]) or Sql("NULL"),
        "adverse_results": list(inspection_results.codes(adverse_event=True)) or Sql("NULL"),
    }


def events_sql(name: str = RULES) -> str:
    """One standard-SQL query listing every adverse event as (uscc, event_date, code)."""
    values = placeholders()
    parts = []
    for ev in definition(name)["event"]:
        where = render(ev["where"], values)
        parts.append(f"SELECT uscc, CAST({ev['date']} AS DATE) AS event_date, '{ev['code']}' AS code "
                     f"FROM {ev['table']} WHERE uscc IS NOT NULL AND {ev['date']} IS NOT NULL AND ({where})")
    return "\nUNION ALL\n".join(parts)


def data_end(con) -> date | None:
    """The newest date any event table is known to (the end of complete label windows)."""
    tables = sorted({ev["table"] for ev in definition()["event"]} - {"entities", "licences"})
    q = " UNION ALL ".join(f"SELECT MAX(known_date) AS d FROM {t}" for t in tables)
    value = first_row(con, f"SELECT MAX(d) FROM ({q}) AS t")[0]
    return pd.Timestamp(value).date() if value is not None else None


def compute(con, spine: pd.DataFrame, *, end: date | None = None, name: str = RULES) -> pd.DataFrame:
    """Label every (uscc, as_of) of ``spine`` from the warehouse tables.

    Args:
        con: a DuckDB connection to the warehouse.
        spine: rows with ``uscc`` and ``as_of``.
        end: the last date the sources are complete (default: newest known_date in the event tables).
    Returns:
        ``uscc, as_of, label (0/1), events (codes, ';'-joined), complete`` — ``complete`` is False where
        the horizon reaches past ``end`` (such rows must not be trained or evaluated on).
    """
    rule = definition(name)
    months = int(rule["label"]["horizon_months"])
    end = end or data_end(con)
    pairs = spine[["uscc", "as_of"]].drop_duplicates().copy()
    pairs["as_of"] = pd.to_datetime(pairs["as_of"]).dt.date
    con.register("_label_spine", pairs)
    try:
        out = con.execute(f"""
            WITH ev AS ({events_sql(name)})
            SELECT s.uscc, s.as_of,
                   CASE WHEN COUNT(ev.code) > 0 THEN 1 ELSE 0 END AS label,
                   STRING_AGG(DISTINCT ev.code, ';' ORDER BY ev.code) AS events
            FROM _label_spine AS s
            LEFT JOIN ev ON ev.uscc = s.uscc AND ev.event_date > s.as_of
                        AND ev.event_date <= s.as_of + INTERVAL '{months}' MONTH
            GROUP BY s.uscc, s.as_of
        """).df()
    finally:
        con.unregister("_label_spine")
    out["as_of"] = pd.to_datetime(out["as_of"]).dt.date
    horizon_end = (pd.to_datetime(out["as_of"]) + pd.DateOffset(months=months)).dt.date
    out["complete"] = (horizon_end <= end) if end is not None else False
    out["label"] = out["label"].astype(int)
    return out


def info(name: str = RULES) -> dict[str, Any]:
    """What a model records about its label."""
    rule = definition(name)
    return {"name": rule["label"]["name"], "horizon_months": int(rule["label"]["horizon_months"]),
            "events": [ev["code"] for ev in rule["event"]], "rules_version": rules.version(name)}
