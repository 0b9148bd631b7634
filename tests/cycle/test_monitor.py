"""Monitoring pieces on hand-made data: PSI, jumpers, data-quality counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cycle.monitor import data_quality, jumpers, psi, psi_categorical


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, 5000)
    assert psi(a, a) == pytest.approx(0.0, abs=1e-9)
    assert psi(a, rng.normal(0, 1, 5000)) < 0.02
    assert psi(a, rng.normal(1.0, 1, 5000)) > 0.25


def test_psi_counts_missing_values_as_their_own_bin():
    base = np.r_[np.arange(100.0), [np.nan] * 10]
    more_missing = np.r_[np.arange(100.0), [np.nan] * 60]
    assert psi(base, base) == pytest.approx(0.0, abs=1e-9)
    assert psi(base, more_missing) > 0.1


def test_psi_handles_constant_features_and_empty_sides():
    zeros = np.zeros(500)
    assert psi(zeros, zeros) == pytest.approx(0.0, abs=1e-9)
    assert psi(zeros, np.r_[np.zeros(250), np.ones(250)]) > 0.25
    assert psi([], [1.0, 2.0]) == 0.0


def test_categorical_psi_sees_a_new_category():
    before = ["a"] * 50 + ["b"] * 50
    assert psi_categorical(before, before) == pytest.approx(0.0, abs=1e-9)
    assert psi_categorical(before, ["a"] * 50 + ["c"] * 50) > 1.0


def _scores(rows):
    return pd.DataFrame(rows, columns=["uscc", "probability", "tier", "reasons"])


def test_jumpers_lists_two_tier_moves_and_entries_into_d_with_reasons():
    reason = json.dumps([{"dimension": "compliance", "zh": "合规信息", "en": "compliance", "contribution": 1.2}])
    before = _scores([("u1", 0.01, "A", "[]"), ("u2", 0.05, "B", "[]"), ("u3", 0.10, "C", "[]"),
                      ("u4", 0.01, "A", "[]")])
    after = _scores([("u1", 0.12, "C", reason), ("u2", 0.06, "B", "[]"), ("u3", 0.30, "D", reason),
                     ("u4", 0.02, "B", "[]"), ("u5", 0.40, "D", reason)])
    out = jumpers(before, after, jump=2, limit=10)
    got = {j["uscc"]: j for j in out["listed"]}
    assert set(got) == {"u1", "u3", "u5"}  # A→C (two tiers), C→D (entered D), new in D
    assert got["u1"]["jump"] == 2 and got["u1"]["reasons"][0]["zh"] == "合规信息"
    assert got["u5"]["from"] is None and out["entered_top_new"] == 1
    assert out["count"] == 3 and out["jumped"] == 1 and out["entered_top"] == 2


def test_no_jumpers_on_the_first_publication():
    after = _scores([("u1", 0.40, "D", "[]")])
    assert jumpers(after.iloc[0:0], after, jump=2, limit=10)["count"] == 0


def test_data_quality_sums_the_ingest_summary_by_rule():
    summary = {"ingest_id": "ing-1", "loaded": {"penalties": 90, "entities": 10},
               "quarantined": {"penalties": {"bad_check_character": 3, "impossible_date": 2},
                               "entities": {"bad_check_character": 1}},
               "deduplicated": {"penalties": 4}, "changes": {"penalties": {"new": 80, "revised": 10, "unchanged": 0}},
               "repaired": {"penalties": {"amount_in_wan": 5}}, "corrupt": []}
    dq = data_quality(summary, max_share=0.05)
    assert dq["loaded"] == 100 and dq["quarantined"] == 6 and dq["deduplicated"] == 4
    assert dq["quarantined_by_rule"] == {"bad_check_character": 4, "impossible_date": 2}
    assert dq["quarantine_share"] == pytest.approx(6 / 106, abs=1e-4)
    assert dq["new"] == 80 and dq["revised"] == 10
    assert data_quality(None, max_share=0.05) == {"ingested": False}
