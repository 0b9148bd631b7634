"""Published reasons: direct triggers first, then the model's risk-raising dimensions, each naming its records.

A reason is ``{code, kind, dimension, zh, en, contribution, records}`` (serving.schemas.Reason): ``kind`` is
``trigger``, ``override`` or ``model``; ``records`` are the concrete records behind it (penalty decision
numbers, list entries, missing report years, opinion titles, affiliates with their tier, ...) from
features.reason_records, or — where no warehouse record is at hand, e.g. a live feature record — the
feature that raised the dimension most, with its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from core import tiers as core_tiers
from serving import triggers as trig


@dataclass(frozen=True)
class Outcome:
    """Tiers and reasons after the triggers, in the rows' order, and which triggers fired."""

    tiers: list[str]
    reasons: list[list[dict[str, Any]]]
    fired: trig.Fired


def _feature_record(feature: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not feature:
        return []
    value = feature.get("value")
    shown = "缺失" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    shown_en = "missing" if value is None else shown
    return [{"kind": "feature", "ref": feature["name"], "date": None,
             "zh": f"{feature['zh']}：{shown}", "en": f"{feature['en']}: {shown_en}"}]


def _with_tier(ref: dict[str, Any], tiers_by_uscc: dict[str, str]) -> dict[str, Any]:
    tier = tiers_by_uscc.get(ref["ref"])
    if tier is None:
        return ref
    return {**ref, "zh": f"{ref['zh']}，本期风险分类 {tier} {core_tiers.label(tier).zh}",
            "en": f"{ref['en']}, class {tier} in this publication"}


def model_reason(reason: dict[str, Any], records: list[Any] | None,
                 tiers_by_uscc: dict[str, str] | None = None) -> dict[str, Any]:
    """One model reason with its records (RecordRef) or, lacking them, its top feature as the record."""
    refs = [r.to_dict() for r in records or []]
    if reason["dimension"] == "affiliates" and tiers_by_uscc:
        refs = [_with_tier(r, tiers_by_uscc) for r in refs]
    return {"code": f"model.{reason['dimension']}", "kind": "model", "dimension": reason["dimension"],
            "zh": reason["zh"], "en": reason["en"], "contribution": reason.get("contribution"),
            "records": refs or _feature_record(reason.get("feature"))}


def finalise(scores: pd.DataFrame, frame: pd.DataFrame, *,
             records: dict[str, dict[str, list]] | None = None,
             sanction_hits: dict[str, dict[str, list]] | None = None,
             affiliate_tiers: dict[str, str] | None = None) -> Outcome:
    """Apply the direct triggers to scored rows and give every reason its records.

    Args:
        scores: ``model.score(frame)`` (uscc, probability, tier, reasons), in the rows' order.
        frame: the scored rows (snapshot rows or live feature records).
        records, sanction_hits: from features.reason_records for the same as_of, when a warehouse is at hand.
        affiliate_tiers: the publication's tiers of the affiliates the records name, when ``frame`` is one batch
            of a larger publication (serving.publish); by default the tiers of the rows of ``frame``.
    """
    usccs = scores["uscc"].astype("object").tolist() if "uscc" in scores.columns else [None] * len(scores)
    fired = trig.evaluate(frame, records=records, sanction_hits=sanction_hits)
    tiers = trig.raise_tiers(scores["tier"].astype(str).tolist(), fired)
    if affiliate_tiers is not None:
        by_uscc = affiliate_tiers if records else {}
    else:
        by_uscc = dict(zip(usccs, tiers, strict=True)) if records else {}  # affiliates' tiers in this publication
    empty: dict[str, list] = {}
    reasons = [[model_reason(r, (records or {}).get(u, empty).get(r["dimension"]), by_uscc) for r in rs]
               for u, rs in zip(usccs, scores["reasons"], strict=True)]
    return Outcome(tiers, trig.lead_reasons(reasons, fired), fired)


def override_reason(override: dict[str, Any]) -> dict[str, Any]:
    """The first reason of an entity whose current tier is an active manual override."""
    created = override.get("created_at")
    day = created.date() if hasattr(created, "date") else created
    return {"code": "override", "kind": "override", "dimension": None,
            "zh": f"人工调整为{override['tier']}类（有效至 {override['expires_on']}），优先于模型和直接判定",
            "en": f"manual override to class {override['tier']} until {override['expires_on']}, "
                  "taking precedence over the model and the direct triggers",
            "contribution": None,
            "records": [{"kind": "override", "ref": str(override["override_id"]),
                         "date": day.isoformat() if isinstance(day, date) else None,
                         "zh": f"调整记录 {override['override_id']}（{override.get('created_by') or ''}）",
                         "en": f"override {override['override_id']} (by {override.get('created_by') or ''})"}]}


def reason_lines(reasons: list[dict[str, Any]], *, indent: str = "  ") -> list[str]:
    """Reasons as text lines for the CLI: each reason (zh / en) with its records beneath it."""
    lines = []
    for r in reasons:
        c = r.get("contribution")
        lines.append(f"{indent}[{r.get('kind') or 'model'}] {r['zh']} / {r['en']}"
                     + (f"  (+{c:.3f} log-odds)" if c is not None else ""))
        lines += [f"{indent}    - {rec['zh']} / {rec['en']}" for rec in r.get("records") or []]
    return lines
