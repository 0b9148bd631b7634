"""Restriction checks (失信联合惩戒): measures from the list entries in effect, with basis, period, record and
repair path; a clean entity answers no restriction; purposes, batches, the CLI and the audit."""

from __future__ import annotations

import json
from datetime import date

import pytest

from core import audit, rules
from core.cli import main
from core.opdb import engine
from core.settings import Settings
from features.warehouse import connect
from serving.restrictions import RestrictionIndex, check_codes, restriction_rules
from tests.features.conftest import Warehouse, code

ON = date(2025, 3, 10)
SERIOUS, CLEAN, COURT, ABNORMAL, REMOVED, LATE, GONE = (code(i) for i in range(101, 108))
UNKNOWN = code(999)


def fill(con) -> None:
    """Entities with list entries in effect on ON (or not: removed, known too late)."""
    wh = Warehouse(con)
    for u in (SERIOUS, CLEAN, COURT, ABNORMAL, REMOVED, LATE):
        wh.entity(u)
    wh.entity(GONE, status="deregistered", status_date=date(2024, 12, 1))
    wh.add("serious_list", listing_id="YZSX-1", uscc=SERIOUS, listed_date=date(2024, 5, 6), domain="food")
    wh.add("dept_lists", listing_id="SX-1", uscc=COURT, list_kind="court_dishonest", department="青岚区人民法院",
           document_number="（2024）黔2228执77号", listed_date=date(2024, 2, 1))  # no end: 24 months by rule
    wh.add("dept_lists", listing_id="FZ-1", uscc=COURT, list_kind="tax_abnormal", department="青岚区税务局",
           listed_date=date(2024, 8, 1), end_date=None)  # no fixed period
    wh.add("abnormal_list", listing_id="YC-1", uscc=ABNORMAL, listed_date=date(2024, 9, 1), reason="no_annual_report")
    wh.add("dept_lists", listing_id="SX-2", uscc=REMOVED, list_kind="court_dishonest", department="法院",
           listed_date=date(2024, 1, 1), removed_date=date(2025, 1, 5), removal_reason="fulfilled")
    wh.add("dept_lists", listing_id="AQ-1", uscc=REMOVED, list_kind="safety_production", department="应急管理局",
           listed_date=date(2021, 1, 1), end_date=date(2024, 1, 1))  # its stated period ended
    wh.add("serious_list", listing_id="YZSX-2", uscc=LATE, listed_date=date(2025, 3, 1), domain="food",
           known_date=date(2025, 3, 11))  # known only after the day checked
    wh.add("dept_lists", listing_id="SX-3", uscc=GONE, list_kind="court_dishonest", department="法院",
           listed_date=date(2024, 6, 1), end_date=date(2026, 6, 1))


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDIT_RISK_DB_URL", raising=False)
    s = Settings.from_env(tmp_path / "home")
    con = connect(s)
    fill(con)
    con.close()
    return s


def _check(settings, codes, **kw):
    return check_codes(settings, codes, on=ON, index=RestrictionIndex(settings), **kw)


def test_serious_list_entity_lists_each_measure_with_basis_and_end_date(settings):
    item = _check(settings, [SERIOUS]).items[0]
    assert item.status == "restricted" and item.status_zh == "存在限制" and item.as_of == ON
    trigger = restriction_rules().triggers[("serious_list", "")]
    assert [m.code for m in item.measures] == list(trigger.measures)
    auto = rules.load("publicity")["serious_list"]["auto_removal_months"]
    for m in item.measures:
        assert m.basis == trigger.basis and "严重违法失信名单管理办法" in m.basis
        assert m.start_date == date(2024, 5, 6)
        assert m.end_date == date(2024 + auto // 12, 5, 6)  # listed + the automatic removal period
        assert m.record.kind == "serious_list" and m.record.ref == "YZSX-1"
        assert m.repair.repair_kind == "serious_list_removal" and m.repair.apply_to
    assert {"credit", "government_procurement", "honours"} <= {m.code for m in item.measures}


def test_clean_entity_answers_no_restriction_with_the_as_of_day(settings):
    batch = _check(settings, [CLEAN])
    item = batch.items[0]
    assert item.status == "no_restriction" and item.status_zh == "无限制" and item.measures == []
    assert item.as_of == ON and batch.as_of == ON and ON.isoformat() in item.message
    assert item.entity_status == "active"


def test_other_departments_lists_name_department_document_and_end(settings):
    item = _check(settings, [COURT]).items[0]
    by_record = {}
    for m in item.measures:
        by_record.setdefault(m.record.ref, []).append(m)
    court = by_record["SX-1"]
    assert "high_consumption" in {m.code for m in court} and "credit" in {m.code for m in court}
    assert court[0].record.department == "青岚区人民法院" and court[0].record.document_number == "（2024）黔2228执77号"
    assert court[0].record.list_zh == "失信被执行人"
    assert court[0].end_date == date(2026, 2, 1)  # 24 months (core/rules/dept_lists.toml)
    assert court[0].repair.apply_to == "执行法院"
    assert [m.code for m in by_record["FZ-1"]] == ["export_tax_refund"] and by_record["FZ-1"][0].end_date is None


def test_abnormal_list_restricts_only_the_measures_it_triggers(settings):
    item = _check(settings, [ABNORMAL]).items[0]
    assert {m.code for m in item.measures} == {"government_procurement", "bidding", "state_land", "honours"}
    assert all(m.end_date is None and m.repair.repair_kind == "abnormal_list_removal" for m in item.measures)


def test_removed_expired_and_late_known_entries_restrict_nothing(settings):
    items = _check(settings, [REMOVED, LATE]).items
    assert [i.status for i in items] == ["no_restriction", "no_restriction"]
    later = check_codes(settings, [LATE], on=date(2025, 3, 11), index=RestrictionIndex(settings)).items[0]
    assert later.status == "restricted"  # known on the 11th: counts for a check that day


def test_purpose_keeps_only_relevant_measures(settings):
    credit = _check(settings, [SERIOUS, ABNORMAL, COURT], purpose="credit").items
    assert [m.code for m in credit[0].measures] == ["credit"]
    assert credit[1].status == "no_restriction"  # the abnormal list does not restrict credit
    assert {m.code for m in credit[2].measures} == {"credit"}
    refund = _check(settings, [COURT], purpose="export_refund").items[0]
    assert [m.record.ref for m in refund.measures] == ["FZ-1"]
    with pytest.raises(Exception, match="purpose: expected one of"):
        _check(settings, [SERIOUS], purpose="mortgage")


def test_batch_answers_in_order_with_counts_invalid_and_unknown_codes(settings):
    bad = SERIOUS[:17] + ("0" if SERIOUS[17] != "0" else "1")
    batch = _check(settings, [SERIOUS, CLEAN, UNKNOWN, bad, GONE])
    assert [i.status for i in batch.items] == ["restricted", "no_restriction", "unknown_code", "invalid_code",
                                               "restricted"]
    assert batch.items[3].expected_check_character == SERIOUS[17]
    assert "check character" in batch.items[3].message
    assert batch.items[4].entity_status == "deregistered"
    assert batch.counts == {"restricted": 2, "no_restriction": 1, "unknown_code": 1, "invalid_code": 1}


def test_cli_checks_a_code_and_a_file_and_audits_each_check(settings, tmp_path, capsys):
    home = str(settings.home)
    assert main(["restrictions", SERIOUS, "--as-of", ON.isoformat(), "--home", home, "--actor", "t"]) == 0
    out = capsys.readouterr().out
    assert "存在限制" in out and "依据" in out and "修复" in out and "2027-05-06" in out
    listing = tmp_path / "codes.csv"
    listing.write_text("统一社会信用代码\n" + "\n".join([CLEAN, SERIOUS, UNKNOWN]) + "\n", encoding="gbk")
    assert main(["restrictions", "--file", str(listing), "--purpose", "credit", "--as-of", ON.isoformat(),
                 "--home", home, "--json", "--actor", "t"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [i["status"] for i in data["items"]] == ["no_restriction", "restricted", "unknown_code"]
    assert data["purpose"] == "credit" and data["as_of"] == ON.isoformat()
    with engine(settings).connect() as conn:
        single = audit.entries(conn, action="restrictions.check")
        batch = audit.entries(conn, action="restrictions.batch")
    assert len(single) == 1 and single[0]["subject"] == SERIOUS and single[0]["actor"] == "t"
    assert len(batch) == 1 and batch[0]["inputs"]["counts"]["restricted"] == 1
    assert batch[0]["inputs"]["purpose"] == "credit" and batch[0]["inputs"]["codes"] == [CLEAN, SERIOUS, UNKNOWN]
