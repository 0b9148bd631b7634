"""The retraining cadence: drift, champion age, the minimum interval, and the manual modes."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import UserError
from cycle.cadence import champion_data_end, decide, months_between

CHAMPION = {"version": "3", "data_end": "2025-01-31"}
CALM = {"psi_score": 0.02, "features_drifting": []}


def test_months_between_counts_whole_calendar_months():
    assert months_between(date(2025, 1, 31), date(2025, 3, 1)) == 1
    assert months_between(date(2025, 1, 1), date(2026, 1, 1)) == 12
    assert months_between(date(2025, 3, 1), date(2025, 1, 1)) == -2


def test_a_young_champion_without_drift_is_kept():
    d = decide(as_of=date(2025, 6, 1), monitoring=CALM, champion=CHAMPION, last_retrain=None)
    assert not d["retrain"] and d["champion_age_months"] == 4 and d["triggers"] == []


def test_score_drift_above_the_threshold_retrains():
    d = decide(as_of=date(2025, 6, 1), monitoring={"psi_score": 0.31, "features_drifting": []},
               champion=CHAMPION, last_retrain=None)
    assert d["retrain"] and "score PSI 0.310" in d["reasons"][0]


def test_many_drifting_features_retrain_but_a_few_do_not():
    few = {"psi_score": 0.01, "features_drifting": ["a", "b"]}
    many = {"psi_score": 0.01, "features_drifting": ["a", "b", "c", "d", "e"]}
    assert not decide(as_of=date(2025, 6, 1), monitoring=few, champion=CHAMPION, last_retrain=None)["retrain"]
    assert decide(as_of=date(2025, 6, 1), monitoring=many, champion=CHAMPION, last_retrain=None)["retrain"]


def test_an_old_champion_retrains():
    d = decide(as_of=date(2026, 3, 1), monitoring=CALM, champion=CHAMPION, last_retrain=None)
    assert d["retrain"] and d["champion_age_months"] == 13 and "13 months old" in d["reasons"][0]


def test_a_recent_retraining_holds_back_the_next_one():
    d = decide(as_of=date(2026, 3, 1), monitoring=CALM, champion=CHAMPION, last_retrain=date(2026, 1, 1))
    assert not d["retrain"] and "2 month(s) ago" in d["reasons"][0] and d["triggers"]


def test_manual_modes_override_the_rules_and_bad_modes_are_refused():
    assert decide(as_of=date(2025, 6, 1), monitoring=CALM, champion=CHAMPION, last_retrain=None,
                  mode="always")["retrain"]
    old = decide(as_of=date(2027, 1, 1), monitoring=CALM, champion=CHAMPION, last_retrain=None, mode="never")
    assert not old["retrain"] and old["triggers"]
    with pytest.raises(UserError, match="retrain mode"):
        decide(as_of=date(2025, 6, 1), monitoring=CALM, champion=CHAMPION, last_retrain=None, mode="sometimes")


def test_champion_data_end_comes_from_the_dataset_else_the_test_slice_plus_horizon():
    assert champion_data_end({"source": {"data_end": "2024-12-31"}}) == date(2024, 12, 31)
    meta = {"training_window": {"test": {"end": "2023-10-01"}}, "label": {"horizon_months": 12}}
    assert champion_data_end(meta) == date(2024, 10, 1)
    assert champion_data_end({}) is None
