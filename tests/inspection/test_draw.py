"""The target draw: reproducible, within capacity, floor held, A never drawn proactively, items applicable."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.errors import UserError
from inspection.draw import draw
from inspection.policy import applicability


def test_same_inputs_give_the_identical_plan_and_another_seed_another(targets, policy):
    a = draw(targets, policy=policy, capacity=150, seed=11)
    b = draw(targets, policy=policy, capacity=150, seed=11)
    c = draw(targets, policy=policy, capacity=150, seed=12)
    pd.testing.assert_frame_equal(a.inspections, b.inspections)
    assert set(a.inspections["uscc"]) != set(c.inspections["uscc"])


def _mandatory(targets, policy) -> int:
    """Entities the floor and the checks required by law still need (a plan's smallest capacity)."""
    app = applicability(targets, policy)
    return int(sum(np.ceil(r.share_per_year * app[r.item].sum()) for r in policy.mandatory))


def test_a_is_drawn_only_through_the_floor_the_law_and_triggers(targets, policy):
    a_uscc = targets.loc[targets["tier"] == "A", "uscc"].iloc[0]
    triggers = pd.DataFrame({"uscc": [a_uscc], "kind": ["complaint"], "refs": ["C00001"]})
    d = draw(targets, policy=policy, capacity=10_000, seed=3, triggers=triggers)
    random = d.inspections[d.inspections["kind"] == "random"]
    a_random = random[random["tier"] == "A"]
    assert len(a_random) > 0  # A is exempt from tier-driven checks, not from the floor or the law
    strata = a_random["drawn_by"].str.split(";").explode()
    assert set(strata) <= {r.code for r in policy.mandatory} and "floor" in set(strata)
    assert not random["drawn_by"].str.contains("tier:A").any()
    trig = d.inspections[d.inspections["kind"] != "random"]
    assert list(trig["uscc"]) == [a_uscc] and trig["kind"].iloc[0] == "complaint"
    assert trig["inclusion_probability"].isna().all() and (random["inclusion_probability"] > 0).all()


def test_capacity_the_three_percent_floor_and_the_checks_required_by_law_hold(targets, policy):
    enterprises = int((targets["entity_type"] != "individual").sum())
    need = int(np.ceil(0.03 * enterprises))
    base = _mandatory(targets, policy)
    app = applicability(targets, policy).set_index(targets["uscc"])
    for capacity in (base, base + 30, 200, 10_000):
        d = draw(targets, policy=policy, capacity=capacity, seed=5)
        random = d.inspections[d.inspections["kind"] == "random"]
        assert len(random) <= capacity
        checked = random["items"].str.split(";").apply(lambda s: policy.floor_item in s)
        assert checked.sum() >= need and d.floor["met"] and d.floor["required_this_year"] == need
        assert d.required and all(r["met"] for r in d.required)
        for r in d.required:
            got = random["items"].str.split(";").apply(lambda s, item=r["item"]: item in s)
            assert got.sum() >= np.ceil(r["share"] * app[r["item"]].sum())
    with pytest.raises(UserError, match="floor and the checks required by law"):
        draw(targets, policy=policy, capacity=base - 1, seed=5)


def test_floor_draws_are_uniform_over_all_enterprises_whatever_their_tier(make_targets, policy):
    targets = make_targets(3000, seed=2)
    ent = targets[targets["entity_type"] != "individual"]
    counts = pd.Series(0, index=sorted(policy.tiers))
    for seed in range(40):
        d = draw(targets, policy=policy, capacity=10_000, seed=seed)
        floor = d.inspections[d.inspections["drawn_by"].str.split(";").apply(lambda s: "floor" in s)]
        counts = counts.add(floor["tier"].value_counts(), fill_value=0)
    expected = ent["tier"].value_counts().reindex(counts.index) / len(ent) * counts.sum()
    assert stats.chisquare(counts.to_numpy(), expected.to_numpy()).pvalue > 0.01
    assert counts["A"] > counts["B"]  # A is most enterprises, so most floor checks


def test_recorded_inclusion_probability_matches_the_drawing_frequency(make_targets, policy):
    targets = make_targets(400, seed=4)
    base = _mandatory(targets, policy)
    hits = pd.Series(0.0, index=targets["uscc"])
    recorded = {}
    runs = 200
    for seed in range(runs):
        d = draw(targets, policy=policy, capacity=base + 25, seed=seed)  # capacity binds: tiers are cut
        r = d.inspections[d.inspections["kind"] == "random"]
        hits[r["uscc"]] += 1
        recorded.update(zip(r["uscc"], r["inclusion_probability"], strict=True))
    pi = pd.Series(recorded).reindex(hits.index)
    seen = pi.notna()
    freq = hits[seen] / runs
    # per tier, the mean recorded probability and the drawing frequency agree within sampling error
    tier = targets.set_index("uscc")["tier"][seen]
    for code, f in freq.groupby(tier):
        p = pi[seen][f.index]
        se = np.sqrt((p * (1 - p)).sum() / runs) / len(f)
        assert abs(f.mean() - p.mean()) <= 4 * se + 0.01, code
    assert hits[~seen].sum() == 0


def test_uncapped_draw_follows_the_tier_ratios(targets, policy):
    d = draw(targets, policy=policy, capacity=10_000, seed=5)
    random = d.inspections[d.inspections["kind"] == "random"]
    share = random["tier"].value_counts() / targets["tier"].value_counts()
    assert share.get("D") == pytest.approx(1.0)
    assert share.get("D") > share.get("C") > share.get("B") > 0


def test_every_drawn_item_applies_to_its_entity(targets, policy):
    d = draw(targets, policy=policy, capacity=200, seed=9)
    app = applicability(targets, policy).set_index(targets["uscc"])
    pairs = d.inspections.assign(item=d.inspections["items"].str.split(";")).explode("item")
    assert len(pairs) > len(d.inspections)  # some inspections cover several items
    assert all(app.at[u, it] for u, it in zip(pairs["uscc"], pairs["item"], strict=True))
    food = pairs[pairs["item"] == "food_business_safety"]
    held = targets.set_index("uscc").loc[food["uscc"], "licence_types"]
    assert len(food) and held.str.contains("food_business").all()


def test_yearly_cap_excludes_entities_already_checked_enough(targets, policy):
    b = targets.loc[targets["tier"].isin(["B", "C"]), "uscc"]  # B: 1 a year; C: fewer than 2 a year
    prior = pd.DataFrame({"uscc": b, "checks": 1, "items": "annual_report_public_info"})
    d = draw(targets, policy=policy, capacity=10_000, seed=5, prior=prior)
    again = d.inspections[d.inspections["uscc"].isin(set(b))]
    assert len(again) and not again["drawn_by"].str.contains("tier:").any()  # only the law reaches them
    assert not again["items"].str.contains("annual_report_public_info").any()  # already checked this year


def test_tight_capacity_keeps_the_d_tier_whole_and_cuts_lower_tiers_first(targets, policy):
    d_tier = set(targets.loc[targets["tier"] == "D", "uscc"])
    capacity = _mandatory(targets, policy) + len(d_tier) + 15
    out = draw(targets, policy=policy, capacity=capacity, seed=8)
    random = out.inspections[out.inspections["kind"] == "random"]
    assert len(random) <= capacity
    assert d_tier <= set(random["uscc"]) and out.ratio_kept["D"] == 1.0
    assert out.ratio_kept["B"] < 1.0
