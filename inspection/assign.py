"""Inspector assignment, the second "random" of 双随机: at least two per inspection, recusal, specialties.

For each inspection the team is drawn one inspector at a time, uniformly at random from
``default_rng((seed, 1))``, among those still eligible: capacity left (a cap, not the order of
choice), no declared conflict with the entity, not on the entity's previous inspection. First one
holder of each specialty the items need, then others up to the minimum team size. The entity's
town gives no preference, and neither does how busy an inspector already is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import UserError
from inspection.policy import SamplingPolicy


def assign(inspections: pd.DataFrame, inspectors: pd.DataFrame, *, policy: SamplingPolicy, seed: int,
           previous: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """Assign inspectors to every inspection.

    Args:
        inspections: frame with uscc, town_code, items (';'-joined item codes), in plan order.
        inspectors: inspector registry frame (inspector_id, town_code, specialties, capacity, conflicts).
        policy: the sampling policy (team size, recusal of the previous inspector).
        seed: the plan seed.
        previous: uscc -> inspector ids of that entity's previous inspection (recused).

    Returns:
        ``inspections`` with columns ``inspectors`` (';'-joined ids) and ``unmet_specialties``.
    """
    rng = np.random.default_rng((seed, 1))
    ids = inspectors["inspector_id"].to_numpy(dtype=object)
    m = len(ids)
    pos = {iid: i for i, iid in enumerate(ids)}
    cap = inspectors["capacity"].to_numpy(dtype=float)
    spec_names = sorted(policy.specialties)
    held = {s: np.zeros(m, dtype=bool) for s in spec_names}
    for i, text in enumerate(inspectors["specialties"]):
        for s in filter(None, str(text).split(";")):
            if s not in held:
                raise UserError(f"inspector {ids[i]}: unknown specialty {s!r}; expected one of {spec_names}")
            held[s][i] = True
    conflicts: dict[str, list[int]] = {}
    for i, text in enumerate(inspectors["conflicts"]):
        for uscc in filter(None, str(text).split(";")):
            conflicts.setdefault(uscc.strip(), []).append(i)
    recused = previous if (previous and policy.recuse_previous_inspector) else {}
    specialty_of = {it.code: it.specialty for it in policy.items}
    rarity = {s: int(held[s].sum()) for s in spec_names}

    load = np.zeros(m, dtype=float)
    teams, unmet_all = [], []
    min_team, max_team = policy.inspectors_per_inspection, max(policy.max_team_size,
                                                               policy.inspectors_per_inspection)
    for row in inspections.itertuples(index=False):
        ok = load < cap
        for i in conflicts.get(row.uscc, ()):
            ok[i] = False
        for iid in recused.get(row.uscc, ()):
            if iid in pos:
                ok[pos[iid]] = False
        items = [c for c in str(row.items).split(";") if c]
        needed = sorted({specialty_of[c] for c in items if c in specialty_of}, key=lambda s: (rarity[s], s))
        team: list[int] = []
        unmet = []
        for s in needed:
            if any(held[s][i] for i in team):
                continue
            if len(team) >= max_team:
                unmet.append(s)
                continue
            pick = _pick(ok & held[s], rng)
            if pick is None:
                unmet.append(s)
                continue
            team.append(pick)
            ok[pick] = False
        while len(team) < min_team:
            pick = _pick(ok, rng)
            if pick is None:
                raise UserError(
                    f"cannot staff inspection of {row.uscc}: fewer than {min_team} eligible inspectors left "
                    f"(registry of {m}, capacity exhausted or recused); add inspectors or raise capacity")
            team.append(pick)
            ok[pick] = False
        for i in team:
            load[i] += 1
        teams.append(";".join(sorted(ids[i] for i in team)))
        unmet_all.append(";".join(unmet))
    out = inspections.copy()
    out["inspectors"] = teams
    out["unmet_specialties"] = unmet_all
    return out


def _pick(mask: np.ndarray, rng: np.random.Generator) -> int | None:
    """One inspector drawn uniformly among the eligible ones, or None when there is none."""
    cand = np.flatnonzero(mask)
    if len(cand) == 0:
        return None
    return int(cand[rng.integers(len(cand))])


def workload(assigned: pd.DataFrame) -> pd.Series:
    """Inspections per inspector in an assigned plan."""
    ids = assigned["inspectors"].str.split(";").explode()
    return ids[ids != ""].value_counts().sort_index()
