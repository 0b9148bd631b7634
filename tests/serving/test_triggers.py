"""Direct triggers: each configured trigger sets its tier after the model, first among the reasons, naming
its records; records out of effect fire nothing; overrides still take precedence; live scoring applies them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.audit import entries
from core.opdb import engine
from features.snapshot import build_snapshot
from serving.lookup import entity_view
from serving.overrides import set_override
from serving.publish import publish
from serving.triggers import triggers
from tests.repair.conftest import Warehouse
from training.dataset import feature_spec, from_frame
from training.toy import catalog_frame
from training.train import train

AS_OF = date(2024, 7, 1)
SANCTION_TRIGGERS = [(t.code, t.sanction) for t in triggers() if t.sanction]


@pytest.fixture(scope="module")
def model():
    from features.catalog import all_features

    specs = [feature_spec(f) for f in all_features()]
    frame = catalog_frame(specs, entities=500, periods=12, seed=5)
    ds = from_frame(frame, id_col="uscc", time_col="as_of", label_col="label", features=specs, embargo_months=12)
    m = train(ds, num_boost_round=30, seed=5, budget_s=0)
    m.meta["version"] = "3"
    return m


@pytest.fixture
def wh(settings):
    w = Warehouse(settings)
    for n in range(1, 8):
        w.entity(n)
    yield w
    w.con.close()


def _publish(settings, wh, model) -> tuple[dict, dict[str, dict]]:
    import json

    import sqlalchemy as sa

    snap = build_snapshot(wh.con, as_of=AS_OF)
    pub = publish(settings, as_of=AS_OF, actor="test", model=model, snapshot=snap)
    with engine(settings).connect() as conn:
        rows = conn.execute(sa.text("SELECT uscc, tier, reasons FROM published_scores WHERE publication_id = :p"),
                            {"p": pub["publication_id"]}).all()
    return pub, {u: {"tier": t, "reasons": json.loads(r)} for u, t, r in rows}


def test_the_configured_triggers_are_the_ones_the_issue_names():
    assert {t.code for t in triggers()} >= {"serious_list_current", "business_licence_revoked", "licence_revoked",
                                            "ordered_to_stop_business"}
    assert all(t.tier == "D" and t.source and t.zh and t.en for t in triggers())


def test_a_serious_list_entry_in_effect_makes_the_entity_d_with_the_trigger_as_first_reason(settings, wh, model):
    listed = wh.serious(_code(1), listed=date(2024, 1, 10), domain="food")
    wh.serious(_code(2), listed=date(2023, 1, 10), removed=date(2024, 1, 10))  # removed: no longer in effect
    pub, rows = _publish(settings, wh, model)
    first = rows[_code(1)]["reasons"][0]
    assert rows[_code(1)]["tier"] == "D"
    assert first["code"] == "trigger.serious_list_current" and first["kind"] == "trigger"
    assert [r["ref"] for r in first["records"]] == [listed] and first["records"][0]["kind"] == "serious_list"
    assert "严重违法失信名单" in first["zh"] and first["records"][0]["date"] == "2024-01-10"
    assert not any(r["kind"] == "trigger" for r in rows[_code(2)]["reasons"])
    assert pub["trigger_counts"]["serious_list_current"] == 1


@pytest.mark.parametrize(("code", "sanction"), SANCTION_TRIGGERS)
def test_a_penalty_in_effect_with_the_sanction_makes_the_entity_d(settings, wh, model, code, sanction):
    pid = wh.penalty(_code(3), decided=date(2024, 3, 1), sanctions=f"fine;{sanction}", severity="serious",
                     publicity_end=date(2027, 3, 1))
    wh.penalty(_code(4), decided=date(2020, 3, 1), sanctions=f"fine;{sanction}", severity="serious",
               publicity_end=date(2023, 3, 1))  # publicity over: out of effect, fires nothing
    pub, rows = _publish(settings, wh, model)
    first = rows[_code(3)]["reasons"][0]
    assert rows[_code(3)]["tier"] == "D" and first["code"] == f"trigger.{code}"
    assert first["records"][0]["ref"] == pid and first["records"][0]["kind"] == "penalty"
    assert pid in first["records"][0]["zh"] and "2024-03-01" in first["records"][0]["en"]
    assert not any(r["kind"] == "trigger" for r in rows[_code(4)]["reasons"])
    assert pub["trigger_counts"][code] == 1
    assert sum(pub["trigger_counts"].values()) == 1
    with engine(settings).connect() as conn:
        audit = entries(conn, action="publish", subject=pub["publication_id"])[0]
    assert audit["inputs"]["triggers_fired"][code] == 1 and audit["versions"]["rules"]["tiers"]


def test_a_repaired_serious_listing_no_longer_triggers(settings, wh, model):
    lid = wh.serious(_code(5), listed=date(2023, 1, 10))
    wh.con.execute("INSERT INTO repairs (record_kind, record_id, uscc, repaired_date, known_date, case_id) "
                   "VALUES ('serious_list', ?, ?, DATE '2024-02-01', DATE '2024-02-01', 'CASE-T')", [lid, _code(5)])
    _, rows = _publish(settings, wh, model)
    assert not any(r["kind"] == "trigger" for r in rows[_code(5)]["reasons"])


def test_an_override_takes_precedence_over_a_trigger_and_says_so(settings, wh, model):
    wh.serious(_code(1), listed=date(2024, 1, 10))
    _publish(settings, wh, model)
    today = datetime.now(UTC).date()
    set_override(settings, uscc=_code(1), tier="B", reason="经核查名单已移出，人工调整", actor="test",
                 expires_on=today + timedelta(days=30))
    with engine(settings).connect() as conn:
        view = entity_view(conn, _code(1))
    kinds = [r["kind"] for r in view["current"]["reasons"]]
    assert view["current"]["tier"] == "B" and view["published"]["tier"] == "D"
    assert kinds[:2] == ["override", "trigger"] and view["current"]["reasons"][0]["records"][0]["kind"] == "override"


def test_live_scoring_applies_the_feature_triggers(settings, model):
    from serving.models import LoadedModel
    from serving.runtime import Runtime
    from serving.schemas import ScoreItem

    runtime = Runtime(settings, loaded=LoadedModel(model=model, source="given", note=None))
    try:
        clean = {n: None for n in model.feature_names}
        listed = {**clean, "serious_list_current_flag": 1}
        out = runtime.score([ScoreItem(features=clean), ScoreItem(features=listed)])
    finally:
        runtime.close()
    assert out[1]["tier"] == "D" and out[1]["reasons"][0]["code"] == "trigger.serious_list_current"
    assert out[1]["reasons"][0]["records"][0]["ref"] == "serious_list_current_flag"
    assert not any(r["kind"] == "trigger" for r in out[0]["reasons"])


def test_the_repair_whatif_keeps_a_serious_listing_that_is_not_yet_repairable_at_d(settings, wh, model):
    from repair.whatif import whatif

    wh.serious(_code(6), listed=date(2024, 4, 1))  # listed < 1 year: early removal not yet possible
    out = whatif(settings, _code(6), as_of=AS_OF, model=model)
    assert out["current"]["tier"]["code"] == "D" == out["projected"]["tier"]["code"]
    assert out["current"]["reasons"][0]["code"] == "trigger.serious_list_current"


def _code(n: int) -> str:
    from tests.repair.conftest import code

    return code(n)
