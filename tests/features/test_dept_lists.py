"""Other departments' dishonesty lists (dept_lists): the compliance features count entries in effect, each on a
hand-computed fixture; reasons name the list entry."""

from __future__ import annotations

from datetime import date

from features.reason_records import reason_records
from tests.features.conftest import code

AS_OF = date(2025, 1, 1)
A, B, C, D = code(1), code(2), code(3), code(4)


def _fill(wh) -> None:
    for u in (A, B, C, D):
        wh.entity(u)
    # A: a court listing (24 months by rule: in effect), a tax abnormal household (no fixed period), a major
    # tax violation (36 months by rule), listed 2024-12-02 (30 days before as_of)
    wh.add("dept_lists", listing_id="SX-A", uscc=A, list_kind="court_dishonest", department="青岚区人民法院",
           document_number="（2023）黔2228执5号", listed_date=date(2023, 3, 1))
    wh.add("dept_lists", listing_id="FZ-A", uscc=A, list_kind="tax_abnormal", department="税务局",
           listed_date=date(2020, 6, 1))
    wh.add("dept_lists", listing_id="ZD-A", uscc=A, list_kind="tax_major_violation", department="稽查局",
           listed_date=date(2024, 12, 2))
    # B: a court listing past its 24 months (2022-06-01 + 24 months = 2024-06-01), one removed before as_of,
    # one whose stated end date passed
    wh.add("dept_lists", uscc=B, list_kind="court_dishonest", department="法院", listed_date=date(2022, 6, 1))
    wh.add("dept_lists", uscc=B, list_kind="other_dept", department="生态环境局", listed_date=date(2024, 1, 1),
           removed_date=date(2024, 11, 1), removal_reason="repaired")
    wh.add("dept_lists", uscc=B, list_kind="safety_production", department="应急管理局",
           listed_date=date(2023, 1, 1), end_date=date(2024, 12, 31))
    # C: a court listing with a stated end after as_of (longer than the rule's 24 months), removed after as_of
    wh.add("dept_lists", listing_id="SX-C", uscc=C, list_kind="court_dishonest", department="法院",
           listed_date=date(2021, 1, 1), end_date=date(2026, 1, 1), removed_date=date(2025, 2, 1),
           removal_reason="fulfilled")
    # D: a listing dated before as_of that became known only after it
    wh.add("dept_lists", uscc=D, list_kind="court_dishonest", department="法院", listed_date=date(2024, 12, 1),
           known_date=date(2025, 1, 5))


def test_dept_list_features_count_entries_in_effect(wh):
    _fill(wh)
    f = wh.snapshot(AS_OF)
    cols = ["dept_list_in_effect_count", "dept_list_kind_count_in_effect", "dept_list_court_dishonest_flag",
            "dept_list_tax_count_in_effect"]
    assert f.loc[A, cols].tolist() == [3, 3, 1, 2]
    assert f.loc[B, cols].tolist() == [0, 0, 0, 0]
    assert f.loc[C, cols].tolist() == [1, 1, 1, 0]
    assert f.loc[D, cols].tolist() == [0, 0, 0, 0]
    assert f.loc[A, "dept_list_days_since_last"] == 30  # 2024-12-02 .. 2025-01-01
    assert f.loc[C, "dept_list_days_since_last"] == (AS_OF - date(2021, 1, 1)).days
    assert f[["dept_list_days_since_last"]].loc[[B, D]].isna().all().all()  # none in effect


def test_dept_list_effect_period_ends_counting(wh):
    _fill(wh)
    # C's stated end is 2026-01-01 but it is removed on 2025-02-01; A's major tax violation lasts 36 months
    assert wh.snapshot(date(2025, 2, 1)).loc[C, "dept_list_in_effect_count"] == 1
    assert wh.snapshot(date(2025, 2, 2)).loc[C, "dept_list_in_effect_count"] == 0
    assert wh.snapshot(date(2027, 12, 2)).loc[A, "dept_list_tax_count_in_effect"] == 2
    assert wh.snapshot(date(2027, 12, 3)).loc[A, "dept_list_tax_count_in_effect"] == 1  # the abnormal household
    # the late-known entry counts once known
    assert wh.snapshot(date(2025, 1, 6)).loc[D, "dept_list_court_dishonest_flag"] == 1


def test_reasons_name_the_list_entry(wh):
    _fill(wh)
    wh.snapshot(AS_OF)
    records = reason_records(wh.con, as_of=AS_OF, uscc=A)[A]["compliance"]
    court = next(r for r in records if r.ref == "SX-A").describe()
    assert court.kind == "dept_list"
    assert "失信被执行人" in court.zh and "青岚区人民法院" in court.zh and "（2023）黔2228执5号" in court.zh
    assert "2025-03-01" in court.zh and "judgment debtor" in court.en
    abnormal = next(r for r in records if r.ref == "FZ-A").describe()
    assert "至移出之日" in abnormal.zh
