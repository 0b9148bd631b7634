"""evaluate-schedule on a small hand-computed history."""

import pandas as pd
import pytest

from core.cli import main
from core.errors import UserError
from inspection.evaluate_schedule import evaluate_schedule

# date, score, label. Calendar slots: 01-01, 01-01, 01-05, 01-11, 01-21, 01-31.
# By score: r1 .9 -> 01-01, r3 .8 -> 01-01, r5 .7 -> 01-05, r4 -> 01-11, r2 -> 01-21, r0 -> 01-31.
# Positives r1, r3, r5 move 0, 10 and 26 days earlier: mean 12. Midpoint = day 15 (01-16):
# actual first half r1, r3 (2 of 3); re-ordered r1, r3, r5 (3 of 3).
HISTORY = pd.DataFrame({
    "checked": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-05", "2026-01-11", "2026-01-21", "2026-01-31"]),
    "score": [0.1, 0.9, 0.2, 0.8, 0.3, 0.7],
    "found": [0, 1, 0, 1, 0, 1],
})


def test_hand_computed_history():
    out = evaluate_schedule(HISTORY, date_col="checked", score_col="score", label_col="found")
    assert out.positives == 3 and out.inspections == 6
    assert out.days_earlier_mean == pytest.approx(12.0)
    q = out.days_earlier_quantiles
    assert (q["p0"], q["p50"], q["p100"]) == (0.0, 10.0, 26.0)
    assert out.days_earlier_median == 10.0
    assert out.first_half_share_actual == pytest.approx(2 / 3, abs=1e-4)
    assert out.first_half_share_model == pytest.approx(1.0)
    assert out.share_found_earlier == pytest.approx(2 / 3, abs=1e-4)
    assert out.share_found_later == 0.0


def test_bootstrap_interval_and_paired_t_match_their_definitions():
    out = evaluate_schedule(HISTORY, date_col="checked", score_col="score", label_col="found")
    # differences 0, 10, 26: mean 12, sd 13.11, t = 12 / (13.11 / sqrt 3) = 1.585, two-sided p (2 df) = 0.254
    assert out.paired_t == pytest.approx(1.585, abs=1e-3)
    assert out.paired_p == pytest.approx(0.2538, abs=1e-3)
    lo, hi = out.days_earlier_ci
    # resampled means of {0, 10, 26} lie in [0, 26]; the interval holds the mean and is not degenerate
    assert 0.0 <= lo < 12.0 < hi <= 26.0
    again = evaluate_schedule(HISTORY, date_col="checked", score_col="score", label_col="found")
    assert again.days_earlier_ci == out.days_earlier_ci  # seeded


def test_a_better_order_has_an_interval_above_zero_on_a_larger_history():
    import numpy as np

    rng = np.random.default_rng(7)
    n = 400
    risk = rng.random(n)
    days = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    found = (rng.random(n) < risk * 0.5).astype(int)
    out = evaluate_schedule(pd.DataFrame({"d": days, "s": risk, "y": found}), date_col="d", score_col="s",
                            label_col="y")
    assert out.days_earlier_ci[0] > 0 and out.paired_p < 0.01
    assert out.first_half_share_model > out.first_half_share_actual
    shuffled = evaluate_schedule(pd.DataFrame({"d": days, "s": rng.random(n), "y": found}), date_col="d",
                                 score_col="s", label_col="y")
    assert shuffled.days_earlier_ci[0] < 0 < shuffled.days_earlier_ci[1]  # a random score earns nothing


def test_equal_scores_keep_the_historical_order():
    flat = HISTORY.assign(score=0.5)
    out = evaluate_schedule(flat, date_col="checked", score_col="score", label_col="found")
    assert out.days_earlier_mean == 0.0
    assert out.paired_t is None and out.paired_p is None
    assert out.first_half_share_model == out.first_half_share_actual


def test_bad_labels_and_missing_columns_say_what_arrived():
    with pytest.raises(UserError, match="expected 0/1"):
        evaluate_schedule(HISTORY.assign(found=["yes"] * 6), date_col="checked", score_col="score", label_col="found")
    with pytest.raises(UserError, match="lacks columns"):
        evaluate_schedule(HISTORY, date_col="day", score_col="score", label_col="found")


def test_cli_json(tmp_path, capsys):
    path = tmp_path / "history.parquet"
    HISTORY.to_parquet(path)
    code = main(["evaluate-schedule", "--home", str(tmp_path / "h"), "--table", str(path), "--date-col", "checked",
                 "--score-col", "score", "--label-col", "found", "--json"])
    import json

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"days_earlier_mean", "days_earlier_ci", "paired_t", "paired_p", "days_earlier_median",
            "first_half_share_actual", "first_half_share_model", "positives", "table"} <= out.keys()
    assert out["days_earlier_mean"] == pytest.approx(12.0)
