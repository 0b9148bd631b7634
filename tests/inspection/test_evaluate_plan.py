"""evaluate-plan: the tiered plan against a uniform draw of equal size, on a stand-in ground truth."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from inspection.evaluate_plan import evaluate_plan, read_truth

RATE = {"A": 0.01, "B": 0.04, "C": 0.12, "D": 0.30}  # stand-in: tiers that track the hidden propensity


def _truth(targets: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = targets["tier"].map(RATE).to_numpy()
    return pd.DataFrame({"uscc": targets["uscc"], "propensity": p, "violating": rng.random(len(p)) < p})


def test_tiered_plan_finds_at_least_twice_the_uniform_draw(make_targets, policy):
    targets = make_targets(3000, seed=2)
    out = evaluate_plan(targets, _truth(targets), policy=policy, capacity=200, seed=5, repeats=5)
    assert out["inspections"] <= 200
    assert out["findings_per_100_tiered"] >= 2 * out["findings_per_100_uniform"] > 0
    assert out["expected_per_100_tiered"] > 2 * out["expected_per_100_uniform"]
    a_share = (targets["tier"] == "A").mean()  # A only through the floor and the law: far below its share
    assert 0 < out["tiered_mix"].get("A", 0) < 0.6 * a_share * out["inspections"]


def test_uninformative_tiers_give_no_gain(make_targets, policy):
    targets = make_targets(3000, seed=2)
    truth = _truth(targets).assign(propensity=0.05)
    truth["violating"] = np.random.default_rng(3).random(len(truth)) < 0.05
    out = evaluate_plan(targets, truth, policy=policy, capacity=200, seed=5, repeats=5)
    assert out["expected_ratio"] == pytest.approx(1.0)
    assert out["ratio"] < 2


def test_cli_with_stand_in_scores_and_monthly_truth(tmp_path, make_targets, capsys):
    targets = make_targets(1500, seed=4)
    truth = _truth(targets)
    monthly = pd.concat([truth.assign(month=date(2025, 12, 1), violating=False),
                         truth.assign(month=date(2026, 1, 1))], ignore_index=True)
    gt = tmp_path / "ground_truth"
    gt.mkdir()
    monthly.to_parquet(gt / "latent_monthly.parquet")
    assert read_truth(gt, month=date(2025, 12, 15)).attrs["month"] == date(2026, 1, 1)
    scores = tmp_path / "scores.parquet"
    targets.assign(as_of=date(2026, 1, 1)).to_parquet(scores)
    code = main(["evaluate-plan", "--home", str(tmp_path / "h"), "--ground-truth", str(gt), "--scores",
                 str(scores), "--capacity", "120", "--repeats", "3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["month"] == "2026-01-01"
    assert out["findings_per_100_tiered"] >= 2 * out["findings_per_100_uniform"]
