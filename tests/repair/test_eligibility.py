"""Repair eligibility rules at their boundaries: waiting periods, never-repairable sanctions, conditions."""

from datetime import date

import pytest

from core.errors import NotFound, UserError
from features.warehouse import connect
from repair import eligibility


def _check(settings, uscc, as_of, record_id):
    con = connect(settings)
    try:
        return eligibility.find(con, uscc, record_id, as_of=as_of)
    finally:
        con.close()


def test_penalty_waiting_period_ends_after_six_months_not_a_day_before(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 1, 15), domain="price", paid=date(2025, 2, 1))
    before = _check(settings, u, date(2025, 7, 14), pid)
    on_day = _check(settings, u, date(2025, 7, 15), pid)
    assert before.repairable and not before.eligible_now
    assert before.missing_conditions == ("waiting_period",)
    assert before.earliest_date == date(2025, 7, 15)
    assert on_day.eligible_now and on_day.missing_conditions == ()
    assert on_day.kind == "penalty_publicity" and on_day.record_kind == "penalty"


@pytest.mark.parametrize("domain", ["food", "drugs", "special_equipment"])
def test_food_drug_special_equipment_penalties_wait_one_year(settings, wh, domain):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 1, 15), domain=domain, paid=date(2025, 2, 1))
    assert _check(settings, u, date(2025, 7, 15), pid).missing_conditions == ("waiting_period",)
    assert _check(settings, u, date(2026, 1, 14), pid).missing_conditions == ("waiting_period",)
    on_day = _check(settings, u, date(2026, 1, 15), pid)
    assert on_day.eligible_now and on_day.earliest_date == date(2026, 1, 15)


@pytest.mark.parametrize("sanction", ["suspend_business", "restrict_operation", "lower_qualification",
                                      "revoke_licence", "revoke_business_licence"])
def test_heavy_sanctions_are_never_repairable(settings, wh, sanction):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 1, 15), sanctions=f"fine;{sanction}", paid=date(2024, 2, 1))
    c = _check(settings, u, date(2025, 6, 1), pid)
    assert not c.repairable and not c.eligible_now and c.earliest_date is None
    assert c.not_repairable_reason == "never_repairable_sanction"
    assert c.details["blocking_sanctions"] == [sanction]


def test_a_warning_alone_is_not_published_so_not_repairable(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 1, 15), sanctions="warning", paid=date(2025, 1, 20))
    c = _check(settings, u, date(2025, 3, 1), pid)
    assert (c.not_repairable_reason, c.state, c.details["publicity_class"]) == ("not_published", "ended", "warning_only")


def test_publicity_runs_from_publication_and_until_a_longer_restriction_ends(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 1, 15), fine=200_000, paid=date(2024, 2, 1),
                     restriction_end=date(2028, 6, 30))
    c = _check(settings, u, date(2027, 6, 1), pid)  # past 3 years from publication, before the restriction ends
    assert c.state == "in_effect" and c.details["publicity_end"] == date(2028, 6, 30)


@pytest.mark.parametrize(("sanctions", "fine", "entity_type", "short"), [
    ("criticism", None, "limited_company", True),
    ("warning;fine", 50_000, "limited_company", True),  # the low-fine ceiling itself is still low
    ("fine", 50_000.01, "limited_company", False),
    ("fine", 5_000, "individual", True),
    ("fine", 5_000.01, "individual", False),
    ("fine;confiscation", 1_000, "limited_company", False),
])
def test_warnings_criticism_and_low_fines_are_not_repairable(settings, wh, sanctions, fine, entity_type, short):
    u = wh.entity(entity_type=entity_type)
    pid = wh.penalty(u, decided=date(2025, 1, 15), sanctions=sanctions, fine=fine, paid=date(2025, 1, 20),
                     publicity_end=date(2028, 1, 15))
    c = _check(settings, u, date(2025, 3, 1), pid)
    assert (c.not_repairable_reason == "short_publicity") is short
    assert c.repairable is (not short)


def test_simple_procedure_penalties_are_not_published_so_not_repairable(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 1, 15), procedure="simple", fine=200_000, paid=date(2025, 2, 1))
    assert _check(settings, u, date(2025, 9, 1), pid).not_repairable_reason == "not_published"


def test_unpaid_fine_is_a_missing_condition_until_the_day_it_is_paid(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 1, 10), paid=date(2024, 9, 2))
    assert _check(settings, u, date(2024, 9, 1), pid).missing_conditions == ("fine_paid",)
    assert _check(settings, u, date(2024, 9, 2), pid).eligible_now


def test_later_penalty_in_the_same_domain_blocks_but_another_domain_does_not(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 1, 10), domain="price", paid=date(2024, 2, 1))
    wh.penalty(u, decided=date(2024, 5, 1), domain="advertising", paid=date(2024, 5, 2))
    assert _check(settings, u, date(2024, 8, 1), pid).eligible_now
    wh.penalty(u, decided=date(2024, 9, 1), domain="price", paid=date(2024, 9, 2))
    assert _check(settings, u, date(2024, 8, 31), pid).eligible_now  # not yet known
    assert "no_new_same_domain_penalty" in _check(settings, u, date(2024, 9, 1), pid).missing_conditions


def test_being_on_the_abnormal_or_serious_list_blocks_penalty_repair(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 1, 10), paid=date(2024, 2, 1))
    wh.abnormal(u, listed=date(2024, 7, 10), removed=date(2024, 10, 1))
    assert _check(settings, u, date(2024, 8, 1), pid).missing_conditions == ("not_on_abnormal_list",)
    assert _check(settings, u, date(2024, 10, 1), pid).eligible_now  # removed that day
    wh.serious(u, listed=date(2024, 11, 1))
    assert _check(settings, u, date(2024, 11, 1), pid).missing_conditions == ("not_on_serious_list",)


def test_ended_publicity_and_leniency_records(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2022, 1, 10), paid=date(2022, 2, 1), publicity_end=date(2025, 1, 10))
    lenient = wh.penalty(u, decided=date(2025, 1, 10), leniency=True, fine=None)
    assert _check(settings, u, date(2025, 1, 9), pid).state == "in_effect"
    ended = _check(settings, u, date(2025, 1, 10), pid)
    assert ended.state == "ended" and not ended.repairable
    con = connect(settings)
    try:
        with pytest.raises(NotFound):
            eligibility.find(con, u, lenient, as_of=date(2025, 6, 1))
    finally:
        con.close()


def test_repaired_record_and_revoked_repair_restarts_publicity_with_a_bar(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2023, 1, 10), paid=date(2023, 2, 1))
    con = connect(settings)
    con.execute("INSERT INTO repairs VALUES ('penalty', ?, ?, DATE '2023-08-01', DATE '2023-08-01', 'RP-X', "
                "DATE '2024-02-01')", [pid, u])
    con.close()
    assert _check(settings, u, date(2023, 9, 1), pid).state == "repaired"
    after = _check(settings, u, date(2024, 3, 1), pid)
    assert after.state == "in_effect" and after.details["restarted_on"] == date(2024, 2, 1)
    assert after.details["publicity_end"] == date(2027, 2, 1)  # a full period from the revocation
    assert after.missing_conditions == ("reapply_bar",)
    assert after.earliest_date == date(2027, 2, 1)


def test_serious_list_early_removal_after_one_year_and_auto_removal_after_three(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 2, 1), domain="food", severity="serious", paid=date(2024, 3, 1))
    lid = wh.serious(u, listed=date(2024, 3, 1), penalty_id=pid)
    before = _check(settings, u, date(2025, 2, 28), lid)
    assert before.kind == "serious_list_removal" and before.missing_conditions == ("listed_one_year",)
    assert _check(settings, u, date(2025, 3, 1), lid).eligible_now
    assert _check(settings, u, date(2027, 2, 28), lid).state == "in_effect"
    auto = _check(settings, u, date(2027, 3, 1), lid)
    assert auto.state == "ended" and auto.details["auto_removal_date"] == date(2027, 3, 1)


def test_serious_list_needs_obligations_fulfilled_and_no_later_heavier_penalty(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 2, 1), domain="food", severity="serious", paid=None)
    lid = wh.serious(u, listed=date(2024, 3, 1), penalty_id=pid)
    assert _check(settings, u, date(2025, 4, 1), lid).missing_conditions == ("obligations_fulfilled",)
    wh.penalty(u, decided=date(2025, 5, 1), domain="quality", sanctions="fine;suspend_business", paid=None)
    assert "no_later_heavier_penalty" in _check(settings, u, date(2025, 5, 2), lid).missing_conditions


def test_abnormal_listing_for_missing_report_is_repairable_once_the_report_is_filed(settings, wh):
    u = wh.entity()
    lid = wh.abnormal(u, listed=date(2025, 7, 10))
    wh.report(u, year=2024, filed=date(2025, 9, 1))
    before = _check(settings, u, date(2025, 8, 31), lid)
    assert before.kind == "abnormal_list_removal" and before.missing_conditions == ("annual_reports_filed",)
    assert before.details["unfiled_years"] == [2024]
    after = _check(settings, u, date(2025, 9, 1), lid)
    assert after.eligible_now and after.earliest_date == date(2025, 9, 1)


def test_individual_business_abnormal_status_and_other_listing_reasons(settings, wh):
    u = wh.entity(2, entity_type="individual")
    name = wh.abnormal(u, listed=date(2025, 3, 1), reason="name_not_changed")
    away = wh.abnormal(u, listed=date(2025, 3, 1), reason="unreachable")
    c = _check(settings, u, date(2025, 4, 1), name)
    assert c.kind == "individual_abnormal" and c.missing_conditions == ("name_changed",)
    wh.change(u, item="name", on=date(2025, 4, 2))
    assert _check(settings, u, date(2025, 4, 2), name).eligible_now
    unreachable = _check(settings, u, date(2025, 4, 1), away)
    assert unreachable.eligible_now and unreachable.to_verify == ("reachable",)


def test_check_lists_every_record_with_the_agreed_json_fields(settings, wh):
    u = wh.entity()
    wh.penalty(u, decided=date(2025, 1, 15), paid=date(2025, 2, 1))
    wh.abnormal(u, listed=date(2025, 7, 10))
    out = eligibility.check(settings, u, as_of=date(2025, 8, 1))
    assert out["uscc"] == u and len(out["records"]) == 2
    for rec in out["records"]:
        assert {"kind", "record_id", "repairable", "earliest_date", "missing_conditions"} <= rec.keys()
    with pytest.raises(UserError, match="check character"):
        eligibility.check(settings, u[:-1] + ("0" if u[-1] != "0" else "1"), as_of=date(2025, 8, 1))
    with pytest.raises(NotFound):
        eligibility.check(settings, "91350100M000100Y43", as_of=date(2025, 8, 1))


def test_repair_and_features_agree_on_which_penalties_are_in_publicity(settings, wh):
    """Repair's publicity end (core.publicity.publicity_end) and the features' SQL (penalties_in_effect.sql)
    decide the same for every class: not published, 3 months, 3 years, a longer restriction."""
    from features.snapshot import compute_features

    u = wh.entity()
    cases = [  # (decided, sanctions, fine, procedure, restriction_end)
        (date(2025, 1, 15), "warning", None, "ordinary", None),
        (date(2025, 1, 15), "fine", 200_000, "simple", None),
        (date(2025, 3, 10), "criticism", None, "ordinary", None),  # 3 months from publication: ends in July
        (date(2025, 4, 20), "fine", 20_000, "ordinary", None),  # 3 months: still in publicity on 2025-08-01
        (date(2022, 7, 20), "fine", 200_000, "ordinary", None),  # published in Aug 2022 (+20 working days): in effect
        (date(2022, 6, 1), "fine", 200_000, "ordinary", None),  # published in June 2022: ended by 2025-08-01
        (date(2021, 9, 1), "fine", 200_000, "ordinary", date(2026, 1, 1)),  # the restriction runs longer
    ]
    ids = [wh.penalty(u, decided=d, sanctions=s, fine=f, procedure=pr, paid=d, restriction_end=r)
           for d, s, f, pr, r in cases]
    as_of = date(2025, 8, 1)
    con = connect(settings)
    try:
        compute_features(con, as_of=as_of)
        in_features = {r[0] for r in con.execute("SELECT penalty_id FROM _penalties_in_effect").fetchall()}
        in_repair = {pid for pid in ids if eligibility.find(con, u, pid, as_of=as_of).state == "in_effect"}
    finally:
        con.close()
    assert in_repair == in_features == {ids[3], ids[4], ids[6]}
