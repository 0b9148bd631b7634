"""Inspector assignment: two or more per inspection, recusal, specialties, balanced workload."""

import pandas as pd
import pytest
from scipy import stats

from core.errors import UserError
from inspection.assign import assign, workload
from inspection.draw import draw
from inspection.registries import generate_inspectors, inspectors_from_frame


@pytest.fixture
def drawn(targets, policy):
    return draw(targets, policy=policy, capacity=200, seed=21).inspections


def test_every_inspection_has_two_inspectors_without_conflicts(targets, policy, drawn):
    reg = generate_inspectors(targets, policy, seed=1, entities_per_inspector=100)
    first = drawn["uscc"].iloc[0]
    frame = reg.frame.copy()
    frame.loc[:, "conflicts"] = frame["conflicts"] + ";" + first  # everyone but one declares a conflict
    frame.loc[0, "conflicts"] = ""
    frame.loc[1, "conflicts"] = ""
    out = assign(drawn, inspectors_from_frame(frame).frame, policy=policy, seed=21)
    conflicts = {r.inspector_id: set(r.conflicts.split(";")) for r in frame.itertuples()}
    for row in out.itertuples():
        team = row.inspectors.split(";")
        assert len(team) >= 2 and len(set(team)) == len(team)
        assert all(row.uscc not in conflicts[i] for i in team)
    assert set(out.loc[out["uscc"] == first, "inspectors"].iloc[0].split(";")) == {
        frame.loc[0, "inspector_id"], frame.loc[1, "inspector_id"]}


def test_previous_inspectors_recuse_and_specialties_are_covered(targets, policy, drawn):
    reg = generate_inspectors(targets, policy, seed=1, entities_per_inspector=100)
    first = assign(drawn, reg.frame, policy=policy, seed=21)
    previous = {u: set(s.split(";")) for u, s in zip(first["uscc"], first["inspectors"], strict=True)}
    second = assign(drawn, reg.frame, policy=policy, seed=22, previous=previous)
    for u, s in zip(second["uscc"], second["inspectors"], strict=True):
        assert not previous[u] & set(s.split(";"))
    spec = {r.inspector_id: set(r.specialties.split(";")) for r in reg.frame.itertuples()}
    need = {it.code: it.specialty for it in policy.items}
    assert (second["unmet_specialties"] == "").all()
    for row in second.itertuples():
        held = set().union(*(spec[i] for i in row.inspectors.split(";")))
        assert {need[c] for c in row.items.split(";") if c} <= held


def test_team_members_are_drawn_uniformly_whatever_their_town_or_load(policy):
    """Over many draws every eligible inspector is chosen about equally often (chi-square test of uniformity);
    inspectors of another town are as likely as the entity's own, and the recused one is never drawn."""
    n = 3000
    inspections = pd.DataFrame({"uscc": [f"U{i:04d}" for i in range(n)], "town_code": "T1",
                                "items": "annual_report_public_info"})
    reg = inspectors_from_frame(pd.DataFrame({
        "inspector_id": [f"I{i:02d}" for i in range(13)], "team": "S", "town_code": ["T1"] * 4 + ["T2"] * 9,
        "specialties": "general", "capacity": [5000] * 12 + [10], "conflicts": ""}))
    previous = {f"U{i:04d}": {"I00"} for i in range(0, n, 2)}  # I00 recused from every other entity
    out = assign(inspections, reg.frame, policy=policy, seed=4, previous=previous)
    load = workload(out).reindex(reg.frame["inspector_id"], fill_value=0)
    assert load["I12"] == 10  # a capacity is a cap: reached, never passed
    free = load.drop(["I00", "I12"])
    # uniform draw of 2 among the eligible: I00 is eligible for half the entities
    assert stats.chisquare(free.to_numpy()).pvalue > 0.01
    assert free[["I01", "I02", "I03"]].mean() == pytest.approx(free.drop(["I01", "I02", "I03"]).mean(), rel=0.1)
    assert load["I00"] == pytest.approx(free.mean() / 2, rel=0.15)
    recused = out[out["uscc"].isin(previous)]
    assert not recused["inspectors"].str.contains("I00").any()


def test_too_few_inspectors_is_refused_with_a_reason(policy):
    inspections = pd.DataFrame({"uscc": ["U1", "U2"], "town_code": "T1", "items": "annual_report_public_info"})
    reg = inspectors_from_frame(pd.DataFrame({
        "inspector_id": ["I1", "I2"], "team": "S1", "town_code": "T1", "specialties": "general",
        "capacity": 1, "conflicts": ""}))
    with pytest.raises(UserError, match="fewer than 2 eligible inspectors"):
        assign(inspections, reg.frame, policy=policy, seed=4)


def test_registry_with_names_is_rejected():
    with pytest.raises(UserError, match="ids only"):
        inspectors_from_frame(pd.DataFrame({"inspector_id": ["I1"], "name": ["张三"], "team": "S", "town_code": "T",
                                            "specialties": "general", "capacity": 5, "conflicts": ""}))
