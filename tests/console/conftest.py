"""Console fixtures: a small simulated district published twice, one user per role, a real `credit-risk serve`.

Built once per session (about a minute): synth → ingest → a small model trained and registered in MLflow →
two publications → users → serve.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from core.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ENTITIES, SEED = 300, 21
UNTIL = date(2025, 12, 31)
AS_OF = (date(2025, 11, 1), date(2025, 12, 1))
SCRIPT_NAME = "<script>window.__pwned=1</script>测试商贸有限公司"
ROLES = ("planner", "repair_officer", "model_operator", "admin")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--lang=zh-CN"]


def password(role: str) -> str:
    return f"pw-{role}-0123456789"


@dataclass
class Console:
    """The running service with its console, and what the tests need to know about its home."""

    url: str
    settings: Settings
    script_uscc: str  # the entity whose name carries a <script> tag
    repairable: tuple[str, str] | None  # (uscc, record_id) of a record eligible for repair today
    listing: tuple | None  # (uscc, listing_id, listed_date) of a current abnormal listing

    @property
    def console(self) -> str:
        return f"{self.url}/console"


def _build_home(home: Path) -> tuple[Settings, str, tuple[str, str] | None, tuple | None]:
    import synth
    from console.accounts import create_user
    from features.ingest import ingest
    from features.warehouse import connect
    from repair.eligibility import evaluate
    from serving.publish import publish
    from training.dataset import from_warehouse
    from training.run import run

    settings = Settings.from_env(home)
    synth.generate(home.parent / "district", entities=ENTITIES, seed=SEED, until=UNTIL)
    ingest(settings, home.parent / "district", actor="test")
    con = connect(settings)
    try:
        ds = from_warehouse(con, start=date(2022, 1, 1), end=date(2024, 10, 1), freq="quarterly", data_end=UNTIL)
    finally:
        con.close()
    trained = run(settings, ds, actor="test", seed=SEED, num_boost_round=30, params={"min_data_in_leaf": 10})
    assert trained["promoted"], trained.get("promotion_reasons")
    pubs = [publish(settings, as_of=d, actor="test") for d in AS_OF]  # the registered champion
    import sqlalchemy as sa

    from core.opdb import engine
    from serving.publish import PUBLISHED_SCORES

    with engine(settings).connect() as conn:
        codes = [u for (u,) in conn.execute(sa.select(PUBLISHED_SCORES.c.uscc).where(
            PUBLISHED_SCORES.c.publication_id == pubs[-1]["publication_id"]).order_by(PUBLISHED_SCORES.c.uscc))]
    con = connect(settings)
    try:
        con.execute("UPDATE entities SET name = ? WHERE uscc = ?", [SCRIPT_NAME, codes[0]])
        repairable = None
        candidates = [r[0] for r in con.execute(
            "SELECT DISTINCT uscc FROM penalties WHERE fine_paid_date IS NOT NULL ORDER BY 1").fetchall()]
        for code in candidates:
            hit = next((c for c in evaluate(con, code, as_of=date.today()) if c.eligible_now), None)
            if hit is not None and code in codes:
                repairable = (code, hit.record_id)
                break
        listing = con.execute("SELECT uscc, listing_id, listed_date FROM abnormal_list WHERE removed_date IS NULL "
                              "ORDER BY listed_date DESC, listing_id LIMIT 1").fetchone()
    finally:
        con.close()
    for role in ROLES:
        create_user(settings, name=role, role=role, password=password(role), actor="test")
    return settings, codes[0], repairable, listing


@pytest.fixture(scope="session")
def console(tmp_path_factory, serving) -> Console:
    """The real service (`credit-risk serve`) on a free loopback port over a small published district."""
    mp = pytest.MonkeyPatch()
    mp.delenv("CREDIT_RISK_DB_URL", raising=False)
    home = tmp_path_factory.mktemp("console") / "home"
    settings, script_uscc, repairable, listing = _build_home(home)
    env = {**os.environ, "CREDIT_RISK_HOME": str(home), "BENTOML_HOME": str(home / "bentoml")}
    env.pop("CREDIT_RISK_DB_URL", None)
    try:
        with serving(home, env) as base:
            yield Console(base, settings, script_uscc, repairable, listing)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (skipped only when /usr/bin/chromium is missing).

    Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open, and a
    later test module calling ``asyncio.run`` (BentoML's async client) must not find it still running.
    """
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where page screenshots go: $CREDIT_RISK_CONSOLE_SCREENSHOTS (e.g. docs/console), else a temp folder."""
    target = os.environ.get("CREDIT_RISK_CONSOLE_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("shots")
    path.mkdir(parents=True, exist_ok=True)
    return path
