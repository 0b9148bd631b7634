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
