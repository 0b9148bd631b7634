"""舆情台账 in the console (real browser, real service): the Friday-evening item stands out as overdue, the
transition form keeps what was typed when refused, and only planners (and admins) see the page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import audit
from core.opdb import engine
from tests.console.test_browser import Staff
from tests.opinion_ledger.conftest import add_items


@pytest.fixture(scope="module")
def ledger(console):
    from opinion_ledger.workflow import open_entries

    add_items(console.settings)
    return open_entries(console.settings, at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC), actor="test")


@pytest.fixture
def planner(browser, console, ledger):
    s = Staff(browser, console, "planner")
    yield s
    s.close()


def test_the_friday_evening_item_is_listed_overdue_and_stands_out(planner, console, shots):
    planner.open("/opinions/ledger?overdue=1")
    assert planner.page.locator("h1").first.inner_text() == "舆情台账"
    row = planner.page.locator('tr[data-entry="YQTZ-YQ-FRI"]')
    assert row.count() == 1 and "row-overdue" in row.get_attribute("class")
    text = row.inner_text()
    assert "已逾期" in text and "2026-11-27 19:30" in text and "2026-11-29 19:30" in text  # Asia/Shanghai
    assert "已逾期未回应" in planner.page.inner_text("#overdue-total")
    assert planner.page.locator('nav a[href="/console/opinions/ledger"]').count() == 1
    planner.shot(shots, "opinion_ledger")


def test_a_refused_transition_keeps_the_form_and_a_good_one_moves_the_entry(planner, console, shots):
    planner.open("/opinions/ledger/YQTZ-YQ-SMALL", status=404)
    planner.open("/opinions/ledger/YQTZ-YQ-FRI")
    planner.page.check('input[name=to][value="verified"]')
    planner.refused(400)
    planner.page.click("#transition-form button[type=submit]")
    planner.page.wait_for_selector(".err")
    assert "必填" in planner.page.inner_text("#transition-form")
    assert planner.page.is_checked('input[name=to][value="verified"]')  # nothing lost
    planner.page.fill("textarea[name=reason]", "现场核实：后厨卫生问题属实，已责令整改")
    planner.page.click("#transition-form button[type=submit]")
    planner.page.wait_for_url("**/opinions/ledger/YQTZ-YQ-FRI")
    assert planner.page.inner_text("#state") == "已核实"
    assert "现场核实" in planner.page.inner_text("#events")
    planner.shot(shots, "opinion_ledger_entry")
    with engine(console.settings).connect() as conn:
        row = audit.entries(conn, action="opinion_ledger.transition", subject=None)[0]
    assert row["actor"].startswith("user:") and row["inputs"]["entry_id"] == "YQTZ-YQ-FRI"


def test_only_planners_and_admins_open_the_ledger(browser, console, ledger):
    officer = Staff(browser, console, "repair_officer")
    try:
        officer.open("/opinions/ledger", status=403)
        assert officer.page.locator('nav a[href="/console/opinions/ledger"]').count() == 0
    finally:
        officer.close()
