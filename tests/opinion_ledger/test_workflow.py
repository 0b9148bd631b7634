"""The ledger: which items open entries, the 48-clock-hour deadline over a weekend, transitions, audit, sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import audit, opdb
from core.errors import UserError
from opinion_ledger import rules, workflow
from tests.opinion_ledger.conftest import BIG, FRIDAY_EVENING

RUN_AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_negative_items_above_reach_or_marked_by_the_classifier_open_one_entry_each_and_a_rerun_opens_none(
        ledger_home):
    first = workflow.open_entries(ledger_home, at=RUN_AT, actor="test")
    assert sorted(first.entry_ids) == ["YQTZ-YQ-CLF", "YQTZ-YQ-FRI"]  # small reach and neutral open nothing
    assert first.by_reason == {"reach": 1, "classifier": 1}
    again = workflow.open_entries(ledger_home, at=RUN_AT, actor="test")
    assert again.opened == 0 and again.already_open == 2
    with opdb.engine(ledger_home).connect() as conn:
        assert len(audit.entries(conn, action="opinion_ledger.open")) == 2


def test_an_item_of_a_published_c_entity_opens_an_entry_whatever_its_reach(ledger_home, monkeypatch):
    from tests.opinion_ledger.conftest import SMALL

    monkeypatch.setattr(workflow, "_published_tiers", lambda settings: {SMALL: "C"})
    out = workflow.open_entries(ledger_home, at=RUN_AT, actor="test")
    assert "YQTZ-YQ-SMALL" in out.entry_ids
    assert workflow.show(ledger_home, "YQTZ-YQ-SMALL").opened_because == ["tier"]


def test_friday_evening_item_is_not_overdue_at_47h59m_and_overdue_at_48_clock_hours_over_the_weekend(ledger_home):
    workflow.open_entries(ledger_home, at=RUN_AT, actor="test")
    entry = workflow.show(ledger_home, "YQTZ-YQ-FRI")
    assert entry.published_at == FRIDAY_EVENING.astimezone(UTC) == datetime(2026, 11, 27, 11, 30, tzinfo=UTC)
    assert entry.time_basis == "published_at"
    # Sunday 19:30 in Shanghai: 48 clock hours, the weekend counts (not working days)
    assert entry.due_at.astimezone(FRIDAY_EVENING.tzinfo) == datetime(2026, 11, 29, 19, 30, tzinfo=FRIDAY_EVENING.tzinfo)
    just_before = FRIDAY_EVENING + timedelta(hours=47, minutes=59)
    at_deadline = FRIDAY_EVENING + timedelta(hours=48)
    ids = lambda at: [e.entry_id for e in workflow.list_entries(ledger_home, at=at, overdue=True).entries]  # noqa: E731
    assert "YQTZ-YQ-FRI" not in ids(just_before)
    assert "YQTZ-YQ-FRI" in ids(at_deadline)
    assert workflow.show(ledger_home, "YQTZ-YQ-FRI", at=just_before).urgency == "due_soon"
    # a naive published_at is read in Asia/Shanghai
    assert workflow.show(ledger_home, "YQTZ-YQ-CLF").published_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_states_move_only_along_the_rules_with_a_reason_and_a_response_stops_the_clock(ledger_home):
    workflow.open_entries(ledger_home, at=RUN_AT, actor="test")
    eid = "YQTZ-YQ-FRI"
    with pytest.raises(UserError, match="reason"):
        workflow.transition(ledger_home, eid, to="verified", reason=" ", actor="test")
    with pytest.raises(UserError, match="from pending an entry may move to verified, unfounded"):
        workflow.transition(ledger_home, eid, to="responded", reason="x", actor="test")
    late = FRIDAY_EVENING + timedelta(hours=50)
    workflow.transition(ledger_home, eid, to="verified", reason="现场核实属实", actor="officer", at=late)
    assert workflow.show(ledger_home, eid, at=late).overdue  # verified is not yet a response
    done = workflow.transition(ledger_home, eid, to="responded", reason="已在官网回应", actor="officer",
                               at=late + timedelta(hours=1), expected_version=2)
    assert not done.overdue and done.urgency == "met" and done.verification == "verified"
    assert [e.to_state for e in done.events] == ["pending", "verified", "responded"]
    assert eid not in [e.entry_id for e in workflow.list_entries(ledger_home, at=late, overdue=True).entries]
    with opdb.engine(ledger_home).connect() as conn:
        moves = audit.entries(conn, action="opinion_ledger.transition")
    assert moves[0]["actor"] == "officer" and moves[0]["inputs"]["to"] == "responded"
    assert moves[1]["outcome"] == "pending -> verified (after the deadline)"
    assert moves[0]["subject"] == BIG


def test_verification_outcomes_reach_the_warehouse_table_once(ledger_home):
    from features import warehouse

    workflow.open_entries(ledger_home, at=RUN_AT, actor="test")
    workflow.transition(ledger_home, "YQTZ-YQ-FRI", to="verified", reason="属实", actor="t",
                        at=datetime(2026, 11, 28, 20, 0, tzinfo=UTC))  # 2026-11-29 04:00 in Shanghai
    workflow.transition(ledger_home, "YQTZ-YQ-CLF", to="unfounded", reason="不属实", actor="t")
    assert workflow.sync_warehouse(ledger_home).written == 2
    assert workflow.sync_warehouse(ledger_home).written == 0
    con = warehouse.connect(ledger_home)
    try:
        rows = con.execute("SELECT opinion_id, outcome, decided_date FROM opinion_handling ORDER BY 1").fetchall()
    finally:
        con.close()
    assert rows[0][:2] == ("YQ-CLF", "unfounded")
    assert rows[1] == ("YQ-FRI", "verified", datetime(2026, 11, 29).date())  # the day in Asia/Shanghai


def test_stopped_states_follow_the_rules():
    assert rules.stopped_states() == ("responded", "followed_up")
    assert rules.initial_state() == "pending"
