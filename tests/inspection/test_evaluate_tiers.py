"""Tier validation from random inspections: the Hájek weights undo a biased draw; the command reads π on record."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from features import warehouse
from inspection.evaluate_tiers import evaluate_tiers, hajek, tier_rates
from inspection.plan import fetch_plan, make_plan
from inspection.results import record_results

TRUE = {"A": 0.04, "B": 0.10, "C": 0.25, "D": 0.45}


def _constructed(seed: int):
    """Per tier: enterprises violate three times as often as individual businesses and are drawn six times
    as often at random; targeted inspections go mostly to violators."""
    rng = np.random.default_rng(seed)
    n = 40_000
    tier = rng.choice(list(TRUE), size=n, p=[0.6, 0.25, 0.1, 0.05])
    ent = rng.random(n) < 0.3
    base = np.array([TRUE[t] for t in tier])
    p = np.where(ent, 3 * base / (0.3 * 3 + 0.7), base / (0.3 * 3 + 0.7))  # tier mean stays TRUE[t]
    violating = rng.random(n) < p
    uscc = np.array([f"U{i:06d}" for i in range(n)])
    population = pd.DataFrame({"uscc": uscc, "tier": tier, "probability": base,
                               "entity_type": np.where(ent, "limited_company", "individual")})
    pi = np.where(ent, 0.12, 0.02)
    drawn = rng.random(n) < pi
    random = pd.DataFrame({"uscc": uscc[drawn], "kind": "random", "adverse": violating[drawn],
                           "inclusion_probability": pi[drawn], "pi_source": "recorded"})
    lead = rng.random(n) < np.where(violating, 0.3, 0.01)
    targeted = pd.DataFrame({"uscc": uscc[lead], "kind": "targeted", "adverse": violating[lead] & (rng.random(
        lead.sum()) < 0.8), "inclusion_probability": np.nan, "pi_source": "triggered"})
    truth = pd.Series(violating).groupby(tier).mean().to_dict()
    return population, pd.concat([random, targeted], ignore_index=True), truth


def test_weighted_rate_recovers_the_true_rate_where_the_naive_one_is_biased():
    population, inspections, truth = _constructed(seed=1)
    rates = {t.tier: t for t in tier_rates(inspections, population, truth=truth)}
    for code, t in rates.items():
        assert t.weighted.low <= truth[code] <= t.weighted.high, code
        assert t.naive_rate > t.weighted.high  # leads inflate the naive rate beyond the interval
        random = inspections[(inspections["kind"] == "random")
                             & inspections["uscc"].isin(population.loc[population["tier"] == code, "uscc"])]
        assert random["adverse"].mean() > truth[code]  # an unweighted mean of the random draws is biased too
        assert t.true_in_interval


def test_intervals_cover_the_true_rate_at_about_their_level():
    covered = total = 0
    for seed in range(20):
        population, inspections, truth = _constructed(seed=100 + seed)
        for t in tier_rates(inspections, population, truth=truth):
            covered += t.true_in_interval
            total += 1
    assert covered / total >= 0.85  # 95% intervals over 80 tier-samples


def test_hajek_edge_cases_stay_inside_zero_and_one():
    none = hajek(np.zeros(5), np.full(5, 0.1))
    assert none.rate == 0 and none.low == 0 and 0 < none.high < 0.6
    allof = hajek(np.ones(3), np.array([0.1, 0.2, 0.5]))
    assert allof.rate == 1 and allof.high == 1 and allof.low > 0.2
    with pytest.raises(Exception, match="inclusion probability"):
        hajek(np.ones(2), np.array([0.0, 0.5]))


def test_evaluate_tiers_reads_recorded_and_estimated_probabilities(db_settings, targets, publish, fill_warehouse,
                                                                   capsys):
    t = targets.iloc[:600].reset_index(drop=True)
    publish(db_settings, t, as_of=date(2025, 1, 1))
    fill_warehouse(db_settings, t)
    plan = make_plan(db_settings, period="2025-01", capacity=80, seed=3, actor="planner-1")
    rows = pd.DataFrame(fetch_plan(db_settings, plan["plan_id"])["inspections"])
    rows = rows[rows["kind"] == "random"]
    adverse = set(t.loc[t["tier"].isin(["C", "D"]), "uscc"])
    record_results(db_settings, actor="inspector", today=date(2025, 6, 30), results=[
        {"inspection_id": r.inspection_id, "checked_on": "2025-03-01",
         "result": "case_opened" if r.uscc in adverse else "no_issue"} for r in rows.itertuples()])
    con = warehouse.connect(db_settings)  # a historical random check without π, and one outside the window
    con.execute("INSERT INTO inspections (inspection_id, uscc, inspection_date, kind, result) VALUES "
                "('H1', ?, DATE '2025-02-01', 'random', 'no_issue'), ('H2', ?, DATE '2026-02-01', 'random', "
                "'case_opened')", [t["uscc"].iloc[0], t["uscc"].iloc[1]])
    con.close()
    out = evaluate_tiers(db_settings)
    assert out.pi_sources == {"recorded": len(rows), "estimated": 1}
    by = {x.tier: x for x in out.tiers}
    assert by["D"].weighted.rate == 1.0 and by["B"].weighted.rate == 0.0
    assert sum(x.random_inspections for x in out.tiers) == len(rows) + 1
    assert out.window_start == date(2025, 1, 1) and out.window_end == date(2026, 1, 1)
    code = main(["evaluate-tiers", "--home", str(db_settings.home), "--as-of", "2025-01-01", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["publication_id"] == out.publication_id and data["tiers"][3]["weighted"]["rate"] == 1.0
    assert main(["evaluate-tiers", "--home", str(db_settings.home), "--as-of", "2024-01-01"]) == 2
    assert "no published publication with as_of 2024-01-01" in capsys.readouterr().err
