"""The console in a real browser (Playwright + Debian Chromium) against a real `credit-risk serve`.

Each test signs in as a role in its own browser context; every page it opens must log no console error.
Screenshots of every page go to $CREDIT_RISK_CONSOLE_SCREENSHOTS (docs/console in the repository).
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from console.accounts import SESSIONS
from core import audit, codelists, rules
from core.opdb import engine
from inspection.results import RESULT_LABELS
from tests.console.conftest import SCRIPT_NAME, password


class Staff:
    """A signed-in browser context of one role, collecting console errors of every page."""

    def __init__(self, browser, console, role: str) -> None:
        self.console, self.role = console, role
        self.context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.expected: set[int] = set()  # statuses the test provoked on purpose
        self.page.on("console", lambda m: self.errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.goto(f"{console.console}/")
        assert "/console/login" in self.page.url
        self.page.fill("input[name=name]", role)
        self.page.fill("input[name=password]", password(role))
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{console.console}/")

    def open(self, path: str, *, status: int = 200):
        response = self.page.goto(f"{self.console.console}{path}")
        assert response.status == status, (path, response.status, self.page.content()[:2000])
        if status != 200:  # the browser logs the expected refusal itself as a failed load
            self.errors = [e for e in self.errors if f"status of {status}" not in e]
        return response

    def refused(self, status: int) -> None:
        """Expect the browser's log line of a refusal the test provoked (a form sent back with its errors)."""
        self.expected.add(status)

    def shot(self, shots, name: str) -> None:
        self.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    def close(self) -> None:
        errors = [e for e in self.errors if not any(f"status of {s}" in e for s in self.expected)]
        assert not errors, errors
        self.context.close()


@pytest.fixture
def staff(browser, console):
    opened: list[Staff] = []

    def sign_in(role: str) -> Staff:
        s = Staff(browser, console, role)
        opened.append(s)
        return s

    yield sign_in
    for s in opened:
        s.close()


def test_every_page_opens_without_console_errors_and_is_photographed(staff, console, shots):
    admin = staff("admin")
    admin.open("/")
    assert admin.page.locator("h1").first.inner_text() == "总览"
    assert admin.page.locator("svg").count() >= 4  # distribution, migration, by town, by industry
    assert "上升" in admin.page.inner_text("body")  # the migration against the previous publication
    admin.shot(shots, "overview")
    for path, name, heading in (("/tiers", "tiers", "分类结果"), ("/plans", "plans", "双随机抽查"),
                                ("/repair", "repair", "信用修复"), ("/model", "model", "模型")):
        admin.open(path)
        assert admin.page.locator("h1").first.inner_text() == heading
        admin.shot(shots, name)
    code = admin.page.evaluate("() => 1")  # the page runs script normally
    assert code == 1
    admin.open("/nowhere", status=404)


def test_tier_list_filters_searches_pages_and_exports_csv(staff, console, shots):
    planner = staff("planner")
    planner.open("/tiers")
    everyone = int(planner.page.inner_text("#total").replace(",", ""))
    assert everyone > 200
    planner.page.select_option("select[name=tier]", "D")
    planner.page.click("form.card button[type=submit]")
    planner.page.wait_for_url(re.compile(r".*tier=D.*"))
    only_d = int(planner.page.inner_text("#total").replace(",", ""))
    assert 0 < only_d < everyone
    rows = planner.page.locator("#tier-table tr").all_inner_texts()[1:]
    assert rows and all("\tD 信用风险高\t" in r for r in rows)
    with planner.page.expect_download() as info:
        planner.page.click("#export")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == only_d and {r["当前分类"] for r in exported} == {"D"}
    # towns and industries by name beside their codes, in the export and on the page
    assert all(r["乡镇街道"] == codelists.town_zh(r["乡镇街道代码"]) and r["乡镇街道"] for r in exported)
    assert all(r["行业名称"] == codelists.industry_zh(r["行业代码"]) for r in exported)
    first = exported[0]
    assert f"{first['乡镇街道']}（{first['乡镇街道代码']}）" in planner.page.inner_text("#tier-table")
    time.sleep(0.5)  # the export is audited when it ends, with the publication it came from
    with engine(console.settings).connect() as conn:
        done = audit.entries(conn, action="console export tiers.csv", limit=1)[0]
    assert done["outcome"] == "completed" and done["inputs"]["rows"] == only_d
    assert done["inputs"]["publication_id"] and done["inputs"]["filters"] == {"tier": "D"}
    # search by credit code: exactly that entity
    planner.open(f"/tiers?q={console.script_uscc}")
    assert planner.page.inner_text("#total") == "1"
    time.sleep(0.5)  # the service's audit writer flushes every 0.2 s
    with engine(console.settings).connect() as conn:
        searches = [e["inputs"]["query"] for e in audit.entries(conn, action="console GET /console/tiers", limit=5)]
    assert "q=…" in searches and not any(console.script_uscc in q for q in searches)
    assert SCRIPT_NAME in planner.page.inner_text("#tier-table")
    planner.open("/tiers")
    planner.page.click("#next-page")
    assert "第 2 /" in planner.page.inner_text(".pager")


def test_entity_page_shows_reasons_history_and_a_script_name_as_text(staff, console, shots):
    officer = staff("repair_officer")
    officer.open(f"/entities/{console.script_uscc}")
    assert officer.page.inner_text("#entity-name") == SCRIPT_NAME  # shown as text, not run
    assert officer.page.evaluate("() => window.__pwned") is None
    assert officer.page.locator("#reasons li").count() >= 1
    assert "分类历史" in officer.page.inner_text("body")
    assert officer.page.locator("#override-form").count() == 0  # officers see no override form
    officer.shot(shots, "entity")


def test_planner_sets_an_override_and_a_bad_form_comes_back_with_the_error_by_the_field(staff, console, shots):
    planner = staff("planner")
    uscc = console.script_uscc
    planner.open(f"/entities/{uscc}")
    expires = (date.today() + timedelta(days=30)).isoformat()
    planner.page.select_option("#override-form select[name=tier]", "C")
    planner.page.fill("#override-form textarea[name=reason]", "短")
    planner.page.fill("#override-form input[name=expires_on]", expires)
    planner.page.check("#override-form input[name=confirm]")
    planner.page.click("#override-form button[type=submit]")
    planner.refused(400)
    error = planner.page.locator("#override-form textarea[name=reason] + .err")
    assert "at least" in error.inner_text()
    assert planner.page.input_value("#override-form input[name=expires_on]") == expires  # nothing lost
    assert planner.page.input_value("#override-form select[name=tier]") == "C"
    planner.page.fill("#override-form textarea[name=reason]", "区局会商意见：近期投诉集中，提高监管频次")
    planner.page.check("#override-form input[name=confirm]")
    planner.page.click("#override-form button[type=submit]")
    assert "人工调整已生效" in planner.page.inner_text(".notice")
    assert "人工调整" in planner.page.inner_text("body") and "C" in planner.page.inner_text(".card p")
    with engine(console.settings).connect() as conn:
        entry = audit.entries(conn, action="override.set", subject=uscc, limit=1)[0]
    assert entry["actor"].startswith("user:") and entry["inputs"]["tier"] == "C"
    planner.shot(shots, "entity_override")


def test_planner_draws_a_plan_exports_it_and_records_a_result(staff, console, shots):
    planner = staff("planner")
    planner.open("/plans")
    planner.page.fill("#draw-form input[name=period]", "2026-12")
    planner.page.fill("#draw-form input[name=capacity]", "20")
    planner.page.fill("#draw-form input[name=seed]", "7")
    planner.page.check("#draw-form input[name=confirm]")
    planner.page.click("#draw-form button[type=submit]")
    planner.page.wait_for_url(re.compile(r".*/console/plans/PLAN-2026-12-.*"))
    assert "按分类" in planner.page.inner_text("body")
    first_id = planner.page.locator("#inspections tr").nth(1).locator("td").first.inner_text()
    with planner.page.expect_download() as info:
        planner.page.click("#plan-csv")
    assert first_id in Path(info.value.path()).read_text(encoding="utf-8-sig")
    planner.page.fill("#result-form input[name=inspection_id]", first_id)
    planner.page.select_option("#result-form select[name=result]", "issue_corrected")
    planner.page.click("#result-form button[type=submit]")
    assert "检查结果已记录" in planner.page.inner_text(".notice")
    row = planner.page.locator("#inspections tr").nth(1).inner_text()
    assert RESULT_LABELS["issue_corrected"][0] in row
    planner.shot(shots, "plan")


def test_repair_case_goes_from_application_to_decision_with_a_printable_notice(staff, console, shots):
    if console.repairable is None:
        pytest.fail("the test district has no record eligible for repair today")
    uscc, record_id = console.repairable
    officer = staff("repair_officer")
    officer.open(f"/entities/{uscc}")
    assert "现在可申请" in officer.page.inner_text("body")
    officer.page.click("text=试算修复后的分类")
    assert "修复后" in officer.page.inner_text("body") and record_id in officer.page.inner_text("body")
    officer.shot(shots, "whatif")
    officer.open("/repair")
    form = "#apply-form"
    officer.page.fill(f"{form} input[name=uscc]", uscc)
    officer.page.fill(f"{form} input[name=record_id]", record_id)
    officer.page.fill(f"{form} input[name=application]", "申请-001")
    officer.page.fill(f"{form} input[name=commitment]", "承诺-001")
    officer.page.fill(f"{form} input[name=proof]", "缴款凭证-001")
    officer.page.click(f"{form} button[type=submit]")
    officer.page.wait_for_url(re.compile(r".*/console/repair/cases/RP-.*"))
    assert "已申请" in officer.page.inner_text("#state")
    officer.page.check("#action-form input[value=accept]")
    officer.page.click("#action-form button[type=submit]")
    assert "已受理" in officer.page.inner_text("#state")
    if officer.page.locator("#action-form input[value=review]").count():  # the general procedure verifies first
        officer.page.check("#action-form input[value=review]")
        officer.page.click("#action-form button[type=submit]")
    before = officer.page.inner_text("#state")
    officer.page.check("#action-form input[value=approve]")
    officer.page.click("#action-form button[type=submit]")  # no confirmation ticked: refused, nothing lost
    officer.refused(400)
    assert "不可撤回" in officer.page.inner_text("#action-form .err")
    assert officer.page.inner_text("#state") == before
    officer.page.check("#action-form input[value=approve]")
    officer.page.check("#action-form input[name=confirm]")
    officer.page.click("#action-form button[type=submit]")
    assert "准予修复" in officer.page.inner_text("#state")
    officer.shot(shots, "repair_case")
    officer.page.locator(".notice-link").last.click()  # the decision's notice, as the repair package prints it
    assert uscc in officer.page.inner_text("body") and "准予信用修复" in officer.page.inner_text("h1")
    officer.shot(shots, "repair_notice")
    officer.open("/repair")
    officer.shot(shots, "repair")


def test_an_objection_to_an_abnormal_listing_is_filed_and_accepted(staff, console):
    if console.listing is None:
        pytest.fail("the test district has no current abnormal listing")
    uscc, listing_id, listed = console.listing
    officer = staff("repair_officer")
    officer.open("/repair")
    form = "#objection-form"
    officer.page.fill(f"{form} input[name=uscc]", uscc)
    officer.page.fill(f"{form} input[name=record_id]", listing_id)
    officer.page.fill(f"{form} input[name=objection]", "异议书-001")
    officer.page.fill(f"{form} input[name=evidence]", "租赁合同-001")
    officer.page.fill(f"{form} textarea[name=grounds]", "已按登记住所恢复经营，附租赁合同")
    officer.page.fill(f"{form} input[name=on]", (listed + timedelta(days=3)).isoformat())
    officer.page.click(f"{form} button[type=submit]")
    officer.page.wait_for_url(re.compile(r".*/console/repair/cases/OB-.*"))
    assert "已提出异议" in officer.page.inner_text("#state")
    officer.page.check("#action-form input[value=accept]")
    officer.page.fill("#action-form input[name=on]", (listed + timedelta(days=4)).isoformat())
    officer.page.click("#action-form button[type=submit]")
    assert "已受理" in officer.page.inner_text("#state")


def test_role_walls_match_the_api(staff, console):
    officer = staff("repair_officer")
    for path in ("/tiers", "/plans", "/model", "/tiers.csv"):
        officer.open(path, status=403)
    nav = officer.page.locator("header nav").inner_text()
    assert "信用修复" in nav and "分类结果" not in nav and "双随机抽查" not in nav
    planner = staff("planner")
    planner.open("/repair", status=403)
    planner.open("/repair/cases/RP-20260101-ABCDEF", status=403)
    operator = staff("model_operator")
    operator.open("/model")
    operator.open("/plans", status=403)
    assert "模型" in operator.page.locator("header nav").inner_text()


def _client(console, role: str) -> httpx.Client:
    client = httpx.Client(base_url=console.console, follow_redirects=False, timeout=30)
    login = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    r = client.post("/login", data={"csrf": token, "name": role, "password": password(role)})
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    return client


def test_forms_without_the_csrf_token_are_refused_and_the_api_still_needs_a_key(console):
    client = _client(console, "planner")
    body = {"tier": "A", "reason": "不应生效的调整", "expires_on": date.today().isoformat(), "confirm": "yes"}
    r = client.post(f"/entities/{console.script_uscc}/override", data={**body, "csrf": "forged"})
    assert r.status_code == 403 and "表单校验码不符" in r.text
    r = client.post(f"/entities/{console.script_uscc}/override", data=body)
    assert r.status_code == 403
    # a console session opens no API door: /v1 keeps its bearer-key rule
    assert httpx.get(f"{console.url}/v1/tiers", cookies=client.cookies).status_code == 401
    # a login form posted without its own token is refused too
    r = httpx.post(f"{console.console}/login", data={"name": "planner", "password": password("planner")})
    assert r.status_code == 403


def test_an_expired_session_sends_the_user_back_to_sign_in(console):
    client = _client(console, "model_operator")
    assert client.get("/model").status_code == 200
    with engine(console.settings).begin() as conn:
        conn.execute(sa.update(SESSIONS).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    r = client.get("/model")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_repeated_wrong_passwords_lock_the_account_in_the_browser(browser, console):
    from console.accounts import create_user

    create_user(console.settings, name="locked.one", role="planner", password="right-password-1", actor="test")
    page = browser.new_page()
    for _ in range(int(rules.load("console")["login"]["max_failures"])):
        page.goto(f"{console.console}/login")
        page.fill("input[name=name]", "locked.one")
        page.fill("input[name=password]", "wrong-password")
        page.click("button[type=submit]")
    assert "锁定" in page.inner_text(".alert")
    page.fill("input[name=password]", "right-password-1")
    page.click("button[type=submit]")
    assert "锁定" in page.inner_text(".alert") and "/login" in page.url
    page.close()
    with engine(console.settings).connect() as conn:
        refused = [e for e in audit.entries(conn, action="console.login", limit=200) if e["outcome"].startswith("refused")]
    assert len(refused) >= int(rules.load("console")["login"]["max_failures"]) + 1


def test_entity_page_shows_leniency_decisions_that_are_not_penalties(staff, console):
    """A 首违不罚 decision counts as no penalty but stays visible on the entity page (a second offence is seen)."""
    from features.warehouse import reader

    con = reader(console.settings)
    try:
        row = con.execute("SELECT uscc, penalty_id FROM penalties WHERE leniency AND uscc IN "
                          "(SELECT uscc FROM entities WHERE status = 'active') ORDER BY decided_date DESC LIMIT 1"
                          ).fetchone()
    finally:
        con.close()
    assert row is not None, "the simulated district should hold a first-violation leniency decision"
    planner = staff("planner")
    planner.open(f"/entities/{row[0]}")
    card = planner.page.locator("div.card", has_text="首违不罚、抽检不合格与违背承诺").inner_text()
    assert row[1] in card and "不计入行政处罚" in card
