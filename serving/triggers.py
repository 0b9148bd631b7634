"""Direct triggers (直接判定): rules that set a tier regardless of the model, applied after it.

Each trigger is a row of core/rules/tiers.toml ``[[direct_trigger]]``: a code, zh/en label, the tier it
imposes, its source, and a condition — a snapshot feature at least a value (``feature``/``at_least``,
evaluated on snapshot rows and on live feature records) or a penalty still in effect carrying a sanction
(``sanction``, evaluated on warehouse records). Publication, live scoring, the repair what-if and the
cycle all reach them through serving.reasons.finalise; a firing trigger raises the tier (never lowers it) and becomes the first
reason, naming the records it fired on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core import rules
from core import tiers as core_tiers


@dataclass(frozen=True)
class Trigger:
    """One direct trigger of the rules table."""

    code: str
    zh: str
    en: str
    tier: str
    source: str
    feature: str | None = None
    at_least: float = 1.0
    record_kind: str | None = None  # the compliance records naming a feature trigger (e.g. serious_list)
    sanction: str | None = None

    @property
    def reason_code(self) -> str:
        return f"trigger.{self.code}"


def triggers() -> tuple[Trigger, ...]:
    """The direct triggers of core/rules/tiers.toml, in table order."""
    out = []
    codes = core_tiers.codes()
    for row in rules.load("tiers").get("direct_trigger", []):
        if row["tier"] not in codes:
            raise rules.RulesError(f"direct trigger {row['code']}: tier must be one of {codes}, got {row['tier']!r}")
        if ("feature" in row) == ("sanction" in row):
            raise rules.RulesError(f"direct trigger {row['code']}: expected exactly one of feature or sanction")
        out.append(Trigger(code=row["code"], zh=row["zh"], en=row["en"], tier=row["tier"], source=row["source"],
                           feature=row.get("feature"), at_least=float(row.get("at_least", 1)),
                           record_kind=row.get("record_kind"), sanction=row.get("sanction")))
    return tuple(out)


@dataclass
class Fired:
    """Which triggers fired on which rows, with the records each fired on (row → [(trigger, records)])."""

    rows: dict[int, list[tuple[Trigger, list[dict[str, Any]]]]]
    evaluated: tuple[str, ...]
    not_evaluated: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.evaluated, 0)
        for hits in self.rows.values():
            for t, _ in hits:
                out[t.code] += 1
        return out


def _feature_record(t: Trigger, value: Any) -> dict[str, Any]:
    return {"kind": "feature", "ref": t.feature, "date": None,
            "zh": f"特征 {t.feature} = {value:g}（据所评分的特征记录）",
            "en": f"feature {t.feature} = {value:g} (as the scored feature record states)"}


def evaluate(frame: pd.DataFrame, *, records: dict[str, dict[str, list]] | None = None,
             sanction_hits: dict[str, dict[str, list]] | None = None) -> Fired:
    """Evaluate every trigger on the rows of ``frame`` (snapshot rows or live feature records).

    Args:
        frame: rows with ``uscc`` and the trigger features that are present.
        records: reason records per uscc and dimension (features.reason_records), for naming the list entries.
        sanction_hits: penalties in effect per sanction and uscc (warehouse); None when no warehouse is at hand,
            and sanction triggers are then reported as not evaluated.
    """
    rows: dict[int, list[tuple[Trigger, list[dict[str, Any]]]]] = {}
    evaluated, skipped = [], []
    usccs = frame["uscc"].astype("object").to_numpy() if "uscc" in frame.columns else np.full(len(frame), None)
    for t in triggers():
        if t.feature is not None:
            if t.feature not in frame.columns:
                skipped.append(t.code)
                continue
            values = pd.to_numeric(frame[t.feature], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            for i in np.flatnonzero(values >= t.at_least):
                entity = (records or {}).get(usccs[i], {})
                refs = [r.to_dict() for r in entity.get("compliance", []) if r.kind == t.record_kind]
                rows.setdefault(int(i), []).append((t, refs or [_feature_record(t, values[i])]))
        else:
            if sanction_hits is None:
                skipped.append(t.code)
                continue
            hits = sanction_hits.get(t.sanction, {})
            for i, u in enumerate(usccs):
                if u in hits:
                    rows.setdefault(i, []).append((t, [r.to_dict() for r in hits[u]]))
        evaluated.append(t.code)
    return Fired(rows, tuple(evaluated), tuple(skipped))


def trigger_reason(t: Trigger, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The reason a firing trigger gives (kind ``trigger``), first in the reasons list."""
    return {"code": t.reason_code, "kind": "trigger", "dimension": "compliance",
            "zh": f"直接判定为{t.tier}类：{t.zh}", "en": f"direct trigger to class {t.tier}: {t.en}",
            "contribution": None, "records": records}


def raise_tiers(tiers: list[str], fired: Fired) -> list[str]:
    """Each fired row's tier raised to the worst its triggers impose (a trigger never lowers a tier)."""
    order = {c: i for i, c in enumerate(core_tiers.codes())}
    out = list(tiers)
    for i, hits in fired.rows.items():
        out[i] = max([out[i], *(t.tier for t, _ in hits)], key=order.__getitem__)
    return out


def lead_reasons(reasons: list[list[dict[str, Any]]], fired: Fired) -> list[list[dict[str, Any]]]:
    """Each fired row's reasons with its trigger reasons first."""
    out = list(reasons)
    for i, hits in fired.rows.items():
        out[i] = [trigger_reason(t, refs) for t, refs in hits] + list(out[i])
    return out
