"""Twelve consecutive monthly cycles on a small simulated district: continuity, history, repairs, cadence."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.opdb import engine
from cycle.run import run_cycle
from features.warehouse import connect

MONTHS = [date(2025, m, 1) for m in range(1, 13)]  # the first cycle has no drop; later ones ingest the month before
REPAIR_CASE = "case-cycle-test-1"
REPAIRED_ON = date(2025, 3, 20)


def _repair_an_abnormal_listing(settings) -> dict:
    """A completed repair written as repair/ writes it: an entity listed as abnormal at 2025-03-01 is repaired."""
    from repair.store import write_repair

    con = connect(settings)
    try:
        row = con.execute("""
            SELECT a.uscc, a.listing_id FROM abnormal_list a
            WHERE a.listed_date < DATE '2025-03-01' AND a.removed_date IS NULL
              AND a.uscc IN (SELECT uscc FROM abnormal_list WHERE removed_date IS NULL GROUP BY uscc HAVING count(*) = 1)
              AND a.uscc IN (SELECT uscc FROM entities WHERE status = 'active')
            ORDER BY a.uscc LIMIT 1""").fetchall()[0]
    finally:
        con.close()
    write_repair(settings, record_kind="abnormal_list", record_id=row[1], uscc=row[0], case_id=REPAIR_CASE,
                 repaired_date=REPAIRED_ON)
    return {"uscc": row[0], "listing_id": row[1]}


@pytest.fixture(scope="module")
def year(district, tmp_path_factory):
    settings = district.home(tmp_path_factory.mktemp("year"))
    outputs, repaired = {}, None
    for as_of in MONTHS:
        if as_of == date(2025, 4, 1):
            repaired = _repair_an_abnormal_listing(settings)
        drop = district.drop(f"{as_of.year}-{as_of.month - 1:02d}") if as_of.month > 1 else None
        outputs[as_of] = run_cycle(settings, as_of=as_of, drop=drop, actor="test", rules_file=district.rules_file)
    return {"settings": settings, "outputs": outputs, "repaired": repaired}


def _publications(settings) -> list[dict]:
    with engine(settings).connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.publication_id, p.as_of, p.status, p.entity_count, p.model_version, "
            "(SELECT count(*) FROM published_scores s WHERE s.publication_id = p.publication_id) AS scores "
            "FROM publications p ORDER BY p.as_of")).mappings().all()
    return [dict(r) for r in rows]


def test_every_month_is_published_once_with_every_active_entity(year):
    pubs = _publications(year["settings"])
    assert [str(p["as_of"])[:10] for p in pubs] == [m.isoformat() for m in MONTHS]
    for p in pubs:
        assert p["status"] == "published" and p["scores"] == p["entity_count"] > 300
    for as_of, out in year["outputs"].items():
        assert out["continuity"]["active_not_published"] == 0 and out["continuity"]["published_not_active"] == 0
        assert out["published"]["entities"] == out["snapshot"]["entities"] == sum(out["tier_counts"].values())
        assert not [a for a in out["alerts"] if a["code"] == "continuity"], as_of
        assert set(out["trigger_counts"]) >= {"serious_list_current", "ordered_to_stop_business"}, as_of
        assert sum(out["trigger_counts"].values()) <= out["tier_counts"]["D"]  # every triggered entity is D


def test_migration_accounts_for_stayers_newcomers_and_leavers(year):
    outs = list(year["outputs"].values())
    assert outs[0]["migration"] is None and outs[0]["psi_score"] is None
    new = gone = 0
    for prev, out in zip(outs, outs[1:], strict=False):
        mig = out["migration"]
        assert mig["previous_publication_id"] == prev["published"]["publication_id"]
        assert mig["stayed"] + sum(mig["new"].values()) == out["published"]["entities"]
        assert mig["stayed"] + sum(mig["gone"].values()) == prev["published"]["entities"]
        assert out["psi_features"] and out["psi_score"] >= 0
        if out["published"]["model_version"] == prev["published"]["model_version"]:
            assert out["psi_score"] < 1.0  # the same model month to month: scores move little
        if out["psi_score"] >= 0.25:  # e.g. a new champion's first month
            assert "score_drift" in {a["code"] for a in out["alerts"]}
        new, gone = new + sum(mig["new"].values()), gone + sum(mig["gone"].values())
    assert new > 0 and gone > 0  # registrations and exits arrived through the monthly drops


def test_history_is_kept_in_the_warehouse_and_the_operational_db(year):
    settings = year["settings"]
    con = connect(settings)
    try:
        runs = con.execute("SELECT count(*) FROM ingest_runs").fetchall()[0][0]
        revised = sum(con.execute(f'SELECT count(*) FROM "{t}_history"').fetchall()[0][0]
                      for t in ("entities", "licences", "annual_reports", "abnormal_list", "relations"))
        dupes = con.execute("SELECT count(*) FROM (SELECT uscc FROM entities GROUP BY uscc HAVING count(*) > 1)"
                            ).fetchall()[0][0]
    finally:
        con.close()
    assert runs == 1 + 11 and revised > 0 and dupes == 0
    with engine(settings).connect() as conn:
        cycles = conn.execute(sa.text("SELECT status, count(*) FROM cycles GROUP BY status")).all()
        steps = conn.execute(sa.text("SELECT count(*) FROM cycle_steps WHERE status IN ('done', 'skipped')")).scalar()
        audited = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'cycle.run'")).scalar()
    assert dict(cycles) == {"done": 12} and steps == 12 * 7 and audited == 12


def test_a_repair_takes_effect_in_the_next_cycle(year):
    repaired = year["repaired"]
    out = year["outputs"][date(2025, 4, 1)]
    listed = {r["case_id"]: r for r in out["repairs"]["listed"]}
    assert listed[REPAIR_CASE]["uscc"] == repaired["uscc"] and listed[REPAIR_CASE]["effect"] == "repaired"
    assert listed[REPAIR_CASE]["tier_before"] is not None
    assert REPAIR_CASE not in {r["case_id"] for r in year["outputs"][date(2025, 5, 1)]["repairs"]["listed"]}
    from features.snapshot import load_snapshot

    con = connect(year["settings"])
    try:
        before = load_snapshot(con, year["outputs"][date(2025, 3, 1)]["published"]["snapshot_id"]).frame
        after = load_snapshot(con, out["published"]["snapshot_id"]).frame
        removed = con.execute("SELECT removed_date FROM abnormal_list WHERE listing_id = ?",
                              [repaired["listing_id"]]).fetchall()[0][0]
    finally:
        con.close()
    flag = "abnormal_list_current_flag"
    assert removed is None or removed >= date(2025, 4, 1)  # still listed at the source: the repair is what counts
    assert before.set_index("uscc").loc[repaired["uscc"], flag] == 1
    assert after.set_index("uscc").loc[repaired["uscc"], flag] == 0


def test_the_old_champion_is_retrained_once_and_the_challenger_serves_afterwards(year):
    outs = year["outputs"]
    retrained = [d for d, o in outs.items() if o["retrained"]]
    assert retrained == [date(2025, 7, 1)]  # data to 2024-12-31: 6 months old at 2025-07-01 (> 5)
    dec = outs[date(2025, 7, 1)]["retrain"]
    assert "months old" in dec["decision"]["reasons"][0] and dec["decision"]["champion_age_months"] == 6
    assert dec["training"]["model_version"] == "1" and outs[date(2025, 7, 1)]["promoted"]
    assert "2025-06-01" <= dec["training"]["spine"]["data_end"] <= "2025-06-30"  # only what was known by then
    versions = [o["published"]["model_version"] for o in outs.values()]
    assert versions == ["0"] * 7 + ["1"] * 5  # the challenger publishes from the next month on
    held = outs[date(2025, 8, 1)]["retrain"]["decision"]
    assert not held["retrain"] and held["champion_age_months"] == 1


def test_json_output_and_html_report_of_each_month(year):
    for out in year["outputs"].values():
        assert {"as_of", "published", "tier_counts", "migration", "psi_score", "alerts", "retrained",
                "promoted"} <= set(out)
        json.dumps(out, default=str)
        html = Path(out["report"]).read_text(encoding="utf-8")
        assert html.count("data:image/png;base64,") == 4
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # base64 can spell "http" by chance
        assert "<script" not in text and "http" not in text
        assert out["as_of"] in html and "信用风险低" in html
    assert year["outputs"][MONTHS[0]]["tier_validation"] is None  # nothing published before the first month
    december = year["outputs"][date(2025, 12, 1)]
    validation = december["tier_validation"]  # the oldest publication, its window so far (no horizon closed yet)
    assert validation["as_of"] == "2025-01-01" and validation["window_end"] == "2025-12-01"
    assert sum(t["random_inspections"] for t in validation["tiers"]) > 0
    assert validation["pi_sources"]["estimated"] > 0  # the district's own random checks carry no π
    assert "随机抽查验证" in Path(december["report"]).read_text(encoding="utf-8")
    assert set(year["outputs"][date(2025, 12, 1)]["timings"]) == {"ingest", "repairs", "snapshot", "publish",
                                                                 "monitor", "retrain", "report"}
