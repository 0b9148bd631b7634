"""Sampling policy and inspection-item checklist, read from the sampling and inspection_items rules tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core import rules
from core import tiers as core_tiers
from core.errors import UserError


@dataclass(frozen=True)
class TierRule:
    """How one risk class is sampled: share drawn per item and plan, yearly cap, proactive or not."""

    code: str
    ratio: float
    max_checks_per_year: int
    proactive: bool
    cap_source: str = ""


@dataclass(frozen=True)
class Requirement:
    """A check drawn regardless of tier (the public-information floor, or one required by law or a higher
    authority): each calendar year at least ``share_per_year`` of the entities ``item`` concerns."""

    code: str  # "floor" or "required:<item>"
    item: str
    share_per_year: float
    source: str


@dataclass(frozen=True)
class Item:
    """One item of the checklist (抽查事项) and whom it concerns (any criterion matching suffices)."""

    code: str
    zh: str
    en: str
    specialty: str
    entity_types: tuple[str, ...] = ()
    licence_types: tuple[str, ...] = ()
    industry_prefixes: tuple[str, ...] = ()

    def applies(self, targets: pd.DataFrame) -> np.ndarray:
        """Boolean mask over ``targets`` (columns entity_type, industry_code, licence_types)."""
        mask = np.zeros(len(targets), dtype=bool)
        if self.entity_types:
            mask |= targets["entity_type"].isin(self.entity_types).to_numpy(dtype=bool)
        if self.industry_prefixes:
            codes = targets["industry_code"].fillna("").astype(str)
            mask |= codes.str.startswith(self.industry_prefixes).to_numpy(dtype=bool)
        if self.licence_types:
            held = targets["licence_types"].fillna("").astype(str)
            for lt in self.licence_types:
                mask |= (";" + held + ";").str.contains(f";{lt};", regex=False).to_numpy(dtype=bool)
        return mask


@dataclass(frozen=True)
class SamplingPolicy:
    """Everything the draw and the assignment need from the rules tables."""

    tiers: dict[str, TierRule]
    items: tuple[Item, ...]
    specialties: dict[str, tuple[str, str]]
    floor_share: float
    floor_item: str
    inspectors_per_inspection: int
    max_team_size: int
    recuse_previous_inspector: bool
    result_workdays: int
    capacity_mode: str
    triggers: dict[str, Any]
    versions: dict[str, str]
    required: tuple[Requirement, ...] = ()

    @property
    def mandatory(self) -> tuple[Requirement, ...]:
        """The floor first, then the checks required by law: what every plan year must hold, all tiers."""
        floor = Requirement("floor", self.floor_item, self.floor_share, "floor")
        return (floor, *self.required)

    def item(self, code: str) -> Item:
        for it in self.items:
            if it.code == code:
                return it
        raise UserError(f"unknown inspection item {code!r}; expected one of {[i.code for i in self.items]}")


def load_policy(*, sampling_path: str | None = None, items_path: str | None = None) -> SamplingPolicy:
    """Read the sampling policy (core/rules/sampling.toml) and the checklist (core/rules/inspection_items.toml)."""
    sampling = rules.load("sampling", sampling_path)
    checklist = rules.load("inspection_items", items_path)
    tier_codes = core_tiers.codes()
    table = sampling.get("tier", {})
    missing = [c for c in tier_codes if c not in table]
    if missing:
        raise rules.RulesError(f"sampling rules: expected a [tier.X] table for every class {tier_codes}, "
                               f"missing {missing}")
    tier_rules = {}
    for code in tier_codes:
        t = table[code]
        ratio = float(t["ratio"])
        if not 0.0 <= ratio <= 1.0:
            raise rules.RulesError(f"sampling rules: tier {code} ratio must be within 0..1, got {ratio}")
        proactive = bool(t.get("proactive", True)) and ratio > 0
        tier_rules[code] = TierRule(code, ratio, int(t["max_checks_per_year"]), proactive,
                                    str(t.get("max_checks_source", "")))
    specialties = {k: (v["zh"], v["en"]) for k, v in checklist.get("specialty", {}).items()}
    items = []
    for it in checklist.get("item", []):
        if it["specialty"] not in specialties:
            raise rules.RulesError(f"inspection item {it['code']}: unknown specialty {it['specialty']!r}")
        items.append(Item(
            code=it["code"], zh=it["zh"], en=it["en"], specialty=it["specialty"],
            entity_types=tuple(it.get("entity_types", ())), licence_types=tuple(it.get("licence_types", ())),
            industry_prefixes=tuple(it.get("industry_prefixes", ())),
        ))
    floor = sampling["floor"]
    required = []
    for entry in sampling.get("required", []):
        share = float(entry["share_per_year"])
        if not 0.0 < share <= 1.0:
            raise rules.RulesError(f"sampling rules: [[required]] {entry['item']} share_per_year must be within "
                                   f"0..1, got {share}")
        required.append(Requirement(f"required:{entry['item']}", str(entry["item"]), share, str(entry["source"])))
    policy = SamplingPolicy(
        tiers=tier_rules,
        items=tuple(items),
        specialties=specialties,
        floor_share=float(floor["share"]),
        floor_item=str(floor["item"]),
        inspectors_per_inspection=int(sampling["assignment"]["inspectors_per_inspection"]),
        max_team_size=int(sampling["assignment"].get("max_team_size", 4)),
        recuse_previous_inspector=bool(sampling["assignment"].get("recuse_previous_inspector", True)),
        result_workdays=int(sampling["publication"]["result_workdays"]),
        capacity_mode=str(sampling.get("capacity", {}).get("mode", "priority")),
        triggers=dict(sampling.get("triggers", {})),
        versions={"sampling": str(sampling["meta"]["version"]),
                  "inspection_items": str(checklist["meta"]["version"])},
        required=tuple(required),
    )
    for req in policy.mandatory:
        policy.item(req.item)  # the floor's and every required check's item must be on the checklist
    if len({req.item for req in policy.mandatory}) != len(policy.mandatory):
        raise rules.RulesError("sampling rules: the floor and [[required]] entries must name distinct items")
    if policy.capacity_mode not in ("priority", "proportional"):
        raise rules.RulesError(f"sampling rules: [capacity] mode must be priority or proportional, "
                               f"got {policy.capacity_mode!r}")
    if policy.inspectors_per_inspection < 2:
        raise rules.RulesError("sampling rules: at least 2 inspectors per inspection, "
                               f"got {policy.inspectors_per_inspection}")
    return policy


def applicability(targets: pd.DataFrame, policy: SamplingPolicy) -> pd.DataFrame:
    """Entity × item boolean frame: which checklist items concern which target."""
    return pd.DataFrame({it.code: it.applies(targets) for it in policy.items}, index=targets.index)
