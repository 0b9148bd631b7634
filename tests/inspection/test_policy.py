"""The sampling policy and checklist come from rules tables with sources; items apply only where they should."""

import pandas as pd

from core import rules
from inspection.policy import applicability


def test_rules_tables_carry_meta_and_the_regulatory_parameters(policy):
    assert rules.version("sampling") == policy.versions["sampling"]
    assert not policy.tiers["A"].proactive and policy.tiers["A"].max_checks_per_year == 0
    assert policy.tiers["D"].ratio > policy.tiers["C"].ratio > policy.tiers["B"].ratio > 0
    assert policy.floor_share == 0.03 and policy.inspectors_per_inspection >= 2
    assert policy.result_workdays == 20
    assert all(rules.load("inspection_items")["item"][i].get("source") for i in range(len(policy.items)))


def test_items_apply_to_the_entities_they_concern(policy):
    t = pd.DataFrame({
        "uscc": ["a", "b", "c", "d"],
        "entity_type": ["limited_company", "individual", "limited_company", "cooperative"],
        "industry_code": ["6210", "6210", "6110", "0141"],
        "licence_types": ["food_business", "", "special_equipment", ""],
    })
    app = applicability(t, policy).set_index(t["uscc"])
    assert list(app["food_business_safety"]) == [True, False, False, False]
    assert list(app["special_equipment_use"]) == [False, False, True, False]
    assert list(app["annual_report_public_info"]) == [True, False, True, True]
    assert list(app["individual_public_info"]) == [False, True, False, False]
    assert list(app["price_conduct"]) == [True, True, True, False]  # catering and lodging face consumers
    assert not app.loc["d", "advertising_conduct"]  # a farming cooperative is not consumer-facing


def test_yearly_caps_follow_their_sources_and_unsourced_numbers_say_unverified(policy):
    caps = {code: t.max_checks_per_year for code, t in policy.tiers.items()}
    assert caps["A"] == 0 and caps["B"] == 1  # 无事不扰; Lindian B "1 check a year"
    assert caps["C"] == 1 and "fewer than 2" in policy.tiers["C"].cap_source  # Lindian C "<2 a year"
    assert "UNVERIFIED" in policy.tiers["D"].cap_source  # no notice gives a yearly count for D
    assert all(t.cap_source for t in policy.tiers.values())
    assert {r.item for r in policy.required} == {"food_production_safety", "special_equipment_use"}
    assert all(r.source for r in policy.required) and policy.mandatory[0].item == policy.floor_item
    table = rules.load("sampling")
    assert "UNVERIFIED" in table["assignment"]["source"]  # max_team_size has no primary text
    assert "UNVERIFIED" in table["triggers"]["source"]
