"""Repair case workflow on SQLite and PostgreSQL: allowed and refused transitions, revocation, concurrency."""

import threading
from datetime import date

import pytest

from core import audit
from core.errors import Conflict, UserError
from core.opdb import engine
from repair import eligibility, status, store, workflow

DOCS = {"application": "APP-1", "commitment": "COM-1", "proof": "PRF-1"}
ALL_ACTIONS = ("accept", "refuse", "review", "approve", "deny", "complete", "revoke", "request_cure", "cure",
               "expire_cure")
# state -> the actions allowed in it (every other action must be refused)
ALLOWED = {
    "applied": {"accept", "refuse", "request_cure"},
    "accepted": {"review"},
    "under_review": {"approve", "deny"},
    "approved": {"complete", "revoke"},
    "completed": {"revoke"},
    "refused": set(), "denied": set(), "revoked": set(),
}
PATH = {  # the actions that lead from a fresh application to each state
    "applied": [], "accepted": ["accept"], "under_review": ["accept", "review"],
    "approved": ["accept", "review", "approve"], "completed": ["accept", "review", "approve", "complete"],
    "refused": ["refuse"], "denied": ["accept", "review", "deny"],
    "revoked": ["accept", "review", "approve", "revoke"],
}


def _eligible_case(settings, wh, n=1):
    u = wh.entity(n)
    # a serious-severity penalty follows the general procedure (with verification)
    pid = wh.penalty(u, decided=date(2024, 1, 15), paid=date(2024, 2, 1), severity="serious")
    case = workflow.apply(settings, uscc=u, record_id=pid, documents=DOCS, actor="officer-a", on=date(2025, 3, 3))
    return u, pid, case


def _walk(settings, case_id, actions, *, on=date(2025, 3, 4)):
    for action in actions:
        workflow.transition(settings, case_id, action, actor="officer-a", reason="test", on=on)


def test_apply_opens_a_case_with_its_first_deadline(db_settings, db_wh):
    _, pid, case = _eligible_case(db_settings, db_wh)
    assert (case.state.code, case.state.zh, case.procedure.code) == ("applied", "已申请", "general")
    assert case.next_step.code == "accept" and case.version == 1
    assert case.due_on == date(2025, 3, 5)  # 2 working days after Mon 2025-03-03
    assert case.record_id == pid and case.open


def test_apply_refuses_a_second_open_case_and_records_refusal_of_unrepairable_records(db_settings, db_wh):
    u, pid, _ = _eligible_case(db_settings, db_wh)
    with pytest.raises(Conflict, match="already has an open repair case"):
        workflow.apply(db_settings, uscc=u, record_id=pid, documents=DOCS, actor="x", on=date(2025, 3, 3))
    heavy = db_wh.penalty(u, decided=date(2024, 1, 15), sanctions="fine;revoke_licence", paid=date(2024, 2, 1))
    refused = workflow.apply(db_settings, uscc=u, record_id=heavy, documents=DOCS, actor="x", on=date(2025, 3, 3))
    assert refused.state.code == "refused" and not refused.open
    assert "吊销许可证件" in refused.notices[0].reason and refused.notices[0].kind == "refuse"


@pytest.mark.parametrize("state", list(ALLOWED))
def test_every_action_is_allowed_or_refused_by_state(settings, wh, state):
    _, _, case = _eligible_case(settings, wh)
    _walk(settings, case.case_id, PATH[state])
    for action in ALL_ACTIONS:
        if action in ALLOWED[state] or action in ("cure", "expire_cure"):  # cure paths: tests/repair/test_procedures.py
            continue
        with pytest.raises(Conflict, match=f"cannot {action} case .* in state {state}"):
            workflow.transition(settings, case.case_id, action, actor="officer-b", reason="r",
                                on=date(2025, 3, 4))
    for action in ALLOWED[state] - {"request_cure"}:  # each allowed action works from this state (fresh case each time)
        _, _, other = _eligible_case(settings, wh, n=100 + ALL_ACTIONS.index(action))
        _walk(settings, other.case_id, PATH[state])
        after = workflow.transition(settings, other.case_id, action, actor="officer-b", reason="r",
                                    on=date(2025, 3, 4))
        assert after.version == len(PATH[state]) + 2


def test_refusals_need_a_reason_and_dates_cannot_run_backwards(settings, wh):
    _, _, case = _eligible_case(settings, wh)
    with pytest.raises(UserError, match="reason: expected a reason to refuse"):
        workflow.transition(settings, case.case_id, "refuse", actor="o", on=date(2025, 3, 4))
    with pytest.raises(UserError, match="on or after 2025-03-03"):
        workflow.transition(settings, case.case_id, "accept", actor="o", on=date(2025, 3, 2))
    with pytest.raises(UserError, match="action: expected one of"):
        workflow.transition(settings, case.case_id, "uphold", actor="o", on=date(2025, 3, 4))


def test_full_path_records_who_when_why_and_writes_the_warehouse_repair(db_settings, db_wh):
    u, pid, case = _eligible_case(db_settings, db_wh)
    cid = case.case_id
    _walk(db_settings, cid, ["accept", "review", "approve"], on=date(2025, 3, 5))
    done = workflow.transition(db_settings, cid, "complete", actor="officer-c", reason="publicity stopped",
                               on=date(2025, 3, 6))
    assert store.warehouse_repairs(db_settings, uscc=u) == []  # decisions write only the operational DB
    assert workflow.sync_warehouse(db_settings).repairs == 1
    assert done.state.code == "completed" and not done.open and done.due_on is None
    assert [e.to_state for e in done.events] == ["applied", "accepted", "under_review", "approved",
                                                      "completed"]
    assert done.events[-1].actor == "officer-c" and done.events[-1].reason == "publicity stopped"
    rows = store.warehouse_repairs(db_settings, uscc=u)
    assert [(r["record_kind"], r["record_id"], r["repaired_date"], r["revoked_date"]) for r in rows] == [
        ("penalty", pid, date(2025, 3, 6), None)]
    with engine(db_settings).connect() as conn:
        trail = audit.entries(conn, subject=cid)
    assert [t["action"] for t in reversed(trail)] == ["repair.open", "repair.accept", "repair.review",
                                                      "repair.approve", "repair.complete"]
    assert trail[0]["versions"]["repair"] == "repair-2026.2"


def test_revoking_a_completed_repair_restores_the_record_and_allows_a_later_case(db_settings, db_wh):
    u, pid, case = _eligible_case(db_settings, db_wh)
    cid = case.case_id
    _walk(db_settings, cid, ["accept", "review", "approve", "complete"], on=date(2025, 3, 5))
    with pytest.raises(UserError, match="reason"):
        workflow.transition(db_settings, cid, "revoke", actor="o", on=date(2025, 6, 2))
    out = workflow.transition(db_settings, cid, "revoke", actor="officer-d", reason="false proof of payment",
                              on=date(2025, 6, 2))
    assert out.state.code == "revoked"
    workflow.sync_warehouse(db_settings)
    (row,) = store.warehouse_repairs(db_settings, uscc=u)
    assert row["repaired_date"] == date(2025, 3, 5) and row["revoked_date"] == date(2025, 6, 2)
    # the record counts again, with its publicity restarted and a bar on re-applying
    check = eligibility.check(db_settings, u, as_of=date(2025, 6, 3))["records"][0]
    assert check["state"] == "in_effect" and check["missing_conditions"] == ["reapply_bar"]
    assert check["details"]["publicity_end"] == date(2028, 6, 2)


def test_approval_is_refused_when_the_record_no_longer_qualifies(settings, wh):
    u, _, case = _eligible_case(settings, wh)
    _walk(settings, case.case_id, ["accept", "review"])
    wh.penalty(u, decided=date(2025, 3, 10), paid=None)  # a new penalty in the same domain
    with pytest.raises(Conflict, match="no later penalty in the same domain"):
        workflow.transition(settings, case.case_id, "approve", actor="o", on=date(2025, 3, 11))


def test_stale_version_is_a_conflict(settings, wh):
    _, _, case = _eligible_case(settings, wh)
    workflow.transition(settings, case.case_id, "accept", actor="a", on=date(2025, 3, 4), expected_version=1)
    with pytest.raises(Conflict, match="changed since you read it"):
        workflow.transition(settings, case.case_id, "refuse", actor="b", reason="late", on=date(2025, 3, 4),
                            expected_version=1)


def test_two_officers_at_once_one_wins_the_other_gets_a_conflict(db_settings, db_wh):
    _, _, case = _eligible_case(db_settings, db_wh)
    cid = case.case_id
    barrier, results = threading.Barrier(2), {}

    def act(name, action):
        barrier.wait()
        try:
            out = workflow.transition(db_settings, cid, action, actor=name, reason="concurrent", on=date(2025, 3, 4),
                                      expected_version=1)
            results[name] = out.state.code
        except Conflict as exc:
            results[name] = f"conflict: {exc}"
        except Exception as exc:  # anything else is a failure the assertion below shows
            results[name] = f"error: {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=act, args=("officer-a", "accept")),
               threading.Thread(target=act, args=("officer-b", "refuse"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    outcomes = sorted(results.values())
    assert len(outcomes) == 2 and not any(o.startswith("error") for o in outcomes), outcomes
    assert sum(o.startswith("conflict") for o in outcomes) == 1, outcomes
    final = status.case_status(db_settings, cid)
    winner = next(n for n, o in results.items() if not o.startswith("conflict"))
    assert final.version == 2 and len(final.events) == 2  # nothing lost, nothing doubled
    assert final.events[-1].actor == winner and len(final.notices) == 1  # one decision, one notice
    with engine(db_settings).connect() as conn:
        refused = [e for e in audit.entries(conn, subject=cid) if e["outcome"].startswith("refused:")]
    assert len(refused) == 1 and refused[0]["actor"] != winner, [(e["actor"], e["outcome"]) for e in refused]


def test_status_by_credit_code_lists_open_cases_first(settings, wh):
    u, pid, case = _eligible_case(settings, wh)
    other = wh.penalty(u, decided=date(2023, 1, 15), domain="advertising", paid=date(2023, 2, 1))
    second = workflow.apply(settings, uscc=u, record_id=other, documents=DOCS, actor="a", on=date(2025, 3, 3))
    workflow.transition(settings, case.case_id, "refuse", actor="a", reason="incomplete", on=date(2025, 3, 4))
    out = status.status(settings, u, today=date(2025, 3, 4))
    assert [c.case_id for c in out.cases] == [second.case_id, case.case_id]
    assert out.cases[0].state.zh == "已申请" and out.cases[0].urgency == "due_soon"
    assert out.cases[1].next_step is None
    applicant = status.status(settings, case.case_id, audience="applicant")
    assert applicant.version is None and all(e.actor is None for e in applicant.events)
    # the applicant sees the reason of the notified refusal, and the notice itself
    assert applicant.state.en == "refused" and applicant.reasons == ("incomplete",)
    assert applicant.events[-1].reason == "incomplete" and applicant.notices[0].title == "信用修复申请不予受理通知书"


def test_sync_rewrites_lost_warehouse_repairs_from_the_cases(settings, wh):
    u, pid, case = _eligible_case(settings, wh)
    _walk(settings, case.case_id, ["accept", "review", "approve", "complete"], on=date(2025, 3, 5))
    wh.con.execute("DELETE FROM repairs")  # e.g. a warehouse rebuilt from the raw extracts
    assert store.warehouse_repairs(settings, uscc=u) == []
    assert workflow.sync_warehouse(settings).as_dict() == {"cases": 1, "repairs": 1, "corrections": 0}
    (row,) = store.warehouse_repairs(settings, uscc=u)
    assert (row["record_id"], row["repaired_date"], row["case_id"]) == (pid, date(2025, 3, 5), case.case_id)
