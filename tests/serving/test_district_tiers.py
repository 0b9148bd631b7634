"""On a default-shaped simulated district: serious-list entities are D with the trigger first, every published
reason names at least one record, tier rates per population are reported, and missing data alone does not
push an individual business above B."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core.opdb import engine
from core.settings import Settings

ENTITIES, SEED = 1000, 12  # about 1,000 active entities with a few serious-list entries in effect at AS_OF
UNTIL, AS_OF = date(2022, 6, 30), date(2022, 1, 1)


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    import synth
    from features.ingest import ingest
    from features.snapshot import build_snapshot
    from features.warehouse import connect
    from serving.publish import publish
    from training.dataset import from_warehouse
    from training.train import train

    mp = pytest.MonkeyPatch()
    mp.delenv("CREDIT_RISK_DB_URL", raising=False)
    root = tmp_path_factory.mktemp("district")
    synth.generate(root / "extracts", entities=ENTITIES, seed=SEED, until=UNTIL)
    settings = Settings.from_env(root / "home")
    ingest(settings, root / "extracts", actor="test")
    con = connect(settings)
    try:
        ds = from_warehouse(con, start=date(2018, 4, 1), end=date(2020, 10, 1), freq="quarterly", data_end=UNTIL)
        model = train(ds, num_boost_round=40, seed=SEED, params={"min_data_in_leaf": 20})
        model.meta["version"] = "1"
        snap = build_snapshot(con, as_of=AS_OF)
        serious = {u for (u,) in con.execute(
            "SELECT DISTINCT s.uscc FROM serious_list s WHERE s.listed_date < ? AND s.known_date < ? "
            "AND (s.removed_date IS NULL OR s.removed_date >= ?) AND NOT EXISTS (SELECT 1 FROM repairs r "
            "WHERE r.record_kind = 'serious_list' AND r.record_id = s.listing_id AND r.repaired_date <= ?)",
            [AS_OF] * 4).fetchall()}
    finally:
        con.close()
    pub = publish(settings, as_of=AS_OF, actor="test", model=model, snapshot=snap)
    with engine(settings).connect() as conn:
        rows = conn.execute(sa.text("SELECT uscc, tier, reasons, entity_type FROM published_scores "
                                    "WHERE publication_id = :p"), {"p": pub["publication_id"]}).all()
    published = {u: {"tier": t, "reasons": json.loads(r), "entity_type": e} for u, t, r, e in rows}
    yield {"settings": settings, "model": model, "dataset": ds, "snapshot": snap, "publication": pub,
           "published": published, "serious": serious}
    mp.undo()


def test_every_entity_with_a_serious_list_entry_in_effect_is_d_with_the_trigger_first(district):
    listed = district["serious"] & set(district["published"])
    assert listed, "the district should have serious-list entries in effect at as_of"
    for u in listed:
        row = district["published"][u]
        assert row["tier"] == "D", u
        assert row["reasons"][0]["code"] == "trigger.serious_list_current", u
        assert row["reasons"][0]["records"][0]["kind"] == "serious_list"
    assert district["publication"]["trigger_counts"]["serious_list_current"] == len(listed)


def test_every_reason_in_the_publication_names_at_least_one_record(district):
    reasons = [r for row in district["published"].values() for r in row["reasons"]]
    assert len(reasons) > len(district["published"])  # most entities have several reasons
    bare = [r for r in reasons if not r.get("records")]
    assert not bare, bare[:3]
    for r in reasons:
        assert r["code"] and r["kind"] in ("trigger", "model") and r["zh"] and r["en"]
        assert all(rec["zh"] and rec["en"] and rec["kind"] for rec in r["records"])
    kinds = {rec["kind"] for r in reasons for rec in r["records"]}
    assert {"penalty", "annual_report", "entity"} <= kinds  # records, not only feature values
    assert sum(rec["kind"] == "feature" for r in reasons for rec in r["records"]) < 0.2 * len(reasons)


def test_the_affiliate_records_carry_the_affiliates_tier(district):
    refs = [rec for row in district["published"].values() for r in row["reasons"] if r["dimension"] == "affiliates"
            for rec in r["records"] if rec["kind"] == "affiliate"]
    published = district["published"]
    with_tier = [rec for rec in refs if rec["ref"] in published]
    assert with_tier, "expected affiliate reasons on the district"
    for rec in with_tier:
        assert f"class {published[rec['ref']]['tier']}" in rec["en"]


def test_training_report_shows_tier_share_and_event_rate_by_population_entity_type_and_size_band(district):
    from training.evaluate import evaluate
    from training.report import render

    ev = evaluate(district["model"], district["dataset"], seed=SEED)
    pops = ev["population_tiers"]
    assert set(pops) == {"population", "entity_type", "size_band"}
    groups = {r["group"] for r in pops["entity_type"]}
    assert {"individual", "limited_company"} <= groups
    for rows in pops.values():
        for r in rows:
            assert abs(sum(r[f"share_{c}"] for c in "ABCD") - 1) < 1e-9
    html = render(ev, title="t", meta={})
    assert "Tier rates by entity_type" in html and "Tier rates by size_band" in html and "event_rate_D" in html


# What an entity that discloses nothing lacks: capital, annual-report figures and filing record.
MISSINGNESS = ("registered_capital_yuan", "registered_capital_missing_flag", "financials_no_report_flag",
               "employees_last", "revenue_yuan_last", "tax_yuan_last", "liabilities_to_assets_ratio_last",
               "social_insurance_coverage_ratio_last", "profit_negative_flag_last", "revenue_change_ratio_last",
               "employees_change_ratio_last", "annual_report_undisclosed_share_last", "annual_report_on_time_share_3y",
               "annual_report_late_days_last", "annual_report_zero_filled_flag_last")


def test_an_individual_business_with_no_data_is_not_above_b_by_missingness_alone(district):
    from serving.reasons import finalise

    model, frame = district["model"], district["snapshot"].frame
    blank = {n: None for n in model.feature_names}  # nothing known: no capital, no report due or filed, no record
    blank.update(entity_type_cat="individual", registered_capital_missing_flag=1, financials_no_report_flag=1,
                 annual_report_not_yet_due_flag=1, annual_report_missing_count_3y=0)
    rows = pd.DataFrame([{"uscc": None, "entity_type": "individual", **blank}])
    assert finalise(model.score(rows), rows).tiers[0] in ("A", "B")
    # The district's individual businesses that disclose nothing (no capital, no report known), and the same
    # rows with what a typical reporting individual business discloses: the missing data must not be what
    # lifts any of them above B.
    ind = frame[frame["entity_type"] == "individual"]
    silent = ind[(ind["financials_no_report_flag"] == 1) & (ind["registered_capital_missing_flag"] == 1)
                 & (ind["annual_report_missing_count_3y"] == 0)]  # an overdue report is a violation, not missing data
    reporting = ind[ind["financials_no_report_flag"] == 0]
    assert len(silent) >= 20 and len(reporting) >= 20
    typical = {c: reporting[c].median() for c in MISSINGNESS if c in frame.columns}
    filled = silent.assign(**typical)
    as_is = np.array([district["published"][u]["tier"] for u in silent["uscc"]])
    disclosed = finalise(model.score(filled), filled).tiers
    pushed = [(u, a, b) for u, a, b in zip(silent["uscc"], as_is, disclosed, strict=True)
              if a in ("C", "D") and b in ("A", "B")]
    assert not pushed, pushed[:5]


def test_credit_risk_entity_shows_a_leniency_decision_that_is_never_a_penalty(district, capsys):
    from core.cli import main
    from features.warehouse import connect

    con = connect(district["settings"])
    try:
        rows = con.execute("SELECT uscc, penalty_id FROM penalties WHERE leniency ORDER BY penalty_id").fetchall()
    finally:
        con.close()
    published = [(u, pid) for u, pid in rows if u in district["published"]]
    assert published, "the simulated district has first-violation leniency decisions"
    uscc, pid = published[0]
    assert main(["entity", uscc, "--home", str(district["settings"].home), "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    shown = [r for r in view["credit_records"] if r["kind"] == "leniency"]
    assert pid in [r["ref"] for r in shown] and all("不计入行政处罚" in r["zh"] for r in shown)
    penalty_refs = {rec["ref"] for reason in view["current"]["reasons"] for rec in reason["records"]
                    if rec["kind"] == "penalty"}
    assert pid not in penalty_refs
