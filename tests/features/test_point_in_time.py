"""Point-in-time correctness: no leakage from records dated or known after as_of; effect periods end counting."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.features.conftest import code

AS_OF = date(2024, 7, 15)
A, B, C = code(1), code(2), code(3)


def _history(wh, before: date, *, tag: str = "") -> None:
    """Records in every source table dated ``before`` (for A, B, C), the same shape each time."""
    pen = dict(domain="food", procedure="ordinary", severity="serious", sanctions="fine", fine_amount=9000.0)
    for u, other in ((A, B), (B, C), (C, A)):
        wh.add("changes", uscc=u, change_date=before, item="legal_rep")
        wh.add("licences", uscc=u, licence_type="food_business", issued=before, expires=date(2030, 1, 1),
               status="valid")
        wh.add("annual_reports", uscc=u, year=before.year - 1 if tag else before.year, filed_date=before,
               employees=5, revenue=1e6, assets=2e6, liabilities=1e6, tax=1e4, profit=1e3)
        wh.add("penalties", uscc=u, decided_date=before, **pen)
        wh.add("abnormal_list", uscc=u, listed_date=before, reason="unreachable")
        wh.add("serious_list", uscc=u, listed_date=before, domain="food")
        wh.add("dept_lists", uscc=u, list_kind="court_dishonest", department="法院", listed_date=before)
        wh.add("inspections", uscc=u, inspection_date=before, kind="random", result="case_opened")
        wh.add("complaints", uscc=u, received_date=before, upheld=True, handled_date=before)
        wh.add("opinions", uscc=u, published_date=before, source="news", title="餐厅被曝食品安全问题",
               text="消费者投诉食物变质", vendor_sentiment="negative", reach=100)
        wh.add("opinions", uscc=u, published_date=before, source="weibo", title="新店开业", text="环境不错")
        wh.add("relations", uscc=u, relation_type="legal_rep", person_key=f"P{tag}{u[-4:]}", start_date=before)
        wh.add("relations", uscc=other, relation_type="shareholder", person_key=f"P{tag}{u[-4:]}",
               start_date=before)
        _commitments_and_sampling(wh, u, before)


def _commitments_and_sampling(wh, u: str, before: date) -> None:
    """Credit commitments, a breach, a failed sample and a leniency decision (features/commitments.py,
    sampling.py, leniency.py) dated ``before``."""
    c = wh.add("commitments", uscc=u, kind="notify_commit", licence_type="food_business", made_date=before,
               status="breached", status_date=before)
    wh.add("commitments", uscc=u, kind="self_discipline", made_date=before, status="in_force")
    wh.add("commitment_breaches", commitment_id=c["commitment_id"], uscc=u, found_date=before, found_by="inspection")
    wh.add("sampling_results", uscc=u, sample_date=before, category="food", result="fail", failing_item="菌落总数",
           followup_status="pending")
    wh.add("penalties", uscc=u, decided_date=before, domain="price", procedure="simple", severity="minor",
           sanctions="warning", leniency=True)


def _base(wh) -> None:
    for u in (A, B, C):
        wh.entity(u, address="同一地址8号")
    _history(wh, date(2023, 11, 2))


def test_records_dated_or_known_after_as_of_change_no_feature(wh):
    _base(wh)
    before = wh.snapshot(AS_OF)
    # every source gets records dated after as_of ...
    _history(wh, date(2024, 9, 1), tag="late")
    # ... and records dated before as_of that became known only after it
    late = date(2024, 8, 1)
    wh.add("penalties", uscc=A, decided_date=date(2024, 6, 1), domain="food", procedure="ordinary",
           severity="serious", sanctions="fine", fine_amount=1.0, known_date=late)
    wh.add("abnormal_list", uscc=B, listed_date=date(2024, 6, 1), reason="unreachable", known_date=late)
    wh.add("serious_list", uscc=C, listed_date=date(2024, 6, 1), domain="food", known_date=late)
    wh.add("dept_lists", uscc=A, list_kind="tax_major_violation", department="税务局", listed_date=date(2024, 6, 1),
           known_date=late)
    wh.add("inspections", uscc=A, inspection_date=date(2024, 7, 1), kind="targeted", result="case_opened",
           known_date=late)
    wh.add("opinions", uscc=A, published_date=date(2024, 7, 1), source="news", title="曝光", text="曝光",
           vendor_sentiment="negative", known_date=late)
    wh.add("opinions", uscc=A, company_name=f"企业{A[-6:]}", mentioned_names=f"企业{A[-6:]};企业{B[-6:]}",
           published_date=date(2024, 7, 1), source="news", title="曝光", text="曝光", vendor_sentiment="negative",
           known_date=late)  # names B too: counts against neither before it is known
    wh.add("complaints", uscc=A, received_date=date(2024, 7, 1), known_date=late)
    wh.add("changes", uscc=A, change_date=date(2024, 7, 1), item="address", known_date=late)
    cm = wh.add("commitments", uscc=A, kind="repair_commit", made_date=date(2024, 7, 1), status="in_force",
                known_date=late)
    wh.add("commitment_breaches", commitment_id=cm["commitment_id"], uscc=A, found_date=date(2024, 7, 1),
           found_by="verification", known_date=late)
    wh.add("sampling_results", uscc=A, sample_date=date(2024, 7, 1), category="food", result="fail",
           known_date=late)
    wh.add("penalties", uscc=B, decided_date=date(2024, 7, 1), domain="price", procedure="ordinary",
           severity="minor", sanctions="fine", fine_amount=100.0, known_date=late)  # a second offence
    wh.add("repairs", record_kind="penalty", record_id="x", uscc=A, repaired_date=date(2024, 9, 1))
    # new entities registered after as_of, one at the same address and linked to A
    wh.entity(code(9), established=date(2024, 8, 1), address="同一地址8号")
    wh.add("relations", uscc=code(9), relation_type="legal_rep", person_key=f"P{A[-4:]}", start_date=date(2024, 8, 1))
    after = wh.snapshot(AS_OF)
    assert after.index.tolist() == before.index.tolist()
    pd.testing.assert_frame_equal(after, before)
    # the later records are really there: a later snapshot sees them
    later = wh.snapshot(date(2024, 10, 1)).loc[before.index]
    assert (later["penalty_count_365d"] > before["penalty_count_365d"]).all()
    assert (later["opinion_negative_count_90d"] > before["opinion_negative_count_90d"]).all()
    assert (later["dept_list_in_effect_count"] > before["dept_list_in_effect_count"]).all()
    for name in ("commitment_breach_count_730d", "commitment_in_force_count", "sampling_fail_count_365d",
                 "leniency_count_730d"):
        assert (later[name] > before[name]).all(), name
    assert later.loc[B, "leniency_then_offence_flag_730d"] == 1 > before.loc[B, "leniency_then_offence_flag_730d"]


def _penalty_counts(wh, days: list[date]) -> list[float]:
    return [wh.snapshot(d).loc[A, "penalty_in_effect_count"] for d in days]


def test_penalty_stops_counting_when_publicity_ends(wh):
    wh.entity(A)
    wh.add("penalties", uscc=A, decided_date=date(2024, 1, 10), domain="price", procedure="ordinary",
           severity="minor", sanctions="criticism", publicity_end=date(2024, 4, 10))
    assert _penalty_counts(wh, [date(2024, 1, 10), date(2024, 1, 11), date(2024, 4, 9), date(2024, 4, 10)]) == [
        0, 1, 1, 0]


def test_repaired_penalty_stops_counting_from_repair_date_unless_revoked(wh):
    wh.entity(A)
    p = wh.add("penalties", uscc=A, decided_date=date(2023, 1, 10), domain="food", procedure="ordinary",
               severity="ordinary", sanctions="fine", fine_amount=60_000.0, publicity_end=date(2026, 1, 10))
    wh.add("repairs", record_kind="penalty", record_id=p["penalty_id"], uscc=A, repaired_date=date(2024, 3, 1),
           known_date=date(2024, 3, 1), case_id="RC-1", revoked_date=date(2024, 5, 1))
    days = [date(2024, 2, 29), date(2024, 3, 1), date(2024, 4, 30), date(2024, 5, 1)]
    assert _penalty_counts(wh, days) == [1, 0, 0, 1]


def test_publicity_period_from_rules_when_no_end_recorded(wh):
    wh.entity(A, entity_type="individual")
    # 6000 yuan is above the individual-business low-fine ceiling (5000): standard 36-month publicity
    wh.add("penalties", uscc=A, decided_date=date(2024, 1, 10), domain="food", procedure="ordinary",
           severity="ordinary", sanctions="fine", fine_amount=6000.0)
    # criticism alone: short 3-month publicity
    wh.add("penalties", uscc=A, decided_date=date(2024, 1, 10), domain="food", procedure="ordinary",
           severity="minor", sanctions="criticism")
    # no publication date: published 20 working days after the decision, i.e. 2024-02-06 (Sunday 2024-02-04
    # is a make-up working day), and the periods run from then
    assert _penalty_counts(wh, [date(2024, 5, 5), date(2024, 5, 6), date(2027, 2, 5), date(2027, 2, 6)]) == [
        2, 1, 1, 0]


def test_list_removal_counts_once_it_happened_and_late_listing_once_known(wh):
    wh.entity(A)
    wh.entity(B)
    wh.add("abnormal_list", uscc=A, listed_date=date(2024, 1, 10), reason="no_annual_report",
           removed_date=date(2024, 6, 1), removal_reason="report_filed")
    wh.add("abnormal_list", uscc=B, listed_date=date(2024, 1, 10), reason="unreachable", known_date=date(2024, 3, 1))
    frames = [wh.snapshot(d) for d in (date(2024, 2, 1), date(2024, 6, 1), date(2024, 6, 2))]
    flags = [(f.loc[A, "abnormal_list_current_flag"], f.loc[B, "abnormal_list_current_flag"]) for f in frames]
    assert flags == [(1, 0), (1, 1), (0, 1)]


@pytest.mark.parametrize("as_of,expected", [(date(2024, 6, 30), 0), (date(2024, 7, 1), 1)])
def test_missing_report_counts_only_after_its_deadline(wh, as_of, expected):
    wh.entity(A, established=date(2023, 5, 1))  # first report (2023) due 2024-06-30
    assert wh.snapshot(as_of).loc[A, "annual_report_missing_count_3y"] == expected
