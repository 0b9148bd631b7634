"""Each graded procedure through every branch: complete, 补正 then complete, 补正 expired, 不予受理, approved,
denied, revoked — with deadlines in working days across the 2025 National Day holiday (Oct 1-8 off,
Sep 28 and Oct 11 make-up working days)."""

from datetime import date

import pytest

from core.errors import Conflict, UserError
from repair import procedures, store, workflow

APPLIED = date(2025, 9, 29)  # a Monday, just before the holiday
ALL_DOCS = {"application": "APP-1", "commitment": "COM-1", "proof": "PRF-1"}
# procedure -> (first acceptance deadline from Mon Sep 29, hand-counted over the holiday)
ACCEPT_DUE = {"simple": date(2025, 9, 30), "general": date(2025, 10, 9), "active_correction": date(2025, 10, 13)}
CURE_DUE = date(2025, 10, 13)  # 5 working days: Sep 30, Oct 9, 10, 11 (make-up), 13


def _record(wh, procedure: str, n: int) -> str:
    """A record eligible for repair on APPLIED whose kind leads to ``procedure``."""
    u = wh.entity(n)
    if procedure == "simple":
        return u, wh.penalty(u, decided=date(2024, 1, 15), paid=date(2024, 2, 1), severity="ordinary")
    if procedure == "general":
        pid = wh.penalty(u, decided=date(2024, 6, 1), domain="food", severity="serious", paid=date(2024, 7, 1))
        return u, wh.serious(u, listed=date(2024, 7, 1), penalty_id=pid)
    lid = wh.abnormal(u, listed=date(2025, 7, 10))
    wh.report(u, year=2024, filed=date(2025, 9, 1))
    return u, lid


def _apply(settings, wh, procedure, n, *, drop=None):
    u, rid = _record(wh, procedure, n)
    docs = {k: v for k, v in ALL_DOCS.items() if k in procedures.get(procedure).documents and k != drop}
    case = workflow.apply(settings, uscc=u, record_id=rid, documents=docs, actor="registrar", on=APPLIED)
    assert case.procedure.code == procedure
    return u, case


def _to_decision(settings, case, on):
    path = ["accept"] + (["review"] if "review" in procedures.get(case.procedure.code).actions else [])
    for action in path:
        case = workflow.transition(settings, case.case_id, action, actor="officer", on=on)
    return case


PROCEDURES = ["simple", "general", "active_correction"]


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_complete_application_is_accepted_approved_and_completed(db_settings, db_wh, procedure):
    settings, wh = db_settings, db_wh
    u, case = _apply(settings, wh, procedure, 1)
    assert case.state.code == "applied" and case.due_on == ACCEPT_DUE[procedure]
    case = _to_decision(settings, case, APPLIED)
    assert case.notices[0].kind == "accept" and case.next_step.code == "decide"
    approved = workflow.transition(settings, case.case_id, "approve", actor="officer", on=date(2025, 9, 30))
    assert approved.state.code == "approved" and approved.notices[-1].kind == "approve"
    rule = procedures.get(procedure).deadlines["complete"]
    anchor = {"applied": APPLIED, "approved": date(2025, 9, 30)}[rule[1]]
    assert approved.due_on == workflow.deadlines.calendar().add_workdays(anchor, rule[0])
    done = workflow.transition(settings, case.case_id, "complete", actor="officer", on=date(2025, 10, 9))
    assert done.state.code == "completed" and not done.open
    assert workflow.sync_warehouse(settings).repairs == 1
    (row,) = store.warehouse_repairs(settings, uscc=u)
    assert row["repaired_date"] == date(2025, 10, 9) and row["revoked_date"] is None


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_missing_material_opens_in_cure_then_completes(settings, wh, procedure):
    missing = procedures.get(procedure).documents[-1]
    _, case = _apply(settings, wh, procedure, 2, drop=missing)
    assert (case.state.code, case.state.zh) == ("awaiting_cure", "待补正") and case.due_on == CURE_DUE
    (notice,) = case.notices  # one notice naming everything missing and its deadline
    assert notice.kind == "cure" and notice.due_on == CURE_DUE and len(notice.missing) == 1
    assert "2025年10月13日前补正" in notice.body
    with pytest.raises(UserError, match="still missing"):
        workflow.transition(settings, case.case_id, "cure", actor="officer", documents={"other": "X"},
                            on=date(2025, 10, 9))
    cured = workflow.transition(settings, case.case_id, "cure", actor="officer", documents={missing: "LATE-1"},
                                on=date(2025, 10, 9))
    assert cured.state.code == "applied" and not cured.missing_documents
    with pytest.raises(Conflict, match="once per case"):  # 补正 is notified once (一次性告知)
        workflow.transition(settings, case.case_id, "request_cure", actor="officer", on=date(2025, 10, 9))
    case = _to_decision(settings, cured, date(2025, 10, 10))
    workflow.transition(settings, case.case_id, "approve", actor="officer", on=date(2025, 10, 10))
    done = workflow.transition(settings, case.case_id, "complete", actor="officer", on=date(2025, 10, 11))
    assert done.state.code == "completed"


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_cure_not_supplied_in_time_closes_with_a_recorded_outcome(settings, wh, procedure):
    _, case = _apply(settings, wh, procedure, 3, drop=procedures.get(procedure).documents[0])
    with pytest.raises(Conflict, match="only after the cure deadline 2025-10-13"):
        workflow.transition(settings, case.case_id, "expire_cure", actor="officer", on=CURE_DUE)
    out = workflow.transition(settings, case.case_id, "expire_cure", actor="officer", on=date(2025, 10, 14))
    assert out.state.code == "cure_expired" and not out.open and out.next_step is None
    assert [n.kind for n in out.notices] == ["cure", "terminate"]
    assert [e.action for e in out.events] == ["open", "request_cure", "expire_cure"]


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_refusal_is_a_recorded_decision_with_its_reason(settings, wh, procedure):
    _, case = _apply(settings, wh, procedure, 4)
    with pytest.raises(UserError, match="reason"):
        workflow.transition(settings, case.case_id, "refuse", actor="officer", on=APPLIED)
    out = workflow.transition(settings, case.case_id, "refuse", actor="officer", reason="申请人非记录所涉主体",
                              on=APPLIED)
    assert (out.state.code, out.state.zh) == ("refused", "不予受理") and out.reasons == ("申请人非记录所涉主体",)
    assert out.notices[-1].kind == "refuse" and out.events[-1].reason == "申请人非记录所涉主体"


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_denial_and_revocation(settings, wh, procedure):
    _, case = _apply(settings, wh, procedure, 5)
    case = _to_decision(settings, case, APPLIED)
    denied = workflow.transition(settings, case.case_id, "deny", actor="officer", reason="危害后果未消除",
                                 on=date(2025, 9, 30))
    assert denied.state.code == "denied" and denied.notices[-1].kind == "deny" and not denied.open
    u, second = _apply(settings, wh, procedure, 6)
    second = _to_decision(settings, second, APPLIED)
    for action in ("approve", "complete"):
        workflow.transition(settings, second.case_id, action, actor="officer", on=date(2025, 9, 30))
    revoked = workflow.transition(settings, second.case_id, "revoke", actor="officer", reason="证明材料系伪造",
                                  on=date(2025, 10, 9))
    assert revoked.state.code == "revoked" and revoked.notices[-1].kind == "revoke"
    assert "2025年9月30日" in revoked.notices[-1].body  # names the decision it revokes
    workflow.sync_warehouse(settings)
    (row,) = store.warehouse_repairs(settings, uscc=u)
    assert (row["repaired_date"], row["revoked_date"]) == (date(2025, 9, 30), date(2025, 10, 9))


def test_ineligible_record_is_refused_at_registration_saying_when_it_can_be_repaired(settings, wh):
    u = wh.entity(7)
    pid = wh.penalty(u, decided=date(2025, 6, 2), paid=date(2025, 6, 20))  # 6-month wait ends 2025-12-02
    case = workflow.apply(settings, uscc=u, record_id=pid, documents=ALL_DOCS, actor="registrar", on=APPLIED)
    assert case.state.code == "refused" and case.eligibility.earliest_date == date(2025, 12, 2)
    (notice,) = case.notices
    assert notice.kind == "refuse" and "最短公示期未届满" in notice.reason
    assert "2025年12月2日起申请修复" in notice.body


def test_procedure_follows_the_record_and_the_applicants_situation():
    assert procedures.for_record("penalty_publicity", severity="minor").code == "simple"
    assert procedures.for_record("penalty_publicity", severity="serious").code == "general"
    assert procedures.for_record("penalty_publicity", severity="minor", restarted=True).code == "general"
    assert procedures.for_record("individual_abnormal").code == "active_correction"
