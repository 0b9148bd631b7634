"""Working-day deadlines of repair steps across the National Day holiday; overdue and due-soon lists."""

from datetime import date

from repair import deadlines, workflow

DOCS = {"application": "APP-1", "commitment": "COM-1", "proof": "PRF-1"}


def _serious_case(settings, wh, n=1):
    u = wh.entity(n)
    pid = wh.penalty(u, decided=date(2024, 6, 1), domain="food", severity="serious", paid=date(2024, 7, 1))
    lid = wh.serious(u, listed=date(2024, 7, 1), penalty_id=pid)
    return workflow.apply(settings, uscc=u, record_id=lid, documents=DOCS, actor="o", on=date(2025, 9, 29))


def test_serious_list_deadlines_skip_the_national_day_holiday(settings, wh):
    case = _serious_case(settings, wh)
    # applied Mon 2025-09-29: accept within 2 working days; Oct 1-8 are off -> Thu Oct 9
    assert case.kind.code == "serious_list_removal"
    assert case.due_on == date(2025, 10, 9)
    accepted = workflow.transition(settings, case.case_id, "accept", actor="o", on=date(2025, 9, 30))
    # decide within 15 working days of acceptance, counting the make-up Saturday Oct 11 -> Tue Oct 28
    assert accepted.next_step.code == "decide" and accepted.due_on == date(2025, 10, 28)
    reviewing = workflow.transition(settings, case.case_id, "review", actor="o", on=date(2025, 10, 9))
    assert reviewing.due_on == date(2025, 10, 28)  # the decision deadline still runs from acceptance
    approved = workflow.transition(settings, case.case_id, "approve", actor="o", on=date(2025, 10, 10))
    # stop publicity within 3 working days: Sat Oct 11 is a make-up working day -> Oct 11, 13, 14
    assert approved.next_step.code == "complete" and approved.due_on == date(2025, 10, 14)


def test_abnormal_list_decision_is_due_five_working_days_after_the_application(settings, wh):
    u = wh.entity(2)
    lid = wh.abnormal(u, listed=date(2025, 7, 10))
    wh.report(u, year=2024, filed=date(2025, 9, 1))
    case = workflow.apply(settings, uscc=u, record_id=lid, documents=DOCS, actor="o", on=date(2025, 9, 29))
    assert case.due_on == date(2025, 10, 13)  # Sep 30, Oct 9, 10, 11 (make-up), 13
    accepted = workflow.transition(settings, case.case_id, "accept", actor="o", on=date(2025, 9, 30))
    assert accepted.due_on == date(2025, 10, 13)


def test_due_lists_overdue_and_due_soon_steps(settings, wh):
    late = _serious_case(settings, wh, 1)  # accept due Oct 9
    soon = _serious_case(settings, wh, 2)
    workflow.transition(settings, soon.case_id, "accept", actor="o", on=date(2025, 9, 30))  # decide due Oct 28
    out = deadlines.due(settings, today=date(2025, 10, 10), soon_workdays=2)
    assert [c.case_id for c in out.overdue] == [late.case_id]
    assert out.overdue[0].late_workdays == 1 and out.overdue[0].next_step.zh == "受理决定"
    assert out.due_soon == ()
    out = deadlines.due(settings, today=date(2025, 10, 24), soon_workdays=2)  # Oct 24 + 2 working days = Oct 28
    assert [c.case_id for c in out.due_soon] == [soon.case_id]
    assert deadlines.urgency(date(2025, 10, 28), today=date(2025, 10, 23), soon_workdays=2) == "on_time"
