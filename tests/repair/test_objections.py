"""Objections to an abnormal listing: the 30-day filing window, step deadlines, correction and refusals."""

from datetime import date

import pytest

from core.errors import Conflict, NotFound, UserError
from repair import objections, store, workflow


def test_objection_window_is_thirty_days_from_the_listing(db_settings, db_wh):
    u = db_wh.entity()
    lid = db_wh.abnormal(u, listed=date(2025, 9, 5), reason="unreachable")
    with pytest.raises(UserError, match="must be filed by 2025-10-05, got 2025-10-06"):
        objections.file(db_settings, uscc=u, listing_id=lid, actor="o", on=date(2025, 10, 6))
    case = objections.file(db_settings, uscc=u, listing_id=lid, actor="o", grounds="营业中，住所可联系",
                           on=date(2025, 10, 5))
    assert case["case_type"] == "objection" and case["state"]["code"] == "filed"
    assert case["due_on"] == date(2025, 10, 14)  # 5 working days after Sun Oct 5 across the holiday
    with pytest.raises(Conflict, match="already has an open objection case"):
        objections.file(db_settings, uscc=u, listing_id=lid, actor="o", on=date(2025, 10, 5))


def test_upheld_objection_is_verified_then_corrected_and_the_listing_stops_counting(db_settings, db_wh):
    u = db_wh.entity()
    lid = db_wh.abnormal(u, listed=date(2025, 9, 5), reason="unreachable")
    cid = objections.file(db_settings, uscc=u, listing_id=lid, actor="o", on=date(2025, 9, 10))["case_id"]
    accepted = workflow.transition(db_settings, cid, "accept", actor="o", on=date(2025, 9, 11))
    # verify within 20 working days of Thu Sep 11, counting make-up days Sep 28 and Oct 11
    assert accepted["next_step"]["code"] == "verify" and accepted["due_on"] == date(2025, 10, 15)
    with pytest.raises(UserError, match="reason: expected a reason to uphold"):
        workflow.transition(db_settings, cid, "uphold", actor="o", on=date(2025, 9, 20))
    upheld = workflow.transition(db_settings, cid, "uphold", actor="o", reason="site visit found it open",
                                 on=date(2025, 9, 30))
    assert upheld["next_step"]["code"] == "correct" and upheld["due_on"] == date(2025, 10, 14)
    with pytest.raises(Conflict, match="cannot dismiss"):
        workflow.transition(db_settings, cid, "dismiss", actor="o", reason="x", on=date(2025, 10, 9))
    done = workflow.transition(db_settings, cid, "correct", actor="o", on=date(2025, 10, 9))
    assert done["state"] == {"code": "corrected", "zh": "已更正", "en": "corrected"} and not done["open"]
    (row,) = store.warehouse_repairs(db_settings, uscc=u)
    assert (row["record_kind"], row["record_id"], row["repaired_date"]) == ("abnormal_list", lid, date(2025, 10, 9))


def test_objection_refusals_and_unknown_listings(settings, wh):
    u = wh.entity()
    lid = wh.abnormal(u, listed=date(2025, 9, 5))
    gone = wh.abnormal(u, listed=date(2025, 9, 5), removed=date(2025, 9, 8))
    with pytest.raises(NotFound):
        objections.file(settings, uscc=u, listing_id="AB-NONE", actor="o", on=date(2025, 9, 10))
    with pytest.raises(Conflict, match="already removed"):
        objections.file(settings, uscc=u, listing_id=gone, actor="o", on=date(2025, 9, 10))
    cid = objections.file(settings, uscc=u, listing_id=lid, actor="o", on=date(2025, 9, 10))["case_id"]
    with pytest.raises(Conflict, match="cannot uphold case .* in state filed"):
        workflow.transition(settings, cid, "uphold", actor="o", reason="x", on=date(2025, 9, 11))
    out = workflow.transition(settings, cid, "not_accept", actor="o", reason="no new facts", on=date(2025, 9, 11))
    assert out["state"]["code"] == "not_accepted" and out["next_step"] is None
    assert store.warehouse_repairs(settings, uscc=u) == []
