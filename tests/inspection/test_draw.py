"""The target draw: reproducible, within capacity, floor held, A never drawn proactively, items applicable."""

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from inspection.draw import draw
from inspection.policy import applicability


def test_same_inputs_give_the_identical_plan_and_another_seed_another(targets, policy):
    a = draw(targets, policy=policy, capacity=150, seed=11)
    b = draw(targets, policy=policy, capacity=150, seed=11)
    c = draw(targets, policy=policy, capacity=150, seed=12)
    pd.testing.assert_frame_equal(a.inspections, b.inspections)
    assert set(a.inspections["uscc"]) != set(c.inspections["uscc"])


def test_a_tier_is_never_drawn_proactively_but_triggers_reach_it(targets, policy):
    a_uscc = targets.loc[targets["tier"] == "A", "uscc"].iloc[0]
    triggers = pd.DataFrame({"uscc": [a_uscc], "kind": ["complaint"], "refs": ["C00001"]})
    d = draw(targets, policy=policy, capacity=10_000, seed=3, triggers=triggers)
    random = d.inspections[d.inspections["kind"] == "random"]
    assert len(random) > 0
    assert not (random["tier"] == "A").any()
    trig = d.inspections[d.inspections["kind"] != "random"]
    assert list(trig["uscc"]) == [a_uscc] and trig["kind"].iloc[0] == "complaint"


def test_capacity_and_the_three_percent_floor_hold(targets, policy):
    enterprises = int((targets["entity_type"] != "individual").sum())
    need = int(np.ceil(0.03 * enterprises))
    for capacity in (need, 40, 120, 10_000):
        d = draw(targets, policy=policy, capacity=capacity, seed=5)
        random = d.inspections[d.inspections["kind"] == "random"]
        assert len(random) <= capacity
        checked = random["items"].str.split(";").apply(lambda s: policy.floor_item in s)
        assert checked.sum() >= need and d.floor["met"]
    with pytest.raises(UserError, match="floor"):
        draw(targets, policy=policy, capacity=need - 1, seed=5)


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
    b = targets.loc[targets["tier"] == "B", "uscc"]
    prior = pd.DataFrame({"uscc": b, "checks": 1, "public_info": True})  # B: at most 1 check a year
    d = draw(targets, policy=policy, capacity=10_000, seed=5, prior=prior)
    assert not d.inspections["uscc"].isin(set(b)).any()


def test_tight_capacity_keeps_the_d_tier_whole_and_cuts_lower_tiers_first(targets, policy):
    d_tier = set(targets.loc[targets["tier"] == "D", "uscc"])
    out = draw(targets, policy=policy, capacity=len(d_tier) + 15, seed=8)
    random = out.inspections[out.inspections["kind"] == "random"]
    assert len(random) <= len(d_tier) + 15
    assert d_tier <= set(random["uscc"]) and out.ratio_kept["D"] == 1.0
    assert out.ratio_kept["B"] < 1.0
