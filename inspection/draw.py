"""The double-random target draw: stratified by tier and item within capacity, plus triggered inspections.

Every stratum (tier × item) is one random permutation of its eligible targets, drawn in a fixed
order from ``numpy.random.default_rng(seed)``; a stratum contributes the first k of its
permutation. When capacity binds, the strata are cut by one level found by bisection: in
``priority`` mode (default) the highest-risk tier keeps its full ratio longest and lower tiers are
cut first; in ``proportional`` mode every tier is scaled by the same factor. The public-information
floor and the checks required by law are drawn first, uniformly over all tiers (A included), and are
never cut; each random inspection records its inclusion probability.
An entity drawn for several items gets one inspection covering them all (进一次门、查多项事).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import UserError
from inspection.policy import SamplingPolicy, applicability

INSPECTION_COLUMNS = ["uscc", "tier", "town_code", "entity_type", "kind", "items", "trigger_refs",
                      "inclusion_probability", "drawn_by"]


@dataclass
class Draw:
    """A drawn plan before inspector assignment."""

    inspections: pd.DataFrame  # INSPECTION_COLUMNS, random inspections first (sorted by uscc), then triggered
    strata: pd.DataFrame  # stratum, tier, item, eligible, wanted, drawn
    floor: dict
    ratio_kept: dict  # tier -> share of its policy ratio kept within capacity (1.0 = full ratio)
    capacity: int
    seed: int
    notes: list[str] = field(default_factory=list)
    required: list[dict] = field(default_factory=list)  # the checks required by law, like ``floor``

    @property
    def random_count(self) -> int:
        return int((self.inspections["kind"] == "random").sum())


@dataclass
class _Stratum:
    code: str  # "floor", "required:<item>" or "tier:<T>"
    tier: str  # "*" for the mandatory strata (all tiers)
    item: str
    perm: np.ndarray  # random permutation of the eligible target indices
    wanted: float  # tier strata: ratio × eligible; mandatory strata: what this year still needs


def draw(targets: pd.DataFrame, *, policy: SamplingPolicy, capacity: int, seed: int,
         prior: pd.DataFrame | None = None, triggers: pd.DataFrame | None = None) -> Draw:
    """Draw the random inspections of one plan, then add triggered ones.

    First the mandatory strata (the public-information floor, then each check required by law), each a
    uniform sample of every entity its item concerns, all tiers including A, not yet checked for it this
    year; then the tier strata (tier × item at the tier's ratio), cut to capacity. Every random inspection
    records its inclusion probability ``1 − Π(1 − k_s / N_s)`` over the strata whose eligible set holds
    the entity (strata are independent permutations), and ``drawn_by`` (the strata that drew it).

    Args:
        targets: target registry frame (uscc, tier, town_code, entity_type, industry_code, licence_types).
        policy: the sampling policy.
        capacity: most random (proactive) inspections this plan may hold.
        seed: seed of ``numpy.random.default_rng``.
        prior: this calendar year's earlier random checks per uscc: columns uscc, checks, items (';'-joined
            item codes checked this year), as :func:`inspection.store.prior_checks` returns them.
        triggers: leads from :func:`inspection.registries.load_triggers` (uscc, kind, refs).

    Returns:
        A :class:`Draw`; random inspections never exceed ``capacity``.
    """
    if capacity < 0:
        raise UserError(f"capacity must be >= 0 inspections, got {capacity}")
    targets = targets.reset_index(drop=True)
    n = len(targets)
    rng = np.random.default_rng(seed)
    app = applicability(targets, policy)
    tier = targets["tier"].astype(str).to_numpy()
    unknown = sorted(set(tier) - set(policy.tiers))
    if unknown:
        raise UserError(f"targets carry tiers {unknown} that the sampling policy does not know "
                        f"(expected {sorted(policy.tiers)})")
    checks, done = _prior_arrays(targets, prior, policy)
    max_checks = np.array([policy.tiers[t].max_checks_per_year for t in tier], dtype=int)
    proactive = np.array([policy.tiers[t].proactive for t in tier], dtype=bool)
    open_ = proactive & (checks < max_checks)

    # mandatory strata: the floor and the checks required by law, uniform over all tiers, never cut
    mandatory, year = [], []
    for req in policy.mandatory:
        concerned = app[req.item].to_numpy()
        pop = int(concerned.sum())
        required = math.ceil(req.share_per_year * pop)
        already = int((done[req.item] & concerned).sum())
        need = max(0, required - already)
        idx = np.flatnonzero(concerned & ~done[req.item])
        mandatory.append(_Stratum(req.code, "*", req.item, idx[rng.permutation(len(idx))], float(need)))
        year.append({"code": req.code, "item": req.item, "share": req.share_per_year, "population": pop,
                     "required_this_year": required, "already_this_year": already, "need": need,
                     "open": len(idx), "source": req.source})
    mandatory_items = {req.item for req in policy.mandatory}

    strata = []
    for t_code, rule in policy.tiers.items():
        if not rule.proactive:
            continue
        in_tier = open_ & (tier == t_code)
        for item in policy.items:
            ok = in_tier & app[item.code].to_numpy()
            if item.code in mandatory_items:
                ok &= ~done[item.code]
            idx = np.flatnonzero(ok)
            strata.append(_Stratum(f"tier:{t_code}", t_code, item.code, idx[rng.permutation(len(idx))],
                                   rule.ratio * len(idx)))

    base = np.array([min(int(s.wanted), len(s.perm)) for s in mandatory], dtype=int)
    base_mask = _chosen(n, mandatory, base)
    sizes = np.array([len(s.perm) for s in strata], dtype=int)
    wanted = np.array([s.wanted for s in strata], dtype=float)

    # level in [0, top]: factor per stratum, monotone in level (so bisection finds the largest that fits)
    risk_rank = {code: i for i, code in enumerate(reversed(list(policy.tiers)))}  # 0 = highest risk
    rank = np.array([risk_rank[s.tier] for s in strata], dtype=float)
    top = float(len(policy.tiers)) if policy.capacity_mode == "priority" else 1.0

    def factor(level: float) -> np.ndarray:
        if policy.capacity_mode == "priority":
            return np.clip(level - rank, 0.0, 1.0)
        return np.full(len(strata), level)

    def ks(level: float) -> np.ndarray:
        return np.minimum(sizes, np.floor(factor(level) * wanted + 0.5).astype(int))

    def count(level: float) -> int:
        return int((base_mask | _chosen(n, strata, ks(level))).sum())

    if base_mask.sum() > capacity:
        what = "; ".join(f"{y['code']} ({y['item']}): {min(y['need'], y['open'])}" for y in year if y["need"])
        raise UserError(f"capacity {capacity} is below the public-information floor and the checks required by "
                        f"law: {int(base_mask.sum())} entities still to check this year ({what})")
    scale = top
    if count(top) > capacity:
        lo, hi = 0.0, top
        for _ in range(50):
            mid = (lo + hi) / 2
            if count(mid) <= capacity:
                lo = mid
            else:
                hi = mid
        scale = lo
    k = ks(scale)
    tier_factor = {s.tier: round(float(f), 4) for s, f in zip(strata, factor(scale), strict=True)}

    all_strata = [*mandatory, *strata]
    all_k = np.concatenate([base, k]).astype(int)
    items_of: dict[int, list[str]] = {}
    by_of: dict[int, list[str]] = {}
    log_miss = np.zeros(n)  # Σ log(1 − k_s / N_s) over the strata whose eligible set holds the entity
    for s, kk in zip(all_strata, all_k, strict=True):
        if len(s.perm):
            log_miss[s.perm] += math.log1p(-kk / len(s.perm)) if kk < len(s.perm) else -np.inf
        for i in s.perm[:kk]:
            items_of.setdefault(int(i), []).append(s.item)
            by_of.setdefault(int(i), []).append(s.code)
    inclusion = -np.expm1(log_miss)
    order = [it.code for it in policy.items]
    idx = np.array(sorted(items_of, key=lambda i: targets.at[i, "uscc"]), dtype=int)
    random_rows = _rows(targets, idx, "random", [";".join(sorted(set(items_of[i]), key=order.index)) for i in idx],
                        [""] * len(idx))
    random_rows["inclusion_probability"] = np.round(inclusion[idx], 6)
    random_rows["drawn_by"] = [";".join(dict.fromkeys(by_of[i])) for i in idx]

    drawn_item = {it: sum(1 for i in idx if it in items_of[int(i)]) for it in mandatory_items}
    drawn_tiers = {it: pd.Series(tier[[i for i in idx if it in items_of[int(i)]]]).value_counts().to_dict()
                   for it in mandatory_items}
    notes, summaries = [], []
    for y in year:
        met = y["already_this_year"] + drawn_item[y["item"]] >= y["required_this_year"]
        summaries.append({**{k_: v for k_, v in y.items() if k_ not in ("need", "open")},
                          "drawn": drawn_item[y["item"]], "drawn_by_tier": {str(t): int(c) for t, c in
                                                                           sorted(drawn_tiers[y["item"]].items())},
                          "met": bool(met)})
        if y["open"] < y["need"]:
            notes.append(f"{y['code']} shortfall: {y['need']} entities needed for {y['item']} but only {y['open']} "
                         f"are open for it this year")
    floor = summaries[0]
    floor = {"item": floor["item"], "share": floor["share"], "enterprises": floor["population"],
             **{k_: floor[k_] for k_ in ("required_this_year", "already_this_year", "drawn", "drawn_by_tier", "met")}}

    strata_frame = pd.DataFrame({
        "stratum": [s.code for s in all_strata], "tier": [s.tier for s in all_strata],
        "item": [s.item for s in all_strata], "eligible": [len(s.perm) for s in all_strata],
        "wanted": np.round([s.wanted for s in all_strata], 2), "drawn": all_k,
    })
    inspections = pd.concat([random_rows, _triggered_rows(targets, app, triggers, order)], ignore_index=True)
    return Draw(inspections=inspections, strata=strata_frame, floor=floor, ratio_kept=tier_factor,
                capacity=capacity, seed=seed, notes=notes, required=summaries[1:])


def _chosen(n: int, strata: list[_Stratum], k: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for s, kk in zip(strata, k, strict=True):
        mask[s.perm[:kk]] = True
    return mask


def _prior_arrays(targets: pd.DataFrame, prior: pd.DataFrame | None,
                  policy: SamplingPolicy) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Random checks so far this year per target, and per item whether the target was already checked for it."""
    n = len(targets)
    done = {it.code: np.zeros(n, dtype=bool) for it in policy.items}
    if prior is None or prior.empty:
        return np.zeros(n, dtype=int), done
    p = prior.drop_duplicates("uscc").set_index("uscc")
    checks = targets["uscc"].map(p["checks"]).fillna(0).astype(int).to_numpy()
    held = ";" + targets["uscc"].map(p["items"]).fillna("").astype(str) + ";"
    for code in done:
        done[code] = held.str.contains(f";{code};", regex=False).to_numpy(dtype=bool)
    return checks, done


def _rows(targets: pd.DataFrame, idx: np.ndarray, kind: str, items: list[str], refs: list[str]) -> pd.DataFrame:
    sel = targets.iloc[idx]
    return pd.DataFrame({
        "uscc": sel["uscc"].to_numpy(dtype=object), "tier": sel["tier"].to_numpy(dtype=object),
        "town_code": sel["town_code"].to_numpy(dtype=object), "entity_type": sel["entity_type"].to_numpy(dtype=object),
        "kind": [kind] * len(idx), "items": list(items), "trigger_refs": list(refs),
        "inclusion_probability": np.full(len(idx), np.nan), "drawn_by": [""] * len(idx),
    }, columns=INSPECTION_COLUMNS)


def _triggered_rows(targets: pd.DataFrame, app: pd.DataFrame, triggers: pd.DataFrame | None,
                    order: list[str]) -> pd.DataFrame:
    if triggers is None or triggers.empty:
        return _rows(targets, np.array([], dtype=int), "", [], [])
    pos = pd.Series(np.arange(len(targets)), index=targets["uscc"])
    leads = triggers[triggers["uscc"].isin(pos.index)].sort_values("uscc", kind="stable")
    idx = pos.loc[leads["uscc"]].to_numpy(dtype=int)  # leads on entities not in the registry are skipped
    matrix = app[order].to_numpy()
    items = [";".join(c for c, hit in zip(order, matrix[i], strict=True) if hit) for i in idx]
    frame = _rows(targets, idx, "", items, leads["refs"].tolist())
    frame["kind"] = leads["kind"].to_numpy(dtype=object)
    return frame
