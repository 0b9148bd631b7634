"""One hand-built fixture per dimension, with expected values computed by hand (as_of 2024-07-15)."""

from __future__ import annotations

import math
from datetime import date

import pytest

from tests.features.conftest import code

AS_OF = date(2024, 7, 15)
A, B, C, D, E, F = (code(i) for i in range(1, 7))


def test_attributes_are_computed_for_active_entities_only(wh):
    wh.entity(A, established=date(2014, 7, 15), registered_capital=2_000_000.0, industry_code="6210", town_code="T07")
    wh.entity(B, entity_type="individual", registered_capital=None, industry_code="5610")
    wh.entity(C, entity_type="branch", parent_uscc=A)
    wh.entity(D, is_foreign_invested=True)
    wh.entity(E, status="deregistered", status_date=date(2024, 1, 1))  # exited before as_of
    wh.entity(F, status="revoked", status_date=date(2024, 8, 1))  # exits later: still active at as_of
    wh.entity(code(7), established=date(2024, 8, 1))  # not yet established
    f = wh.snapshot(AS_OF)
    assert sorted(f.index) == sorted([A, B, C, D, F])
    assert f.loc[A, "entity_age_years"] == pytest.approx(3653 / 365.25)
    assert f.loc[A, "registered_capital_yuan"] == 2_000_000
    assert f.loc[A, "registered_capital_missing_flag"] == 0
    assert f.loc[A, "industry_division_cat"] == "62" and f.loc[A, "town_cat"] == "T07"
    assert math.isnan(f.loc[B, "registered_capital_yuan"]) and f.loc[B, "registered_capital_missing_flag"] == 1
    assert f.loc[B, "entity_type_cat"] == "individual" and f.loc[B, "industry_division_cat"] == "56"
    assert (f.loc[C, "branch_flag"], f.loc[A, "branch_flag"]) == (1, 0)
    assert (f.loc[D, "foreign_invested_flag"], f.loc[A, "foreign_invested_flag"]) == (1, 0)
    assert f.loc[A, "entity_type"] == "limited_company" and f.loc[A, "town_code"] == "T07"


def test_registration_changes_and_licences(wh):
    wh.entity(A)
    wh.add("changes", uscc=A, change_date=date(2024, 1, 10), item="legal_rep")  # in 365d
    wh.add("changes", uscc=A, change_date=date(2023, 1, 5), item="address")  # in 730d only
    wh.add("changes", uscc=A, change_date=date(2022, 1, 1), item="legal_rep")  # outside 730d
    wh.add("changes", uscc=A, change_date=date(2024, 7, 20), item="capital")  # after as_of
    wh.add("changes", uscc=A, change_date=date(2024, 6, 1), item="scope", known_date=date(2024, 8, 1))  # known later
    wh.add("licences", uscc=A, licence_type="food_business", issued=date(2020, 1, 1), expires=date(2025, 1, 1),
           status="valid")
    wh.add("licences", uscc=A, licence_type="special_equipment", issued=date(2019, 1, 1), expires=date(2024, 1, 1),
           status="valid")  # expired by date
    wh.add("licences", uscc=A, licence_type="drug_retail", issued=date(2018, 1, 1), status="revoked",
           status_date=date(2023, 5, 1))
    wh.add("licences", uscc=A, licence_type="industrial_product", issued=date(2020, 1, 1), status="revoked",
           status_date=date(2024, 9, 1))  # revoked after as_of: valid at as_of
    r = wh.snapshot(AS_OF).loc[A]
    assert r["change_count_365d"] == 1
    assert r["legal_rep_change_count_730d"] == 1
    assert r["address_change_count_730d"] == 1
    assert r["capital_change_count_730d"] == 0
    assert r["licence_valid_count"] == 2
    assert r["licence_lapsed_type_count"] == 2
    assert r["licence_revoked_count"] == 1
    assert (r["food_licence_flag"], r["special_equipment_licence_flag"]) == (1, 0)


def _report(wh, uscc, year, filed, **kw):
    return wh.add("annual_reports", uscc=uscc, year=year, filed_date=filed, **kw)


def test_annual_reports_count_only_due_years(wh):
    wh.entity(A, established=date(2015, 3, 1))
    wh.entity(B, established=date(2023, 3, 1))
    wh.entity(C, established=date(2024, 2, 1))
    wh.entity(D, established=date(2010, 1, 1))
    # A: 2021 on time, 2022 40 days late, 2023 (due 2024-06-30) missing
    _report(wh, A, 2021, date(2022, 5, 1), employees=10, revenue=800_000.0)
    _report(wh, A, 2022, date(2023, 8, 9), employees=12, social_insurance_staff=6, revenue=1_000_000.0,
            assets=2_000_000.0, liabilities=1_500_000.0)
    # B: its only due year (2023) filed on time
    _report(wh, B, 2023, date(2024, 6, 10), employees=0, revenue=0.0, tax=0.0)
    # D: 2022 filed but known only after as_of, 2023 filed after as_of: all three due years missing
    _report(wh, D, 2022, date(2023, 6, 1), known_date=date(2024, 8, 1))
    _report(wh, D, 2023, date(2024, 7, 20))
    f = wh.snapshot(AS_OF)
    a, b, c, d = (f.loc[x] for x in (A, B, C, D))
    assert (a["annual_report_missing_count_3y"], a["annual_report_consecutive_missing_years"]) == (1, 1)
    assert a["annual_report_late_days_last"] == 15  # 2024-06-30 -> 2024-07-15, still running
    assert a["annual_report_on_time_share_3y"] == pytest.approx(1 / 3)
    assert a["annual_report_undisclosed_share_last"] == pytest.approx(2 / 7)  # tax and profit
    assert a["annual_report_not_yet_due_flag"] == 0 and a["annual_report_zero_filled_flag_last"] == 0
    assert (b["annual_report_missing_count_3y"], b["annual_report_late_days_last"]) == (0, 0)
    assert b["annual_report_on_time_share_3y"] == 1.0
    assert b["annual_report_zero_filled_flag_last"] == 1
    assert c["annual_report_not_yet_due_flag"] == 1 and c["annual_report_missing_count_3y"] == 0
    assert math.isnan(c["annual_report_late_days_last"]) and math.isnan(c["annual_report_on_time_share_3y"])
    assert (d["annual_report_missing_count_3y"], d["annual_report_consecutive_missing_years"]) == (3, 3)
    assert d["annual_report_on_time_share_3y"] == 0.0


def test_operations_use_latest_known_reports(wh):
    wh.entity(A)
    wh.entity(B, registered_capital=20_000_000.0)
    wh.entity(C, entity_type="individual", registered_capital=None)
    _report(wh, A, 2021, date(2022, 5, 1), employees=10, revenue=800_000.0)
    _report(wh, A, 2022, date(2023, 5, 9), employees=12, social_insurance_staff=6, revenue=1_000_000.0,
            assets=2_000_000.0, liabilities=1_500_000.0, tax=30_000.0, profit=-5.0)
    _report(wh, A, 2023, date(2024, 7, 1), employees=99, known_date=date(2024, 7, 20))  # known after as_of
    f = wh.snapshot(AS_OF)
    a = f.loc[A]
    assert (a["employees_last"], a["revenue_yuan_last"], a["tax_yuan_last"]) == (12, 1_000_000, 30_000)
    assert a["liabilities_to_assets_ratio_last"] == pytest.approx(0.75)
    assert a["social_insurance_coverage_ratio_last"] == pytest.approx(0.5)
    assert a["profit_negative_flag_last"] == 1
    assert a["revenue_change_ratio_last"] == pytest.approx(0.25)
    assert a["employees_change_ratio_last"] == pytest.approx(0.2)
    assert a["financials_no_report_flag"] == 0
    assert f.loc[B, "financials_no_report_flag"] == 1 and math.isnan(f.loc[B, "employees_last"])
    # size band: employees when known, else registered capital, else unknown
    assert (f.loc[A, "size_band"], f.loc[B, "size_band"], f.loc[C, "size_band"]) == ("small", "medium", "unknown")


def test_compliance_counts_records_in_effect(wh):
    wh.entity(A)
    wh.entity(B)
    wh.entity(C)
    pen = dict(uscc=A, domain="quality", procedure="ordinary", severity="ordinary", sanctions="fine")
    wh.add("penalties", **pen, decided_date=date(2024, 3, 1), fine_amount=80_000.0, publicity_end=date(2027, 3, 1))
    wh.add("penalties", **{**pen, "domain": "price", "severity": "serious", "sanctions": "fine;confiscation"},
           decided_date=date(2022, 1, 10), fine_amount=200_000.0, publicity_end=date(2025, 1, 10))
    wh.add("penalties", **{**pen, "procedure": "simple", "sanctions": "warning"}, decided_date=date(2024, 2, 1),
           publicity_end=date(2024, 5, 1))  # publicity over
    wh.add("penalties", **pen, decided_date=date(2024, 4, 1), leniency=True)  # first-violation leniency
    wh.add("penalties", **{**pen, "domain": "food"}, decided_date=date(2023, 10, 1), fine_amount=3000.0)  # low fine:
    # no publicity end recorded -> 3 months (publicity.toml) -> over by as_of
    wh.add("penalties", **{**pen, "domain": "special_equipment", "severity": "serious",
                           "sanctions": "fine;suspend_business"}, decided_date=date(2024, 6, 1), fine_amount=10_000.0)
    # no publicity end, heavy sanction -> 36 months -> in effect
    rep = wh.add("penalties", **pen, decided_date=date(2024, 1, 5), publicity_end=date(2027, 1, 5))
    wh.add("repairs", record_kind="penalty", record_id=rep["penalty_id"], uscc=A, repaired_date=date(2024, 6, 1),
           known_date=date(2024, 6, 1))
    wh.add("abnormal_list", uscc=A, listed_date=date(2024, 1, 10), reason="unreachable")
    wh.add("abnormal_list", uscc=B, listed_date=date(2023, 1, 1), reason="no_annual_report",
           removed_date=date(2024, 3, 1), removal_reason="report_filed")
    ab = wh.add("abnormal_list", uscc=C, listed_date=date(2024, 5, 1), reason="no_annual_report")
    wh.add("repairs", record_kind="abnormal_list", record_id=ab["listing_id"], uscc=C, repaired_date=date(2024, 7, 1))
    wh.add("serious_list", uscc=A, listed_date=date(2020, 1, 1), domain="food")  # past the 36-month removal
    wh.add("serious_list", uscc=B, listed_date=date(2023, 5, 1), domain="food")
    ins = dict(uscc=A, items="food")
    wh.add("inspections", **ins, inspection_date=date(2024, 1, 1), kind="random", result="no_issue")
    wh.add("inspections", **ins, inspection_date=date(2023, 5, 1), kind="targeted", result="case_opened")
    wh.add("inspections", **ins, inspection_date=date(2022, 9, 1), kind="complaint", result="not_found_at_address")
    wh.add("inspections", **ins, inspection_date=date(2022, 5, 1), kind="random", result="issue_corrected")  # >730d
    wh.add("inspections", **ins, inspection_date=date(2024, 7, 10), kind="random", result="case_opened",
           known_date=date(2024, 7, 20))
    f = wh.snapshot(AS_OF)
    a = f.loc[A]
    assert a["penalty_in_effect_count"] == 3
    assert a["penalty_count_365d"] == 2
    assert a["penalty_ordinary_count_in_effect"] == 3
    assert a["penalty_serious_count_in_effect"] == 2
    assert a["penalty_fine_yuan_in_effect"] == 290_000
    assert a["penalty_domain_count_in_effect"] == 3
    assert a["penalty_days_since_last"] == 44
    assert (a["abnormal_list_current_flag"], a["abnormal_list_unreachable_flag"]) == (1, 1)
    assert a["abnormal_list_days_listed"] == 187
    assert a["serious_list_current_flag"] == 0
    assert (f.loc[B, "abnormal_list_current_flag"], f.loc[B, "serious_list_current_flag"]) == (0, 1)
    assert f.loc[C, "abnormal_list_current_flag"] == 0
    assert math.isnan(f.loc[B, "penalty_days_since_last"]) and f.loc[B, "penalty_in_effect_count"] == 0
    assert (a["inspection_count_730d"], a["inspection_issue_count_730d"]) == (3, 2)
    assert (a["inspection_case_opened_count_730d"], a["inspection_not_found_count_730d"]) == (1, 1)


def test_opinions_and_complaints(wh):
    wh.entity(A, name="青岩山庄酒店有限公司")
    wh.entity(B)
    op = dict(source="news", title="标题", text="正文")
    wh.add("opinions", **op, uscc=A, published_date=date(2024, 6, 1), vendor_sentiment="negative", reach=99)
    wh.add("opinions", **op, uscc=A, published_date=date(2024, 1, 1), vendor_sentiment="neutral", reach=10)
    scored = wh.add("opinions", **op, uscc=A, published_date=date(2023, 9, 1), reach=0)  # no vendor label
    wh.add("opinions", **op, uscc=None, company_name="青岩山庄酒店有限公司", match_method="unmatched",
           published_date=date(2024, 5, 1), vendor_sentiment="negative", reach=5000)  # not matched: not A's
    wh.add("opinions", **op, uscc=A, published_date=date(2024, 7, 20), vendor_sentiment="negative")  # after
    wh.add("opinions", **op, uscc=A, published_date=date(2022, 12, 1), vendor_sentiment="negative")  # > 365d
    wh.con.execute("CREATE TABLE opinion_scores (opinion_id VARCHAR, negative_probability DOUBLE, model_id VARCHAR)")
    wh.con.execute("INSERT INTO opinion_scores VALUES (?, 0.9, 'test')", [scored["opinion_id"]])
    c = dict(uscc=A, category="food")
    wh.add("complaints", **c, received_date=date(2024, 3, 1), upheld=True, handled_date=date(2024, 4, 1))
    wh.add("complaints", **c, received_date=date(2024, 6, 20), upheld=True, handled_date=date(2024, 7, 20))
    wh.add("complaints", **c, received_date=date(2023, 1, 10), upheld=False, handled_date=date(2023, 2, 1))
    wh.add("complaints", **c, received_date=date(2024, 7, 16), upheld=True, handled_date=date(2024, 7, 17))
    a = wh.snapshot(AS_OF).loc[A]
    assert a["opinion_item_count_365d"] == 3
    assert a["opinion_negative_count_365d"] == 2
    assert a["opinion_negative_count_90d"] == 1
    assert a["opinion_negative_reach_weighted_365d"] == pytest.approx(math.log(100))
    assert (a["complaint_count_365d"], a["complaint_upheld_count_365d"]) == (2, 1)
    assert a["complaint_count_730d"] == 3
    assert a["complaint_upheld_share_730d"] == pytest.approx(0.5)


def test_affiliates_through_people_links_and_address(wh):
    addr = "贵州省某区同心路1号"
    wh.entity(A, address=addr)
    wh.entity(B, address=addr)
    wh.entity(C, address=addr)
    wh.entity(D, address=addr)
    wh.entity(E, status="revoked", status_date=date(2023, 1, 1), address=addr)  # exited: an affiliate, not at addr
    wh.entity(F)
    rel = dict(relation_type="legal_rep", start_date=date(2016, 1, 1))
    wh.add("relations", **rel, uscc=A, person_key="P1")
    wh.add("relations", **rel, uscc=B, person_key="P1")
    wh.add("relations", **{**rel, "relation_type": "shareholder"}, uscc=A, person_key="P2")
    wh.add("relations", **{**rel, "relation_type": "shareholder"}, uscc=E, person_key="P2")
    wh.add("relations", **rel, uscc=A, person_key="P3", end_date=date(2024, 1, 1))  # ended
    wh.add("relations", **rel, uscc=C, person_key="P3")
    wh.add("relations", relation_type="legal_rep", uscc=D, person_key="P4", start_date=date(2024, 8, 1))  # later
    wh.add("relations", relation_type="legal_rep", uscc=B, person_key="P4", start_date=date(2024, 8, 1))
    wh.add("relations", relation_type="enterprise_shareholder", uscc=D, related_uscc=A, start_date=date(2018, 1, 1))
    # a person tied to 51 entities (over the cap of 50) pairs nobody
    for i in range(50):
        wh.entity(code(100 + i), address=f"别处{i}")
        wh.add("relations", **rel, uscc=code(100 + i), person_key="P9")
    wh.add("relations", **rel, uscc=F, person_key="P9")
    wh.add("serious_list", uscc=B, listed_date=date(2023, 5, 1), domain="food")
    wh.add("abnormal_list", uscc=D, listed_date=date(2024, 2, 1), reason="no_annual_report")
    wh.add("penalties", uscc=B, decided_date=date(2024, 2, 1), domain="food", procedure="ordinary",
           severity="ordinary", sanctions="fine", fine_amount=10_000.0, publicity_end=date(2027, 2, 1))
    wh.add("penalties", uscc=E, decided_date=date(2022, 2, 1), domain="food", procedure="ordinary",
           severity="ordinary", sanctions="fine", fine_amount=10_000.0, publicity_end=date(2025, 2, 1))
    f = wh.snapshot(AS_OF)
    a = f.loc[A]
    assert a["affiliate_count"] == 3  # B (P1), E (P2), D (enterprise shareholder)
    assert a["affiliate_abnormal_list_share"] == pytest.approx(1 / 3)
    assert a["affiliate_serious_list_share"] == pytest.approx(1 / 3)
    assert a["affiliate_penalty_count_365d"] == 1
    assert a["affiliate_revoked_count_1095d"] == 1
    assert a["linked_person_max_entity_count"] == 2
    assert a["address_other_entity_count"] == 3  # B, C, D active at the same address
    assert a["address_other_abnormal_list_share"] == pytest.approx(1 / 3)
    assert f.loc[F, "affiliate_count"] == 0 and f.loc[F, "linked_person_max_entity_count"] == 51
    assert math.isnan(f.loc[F, "affiliate_abnormal_list_share"])
    assert f.loc[C, "affiliate_count"] == 0  # P3 now links C alone
