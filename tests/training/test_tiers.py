"""Tier policy: target shares, PD bands, order of classes and clear errors."""

import numpy as np
import pytest

from training.tiers import TierPolicy


def test_target_shares_give_the_configured_class_shares():
    p = np.random.default_rng(1).beta(1, 30, size=20_000)
    policy = TierPolicy.from_rules(kind="target_shares").fit(p)
    tiers = policy.predict(p)
    shares = {c: float((tiers == c).mean()) for c in "ABCD"}
    assert shares == pytest.approx({"A": 0.65, "B": 0.25, "C": 0.08, "D": 0.02}, abs=0.002)
    assert len(policy.cutoffs_) == 3 and np.all(np.diff(policy.cutoffs_) > 0)


def test_pd_bands_use_fixed_upper_bounds():
    policy = TierPolicy.from_rules(kind="pd_bands").fit(np.array([0.5]))
    assert policy.predict(np.array([0.01, 0.02, 0.05, 0.1, 0.9])).tolist() == ["A", "A", "B", "C", "D"]


def test_higher_probability_never_gets_a_lower_class():
    p = np.sort(np.random.default_rng(2).random(1000))
    order = {"A": 0, "B": 1, "C": 2, "D": 3}
    ranks = [order[t] for t in TierPolicy.from_rules().fit(p).predict(p)]
    assert ranks == sorted(ranks)


def test_round_trip_and_errors_name_what_was_expected():
    policy = TierPolicy.from_rules().fit(np.linspace(0, 1, 101))
    again = TierPolicy.from_dict(policy.to_dict())
    assert again.cutoffs_.tolist() == policy.cutoffs_.tolist()
    bad = {**policy.to_dict(), "cutoffs": [0.1, 0.2]}
    with pytest.raises(ValueError, match="expected 3 tier cut-offs, got 2"):
        TierPolicy.from_dict(bad)
    with pytest.raises(ValueError, match="add up to 1"):
        TierPolicy(kind="target_shares", shares={"A": 0.5, "B": 0.2, "C": 0.1, "D": 0.1},
                   codes=("A", "B", "C", "D")).fit(np.arange(10.0))


def _population_rules() -> dict[str, dict]:
    from core import rules

    return {p["code"]: p for p in rules.load("tiers")["population"]}


def test_each_population_gets_its_own_shares_from_the_rules_table():
    rng = np.random.default_rng(3)
    types = np.array(["individual"] * 12_000 + ["limited_company"] * 6_000 + ["cooperative"] * 2_000, dtype=object)
    # individual businesses score higher on average: one pooled cut-off would crowd them into C and D
    p = np.where(types == "individual", rng.beta(2, 30, types.size), rng.beta(1, 40, types.size))
    policy = TierPolicy.from_rules(kind="target_shares").fit(p, types)
    tiers = policy.predict(p, types)
    want = _population_rules()
    for etype, pop in (("individual", "individual"), ("limited_company", "enterprise"), ("cooperative", "cooperative")):
        m = types == etype
        shares = {c: float((tiers[m] == c).mean()) for c in "ABCD"}
        assert shares == pytest.approx(want[pop]["target_shares"], abs=0.003), etype
    pooled = policy.predict(p)  # without entity types: the overall cut-offs
    assert (pooled[types == "individual"] == "D").mean() > 1.5 * want["individual"]["target_shares"]["D"]
    again = TierPolicy.from_dict(policy.to_dict())
    assert (again.predict(p, types) == tiers).all()


def test_an_unknown_entity_type_belongs_to_the_default_population_and_small_populations_keep_the_overall_cutoffs():
    policy = TierPolicy.from_rules(kind="target_shares")
    assert policy.population_of(["individual", "no_such_type", None]).tolist() == ["individual", "enterprise",
                                                                                    "enterprise"]
    p = np.linspace(0, 1, 1001)
    types = np.array(["limited_company"] * 1000 + ["cooperative"], dtype=object)
    policy.fit(p, types)
    assert "cooperative" not in policy.population_cutoffs_ and "enterprise" in policy.population_cutoffs_
