"""Plans, results and the overdue report in the operational DB (SQLite, and PostgreSQL when a URL is given)."""

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from core import audit, opdb
from core.cli import main
from core.errors import Conflict
from features import warehouse
from inspection.plan import fetch_plan, make_plan
from inspection.results import mark_published, overdue, record_results, sync_warehouse


@pytest.fixture
def district(db_settings, targets, publish, fill_warehouse):
    t = targets.iloc[:500].reset_index(drop=True)
    a_uscc = t.loc[t["tier"] == "A", "uscc"].iloc[0]
    publish(db_settings, t)
    fill_warehouse(db_settings, t, complaints=[(a_uscc, date(2025, 12, 10)), (a_uscc, date(2025, 1, 5))])
    return db_settings, t, a_uscc


def test_plan_is_stored_audited_exported_and_reproducible(district):
    settings, t, a_uscc = district
    s = make_plan(settings, period="2026-Q1", capacity=40, seed=7, actor="planner-1")
    assert s["random"] <= 40 and s["floor"]["met"]
    assert s["by_kind"].get("complaint") == 1  # the recent complaint, not the one outside the window
    got = fetch_plan(settings, s["plan_id"])
    rows = got["inspections"]
    a_random = [r for r in rows if r["tier"] == "A" and r["kind"] == "random"]
    assert len(a_random) == s["by_tier"]["A"]["random"] > 0  # through the floor and the law only
    assert all(set(r["drawn_by"].split(";")) <= {"floor", "required:food_production_safety",
                                                 "required:special_equipment_use"} for r in a_random)
    assert all(0 < r["inclusion_probability"] <= 1 for r in rows if r["kind"] == "random")
    assert all(r["inclusion_probability"] is None for r in rows if r["kind"] != "random")
    assert len(rows) == s["inspections"] and all(len(r["inspectors"].split(";")) >= 2 for r in rows)
    assert [r["uscc"] for r in rows if r["kind"] == "complaint"] == [a_uscc]
    assert got["plan"]["seed"] == 7 and got["plan"]["publication_id"] == "PUB-2026-01"
    assert got["plan"]["target_registry_version"] == s["registries"]["targets"]
    with opdb.engine(settings).connect() as conn:
        entry = audit.entries(conn, action="inspection.plan", subject=s["plan_id"])[0]
    assert entry["inputs"]["seed"] == 7 and entry["versions"]["sampling"] == "sampling-2026.1"
    exported = json.loads(Path(s["files"]["json"]).read_text(encoding="utf-8"))
    assert len(exported["inspections"]) == s["inspections"]
    by = pd.read_csv(s["files"]["summary_csv"], encoding="utf-8-sig", dtype={"key": str})
    assert by.loc[by["by"] == "tier", ["random", "triggered"]].to_numpy().sum() == s["inspections"]
    assert by.loc[by["by"] == "town", ["random", "triggered"]].to_numpy().sum() == s["inspections"]
    # the same inputs give the same plan; other inputs for the same period are refused
    again = make_plan(settings, period="2026-Q1", capacity=40, seed=7, actor="planner-2")
    assert again["plan_id"] == s["plan_id"] and again["existing"]
    with pytest.raises(Conflict, match="already has plan"):
        make_plan(settings, period="2026-Q1", capacity=40, seed=8, actor="planner-1")
    # a second batch of the year recuses each entity's previous inspectors
    s2 = make_plan(settings, period="2026-Q2", capacity=40, seed=7, actor="planner-1")
    first = {r["uscc"]: set(r["inspectors"].split(";")) for r in rows}
    for r in fetch_plan(settings, s2["plan_id"])["inspections"]:
        assert not first.get(r["uscc"], set()) & set(r["inspectors"].split(";"))


def test_results_are_due_in_20_working_days_reported_overdue_and_fed_to_the_warehouse(district):
    settings, t, _ = district
    s = make_plan(settings, period="2026", capacity=60, seed=3, actor="planner-1")
    rows = fetch_plan(settings, s["plan_id"], limit=2)["inspections"]
    out = record_results(settings, actor="inspector-app", today=date(2026, 10, 1), results=[
        {"inspection_id": rows[0]["inspection_id"], "result": "case_opened", "checked_on": "2026-09-30"},
        {"inspection_id": rows[1]["inspection_id"], "result": "no_issue", "checked_on": "2026-09-29"},
    ])
    # 2026-09-30 + 20 working days: Oct 1-7 off, Oct 10 (Sat) is a make-up working day -> Nov 3
    assert out["results"][0]["due"] == date(2026, 11, 3)
    assert out["results"][1]["due"] == date(2026, 11, 2)
    assert sync_warehouse(settings) == {"results": 2, "written": 2}  # the next batch step feeds the warehouse
    assert sync_warehouse(settings) == {"results": 2, "written": 0}  # and only once
    assert overdue(settings, on=date(2026, 11, 3))["overdue"] == 1  # due on the day itself is not late
    late = overdue(settings, on=date(2026, 11, 4))
    assert {r["inspection_id"] for r in late["items"]} == {rows[0]["inspection_id"], rows[1]["inspection_id"]}
    assert overdue(settings, on=date(2026, 10, 20))["overdue"] == 0
    mark_published(settings, inspection_ids=[rows[1]["inspection_id"]], published_on=date(2026, 10, 9),
                   actor="planner-1")
    assert [r["inspection_id"] for r in overdue(settings, on=date(2026, 11, 30))["items"]] == [rows[0]["inspection_id"]]
    with pytest.raises(Conflict, match="already has result"):
        record_results(settings, actor="x", today=date(2026, 10, 1), results=[
            {"inspection_id": rows[0]["inspection_id"], "result": "no_issue", "checked_on": "2026-09-30"}])
    record_results(settings, actor="x", correct=True, today=date(2026, 10, 1), results=[
        {"inspection_id": rows[0]["inspection_id"], "result": "issue_corrected", "checked_on": "2026-09-30"}])
    assert sync_warehouse(settings) == {"results": 2, "written": 1}
    con = warehouse.connect(settings)
    try:
        cur = con.execute("SELECT result, kind, inspection_date FROM inspections WHERE inspection_id = ?",
                          [rows[0]["inspection_id"]]).fetchall()
        hist = con.execute("SELECT result FROM inspections_history WHERE inspection_id = ?",
                           [rows[0]["inspection_id"]]).fetchall()
    finally:
        con.close()
    assert cur == [("issue_corrected", "random", date(2026, 9, 30))]
    assert hist == [("case_opened",)]


def test_plan_cli_json(district, capsys):
    settings, _, _ = district
    code = main(["plan", "--home", str(settings.home), "--period", "2027", "--capacity", "60", "--seed", "5",
                 "--json", "--actor", "planner-9"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"plan_id", "seed", "inspections", "by_tier"} <= out.keys() and out["seed"] == 5
    code = main(["plan", "--home", str(settings.home), "--period", "not-a-period", "--capacity", "60",
                 "--seed", "5"])
    assert code == 2 and "expected a period" in capsys.readouterr().err


def test_results_and_overdue_cli(district, tmp_path, capsys):
    settings, _, _ = district
    s = make_plan(settings, period="2028", capacity=60, seed=1, actor="planner-1")
    first = fetch_plan(settings, s["plan_id"], limit=1)["inspections"][0]["inspection_id"]
    sheet = tmp_path / "results.csv"
    sheet.write_text(f"inspection_id,result,checked_on,published_on\n{first},no_issue,2026-03-02,\n", encoding="utf-8")
    home = ["--home", str(settings.home)]
    assert main(["inspection", "results", *home, "--file", str(sheet), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["due"] == "2026-03-30"
    assert main(["inspection", "overdue", *home, "--on", "2026-04-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overdue"] == 1
    assert main(["inspection", "results", *home, "--inspection-id", first, "--result", "bad",
                 "--checked-on", "2026-03-02"]) == 2
    assert "result must be one of" in capsys.readouterr().err


def test_plans_of_a_year_reach_a_through_the_floor_and_hold_the_checks_required_by_law(district):
    settings, t, _ = district
    plans = [make_plan(settings, period=f"2026-Q{q}", capacity=60, seed=q, actor="planner-1") for q in (1, 2, 3, 4)]
    rows = pd.concat([pd.DataFrame(fetch_plan(settings, p["plan_id"])["inspections"]) for p in plans])
    rows = rows[rows["kind"] == "random"]
    items = rows.assign(item=rows["items"].str.split(";")).explode("item")
    enterprises = t[t["entity_type"] != "individual"]
    public = items.loc[items["item"] == "annual_report_public_info", "uscc"]
    assert public.is_unique  # one public-information check per enterprise and year
    assert len(public) >= 0.03 * len(enterprises)
    assert (t.set_index("uscc").loc[public, "tier"] == "A").any()  # A through the floor
    for code, licence, share in (("food_production_safety", "food_production", 0.5),
                                 ("special_equipment_use", "special_equipment", 0.2)):
        concerned = t["licence_types"].str.contains(licence)
        got = items.loc[items["item"] == code, "uscc"]
        assert got.is_unique and len(got) >= share * concerned.sum() > 0
    assert all(p["floor"]["met"] and all(r["met"] for r in p["required"]) for p in plans)


def test_a_draw_that_selects_no_entity_is_stored_and_exported_as_an_empty_plan(district):
    import dataclasses

    from inspection.policy import load_policy

    settings, _, _ = district
    policy = load_policy()
    quiet = dataclasses.replace(
        policy, floor_share=0.0, required=(), triggers={**policy.triggers, "lookback_days": 0},
        tiers={code: dataclasses.replace(rule, ratio=0.0) for code, rule in policy.tiers.items()})
    s = make_plan(settings, period="2026-Q3", capacity=10, seed=1, actor="planner-1", policy=quiet)
    assert s["inspections"] == 0 and s["random"] == 0 and s["by_item"] and s["workload"]["used"] == 0
    assert json.loads(Path(s["files"]["json"]).read_text(encoding="utf-8"))["inspections"] == []
    assert fetch_plan(settings, s["plan_id"])["inspections"] == []
