"""Objections to any credit record: filing windows, 补正, step deadlines, void/correct and their effect, refusals."""

from datetime import date

import pytest

from core.errors import Conflict, NotFound, UserError
from repair import eligibility, objections, store, workflow

DOCS = {"objection": "OBJ-1", "evidence": "EV-1"}


def test_objection_window_is_thirty_days_from_the_listing(db_settings, db_wh):
    u = db_wh.entity()
    lid = db_wh.abnormal(u, listed=date(2025, 9, 5), reason="unreachable")
    with pytest.raises(UserError, match="must be filed by 2025-10-05, got 2025-10-06"):
        objections.file(db_settings, uscc=u, record_id=lid, actor="o", documents=DOCS, on=date(2025, 10, 6))
    case = objections.file(db_settings, uscc=u, record_id=lid, actor="o", grounds="营业中，住所可联系",
                           documents=DOCS, on=date(2025, 10, 5))
    assert case.case_type == "objection" and case.state.code == "filed" and case.procedure.code == "objection"
    assert case.due_on == date(2025, 10, 14)  # 5 working days after Sun Oct 5 across the holiday
    with pytest.raises(Conflict, match="already has an open objection case"):
        objections.file(db_settings, uscc=u, record_id=lid, actor="o", documents=DOCS, on=date(2025, 10, 5))


def test_upheld_objection_voids_the_listing_through_the_sync_and_is_shared(db_settings, db_wh):
    u = db_wh.entity()
    lid = db_wh.abnormal(u, listed=date(2025, 9, 5), reason="unreachable")
    cid = objections.file(db_settings, uscc=u, record_id=lid, actor="o", documents=DOCS, on=date(2025, 9, 10)).case_id
    accepted = workflow.transition(db_settings, cid, "accept", actor="o", on=date(2025, 9, 11))
    # verify within 20 working days of Thu Sep 11, counting make-up days Sep 28 and Oct 11
    assert accepted.next_step.code == "verify" and accepted.due_on == date(2025, 10, 15)
    with pytest.raises(UserError, match="reason: expected a reason to uphold"):
        workflow.transition(db_settings, cid, "uphold", actor="o", on=date(2025, 9, 20))
    upheld = workflow.transition(db_settings, cid, "uphold", actor="o", reason="site visit found it open",
                                 on=date(2025, 9, 30))
    assert upheld.next_step.code == "correct" and upheld.due_on == date(2025, 10, 14)
    assert upheld.notices[-1].kind == "objection_upheld" and upheld.notices[-1].reason == "site visit found it open"
    with pytest.raises(Conflict, match="cannot dismiss"):
        workflow.transition(db_settings, cid, "dismiss", actor="o", reason="x", on=date(2025, 10, 9))
    done = workflow.transition(db_settings, cid, "void", actor="o", on=date(2025, 10, 9))
    assert (done.state.code, done.state.zh) == ("voided", "已撤销记录") and not done.open
    assert store.warehouse_rows(db_settings, "record_corrections", uscc=u) == []  # only the sync writes it
    workflow.sync_warehouse(db_settings)
    (row,) = store.warehouse_rows(db_settings, "record_corrections", uscc=u)
    assert (row["record_kind"], row["record_id"], row["outcome"], row["effective_date"]) == (
        "abnormal_list", lid, "void", date(2025, 10, 9))
    assert store.warehouse_repairs(db_settings, uscc=u) == []  # voided, not "repaired"
    assert _feature(db_settings, u, date(2025, 10, 8), "abnormal_list_current_flag") == 1  # before the void
    assert _feature(db_settings, u, date(2025, 10, 9), "abnormal_list_current_flag") == 0  # from its day, as repairs


def test_objection_to_a_penalty_corrects_a_field_and_missing_materials_wait_for_cure(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 6, 2), paid=date(2025, 6, 20))
    case = objections.file(settings, uscc=u, record_kind="penalty", record_id=pid, actor="o", grounds="罚款金额录入错误",
                           on=date(2025, 9, 10))
    assert case.state.code == "awaiting_cure" and [d.code for d in case.missing_documents] == ["evidence"]
    assert case.notices[0].kind == "objection_cure" and case.notices[0].missing == ("异议证明材料",)
    cid = case.case_id
    workflow.transition(settings, cid, "cure", actor="o", documents={"evidence": "EV-9"}, on=date(2025, 9, 12))
    workflow.transition(settings, cid, "accept", actor="o", on=date(2025, 9, 12))
    workflow.transition(settings, cid, "uphold", actor="o", reason="罚款金额应为5000元", on=date(2025, 9, 19))
    with pytest.raises(UserError, match="no correctable fields"):
        workflow.transition(settings, cid, "correct", actor="o", corrections={"penalty_id": "X"}, on=date(2025, 9, 22))
    with pytest.raises(UserError, match="severity: expected one of minor, ordinary, serious"):
        workflow.transition(settings, cid, "correct", actor="o", corrections={"severity": "grave"}, on=date(2025, 9, 22))
    workflow.transition(settings, cid, "correct", actor="o", corrections={"fine_amount": "80000", "severity": "minor"},
                        on=date(2025, 9, 22))
    assert workflow.sync_warehouse(settings).corrections == 2
    rows = store.warehouse_rows(settings, "record_corrections", uscc=u)
    assert sorted((r["outcome"], r["field"], r["value"]) for r in rows) == [
        ("correct", "fine_amount", "80000"), ("correct", "severity", "minor")]
    # the next snapshot sees the corrected record, the earlier one the record as it was held then
    assert _fine_in_effect(settings, u, date(2025, 9, 1)) == 100_000
    assert _fine_in_effect(settings, u, date(2025, 10, 1)) == 80_000
    check = eligibility.check(settings, u, as_of=date(2025, 10, 1))["records"][0]
    assert (check["details"]["fine_amount"], check["details"]["severity"]) == (80_000, "minor")


def _fine_in_effect(settings, uscc, as_of):
    return _feature(settings, uscc, as_of, "penalty_fine_yuan_in_effect")


def _feature(settings, uscc, as_of, name):
    from features.snapshot import compute_features
    from features.warehouse import connect

    con = connect(settings)
    try:
        return compute_features(con, as_of=as_of, uscc=uscc)[name].iloc[0]
    finally:
        con.close()


def test_objection_refusals_and_unknown_records(settings, wh):
    u = wh.entity()
    lid = wh.abnormal(u, listed=date(2025, 9, 5))
    gone = wh.abnormal(u, listed=date(2025, 9, 5), removed=date(2025, 9, 8))
    with pytest.raises(NotFound):
        objections.file(settings, uscc=u, record_id="AB-NONE", actor="o", on=date(2025, 9, 10))
    with pytest.raises(UserError, match="record_kind: expected one of"):
        objections.file(settings, uscc=u, record_kind="licence", record_id=lid, actor="o", on=date(2025, 9, 10))
    with pytest.raises(Conflict, match="already removed"):
        objections.file(settings, uscc=u, record_id=gone, actor="o", documents=DOCS, on=date(2025, 9, 10))
    cid = objections.file(settings, uscc=u, record_id=lid, actor="o", documents=DOCS, on=date(2025, 9, 10)).case_id
    with pytest.raises(UserError, match="can only be voided"):
        objections.check_corrections("abnormal_list", {"reason": "unreachable"})
    with pytest.raises(Conflict, match="cannot uphold case .* in state filed"):
        workflow.transition(settings, cid, "uphold", actor="o", reason="x", on=date(2025, 9, 11))
    out = workflow.transition(settings, cid, "not_accept", actor="o", reason="no new facts", on=date(2025, 9, 11))
    assert out.state.code == "not_accepted" and out.next_step is None
    assert out.notices[-1].kind == "objection_not_accept" and "行政复议" in out.notices[-1].remedies[0].zh


def test_dismissed_objection_keeps_the_record_and_says_why(settings, wh):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 6, 2), paid=date(2025, 6, 20))
    cid = objections.file(settings, uscc=u, record_kind="penalty", record_id=pid, actor="o", documents=DOCS,
                          on=date(2025, 9, 10)).case_id
    workflow.transition(settings, cid, "accept", actor="o", on=date(2025, 9, 11))
    out = workflow.transition(settings, cid, "dismiss", actor="o", reason="处罚决定书送达回证在卷", on=date(2025, 9, 25))
    assert out.state.code == "dismissed" and out.reasons[-1] == "处罚决定书送达回证在卷"
    assert "予以保留" in out.notices[-1].body
    workflow.sync_warehouse(settings)
    assert store.warehouse_rows(settings, "record_corrections", uscc=u) == []


def test_objection_missing_evidence_not_supplied_in_time_is_closed(settings, wh):
    u = wh.entity()
    iid = "INS-0001"
    wh.add("inspections", inspection_id=iid, uscc=u, inspection_date=date(2025, 9, 1), kind="random",
           result="case_opened", known_date=date(2025, 9, 1))
    case = objections.file(settings, uscc=u, record_kind="inspection", record_id=iid, actor="o",
                           documents={"objection": "OBJ-7"}, on=date(2025, 9, 29))
    assert case.state.code == "awaiting_cure" and case.due_on == date(2025, 10, 13)  # 5 working days over the holiday
    (closed,) = workflow.close_overdue(settings, actor="batch", today=date(2025, 10, 20))
    assert closed.case_id == case.case_id and closed.state.code == "cure_expired"
    assert [n.kind for n in closed.notices] == ["objection_cure", "terminate"]
    # a second objection, complete this time, voids the inspection result: the next snapshot drops it
    cid = objections.file(settings, uscc=u, record_kind="inspection", record_id=iid, actor="o", documents=DOCS,
                          on=date(2025, 10, 20)).case_id
    for action, reason in (("accept", None), ("uphold", "检查记录主体错误"), ("void", None)):
        workflow.transition(settings, cid, action, actor="o", reason=reason, on=date(2025, 10, 21))
    workflow.sync_warehouse(settings)
    assert _feature(settings, u, date(2025, 10, 20), "inspection_case_opened_count_730d") == 1
    assert _feature(settings, u, date(2025, 10, 21), "inspection_case_opened_count_730d") == 0
