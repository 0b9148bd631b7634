"""The double-random target draw: stratified by tier and item within capacity, plus triggered inspections.

Every stratum (tier × item) is one random permutation of its eligible targets, drawn in a fixed
order from ``numpy.random.default_rng(seed)``; a stratum contributes the first k of its
permutation. When capacity binds, the strata are cut by one level found by bisection: in
``priority`` mode (default) the highest-risk tier keeps its full ratio longest and lower tiers are
cut first; in ``proportional`` mode every tier is scaled by the same factor. The public-information
floor is never cut.
An entity drawn for several items gets one inspection covering them all (进一次门、查多项事).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import UserError
from inspection.policy import SamplingPolicy, applicability

INSPECTION_COLUMNS = ["uscc", "tier", "town_code", "entity_type", "kind", "items", "trigger_refs"]


@dataclass
class Draw:
    """A drawn plan before inspector assignment."""

    inspections: pd.DataFrame  # INSPECTION_COLUMNS, random inspections first (sorted by uscc), then triggered
    strata: pd.DataFrame  # tier, item, eligible, wanted, drawn
    floor: dict
    ratio_kept: dict  # tier -> share of its policy ratio kept within capacity (1.0 = full ratio)
    capacity: int
    seed: int
    notes: list[str] = field(default_factory=list)

    @property
    def random_count(self) -> int:
        return int((self.inspections["kind"] == "random").sum())


def draw(targets: pd.DataFrame, *, policy: SamplingPolicy, capacity: int, seed: int,
         prior: pd.DataFrame | None = None, triggers: pd.DataFrame | None = None) -> Draw:
    """Draw the random inspections of one plan, then add triggered ones.

    Args:
        targets: target registry frame (uscc, tier, town_code, entity_type, industry_code, licence_types).
        policy: the sampling policy.
        capacity: most random (proactive) inspections this plan may hold.
        seed: seed of ``numpy.random.default_rng``.
        prior: this calendar year's earlier proactive checks per uscc: columns uscc, checks,
            public_info (bool: already had the public-information item this year).
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
    checks, public_done = _prior_arrays(targets, prior)
    max_checks = np.array([policy.tiers[t].max_checks_per_year for t in tier], dtype=int)
    proactive = np.array([policy.tiers[t].proactive for t in tier], dtype=bool)
    open_ = proactive & (checks < max_checks)

    strata = []  # (tier, item, permutation of target indices, wanted)
    for t_code, rule in policy.tiers.items():
        if not rule.proactive:
            continue
        in_tier = open_ & (tier == t_code)
        for item in policy.items:
            ok = in_tier & app[item.code].to_numpy()
            if item.code == policy.floor_item:
                ok &= ~public_done
            idx = np.flatnonzero(ok)
            perm = idx[rng.permutation(len(idx))]
            strata.append((t_code, item.code, perm, rule.ratio * len(idx)))

    # The floor: enterprises still to check this year for public information, allotted over the
    # floor item's strata in proportion to what each wants (largest remainder), within their size.
    floor_pop = int(app[policy.floor_item].sum())
    floor_required = math.ceil(policy.floor_share * floor_pop)
    floor_already = int((public_done & app[policy.floor_item].to_numpy()).sum())
    need = max(0, floor_required - floor_already)
    floor_min = _allot(need, [(len(p), w) if it == policy.floor_item else (0, 0.0) for _, it, p, w in strata])
    floor_possible = sum(len(p) for _, it, p, _ in strata if it == policy.floor_item)

    sizes = np.array([len(p) for _, _, p, _ in strata], dtype=int)
    wanted = np.array([w for *_, w in strata], dtype=float)
    perms = [p for _, _, p, _ in strata]

    # level in [0, top]: factor per stratum, monotone in level (so bisection finds the largest that fits)
    risk_rank = {code: i for i, code in enumerate(reversed(list(policy.tiers)))}  # 0 = highest risk
    rank = np.array([risk_rank[t] for t, *_ in strata], dtype=float)
    top = float(len(policy.tiers)) if policy.capacity_mode == "priority" else 1.0

    def factor(level: float) -> np.ndarray:
        if policy.capacity_mode == "priority":
            return np.clip(level - rank, 0.0, 1.0)
        return np.full(len(strata), level)

    def ks(level: float) -> np.ndarray:
        want = np.floor(factor(level) * wanted + 0.5).astype(int)
        return np.minimum(sizes, np.maximum(floor_min, want))

    def chosen(k: np.ndarray) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        for perm, kk in zip(perms, k, strict=True):
            mask[perm[:kk]] = True
        return mask

    if chosen(ks(0.0)).sum() > capacity:
        raise UserError(f"capacity {capacity} is below the public-information floor: {need} enterprises still "
                        f"to check this year ({policy.floor_share:.0%} of {floor_pop} less {floor_already} done)")
    scale = top
    if chosen(ks(top)).sum() > capacity:
        lo, hi = 0.0, top
        for _ in range(50):
            mid = (lo + hi) / 2
            if chosen(ks(mid)).sum() <= capacity:
                lo = mid
            else:
                hi = mid
        scale = lo
    k = ks(scale)
    tier_factor = {t: round(float(f), 4) for (t, *_), f in zip(strata, factor(scale), strict=True)}

    items_of: dict[int, list[str]] = {}
    for (_, item_code, perm, _), kk in zip(strata, k, strict=True):
        for i in perm[:kk]:
            items_of.setdefault(int(i), []).append(item_code)
    order = [it.code for it in policy.items]
    idx = np.array(sorted(items_of, key=lambda i: targets.at[i, "uscc"]), dtype=int)
    random_rows = _rows(targets, idx, "random", [";".join(sorted(items_of[i], key=order.index)) for i in idx],
                        [""] * len(idx))
    floor_drawn = sum(int(kk) for (_, it, _, _), kk in zip(strata, k, strict=True) if it == policy.floor_item)
    floor = {"item": policy.floor_item, "share": policy.floor_share, "enterprises": floor_pop,
             "required_this_year": floor_required, "already_this_year": floor_already,
             "drawn": floor_drawn, "met": floor_already + floor_drawn >= floor_required}
    notes = []
    if floor_possible < need:
        notes.append(f"floor shortfall: {need} enterprises needed but only {floor_possible} B–D enterprises "
                     f"are open for a public-information check this year (A is not drawn proactively)")

    strata_frame = pd.DataFrame({
        "tier": [s[0] for s in strata], "item": [s[1] for s in strata],
        "eligible": sizes, "wanted": np.round(wanted, 2), "drawn": k,
    })
    inspections = pd.concat([random_rows, _triggered_rows(targets, app, triggers, order)], ignore_index=True)
    return Draw(inspections=inspections, strata=strata_frame, floor=floor, ratio_kept=tier_factor,
                capacity=capacity, seed=seed, notes=notes)


def _prior_arrays(targets: pd.DataFrame, prior: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    n = len(targets)
    if prior is None or prior.empty:
        return np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
    p = prior.set_index("uscc")
    checks = targets["uscc"].map(p["checks"]).fillna(0).astype(int).to_numpy()
    public = targets["uscc"].map(p["public_info"]).fillna(False).astype(bool).to_numpy()
    return checks, public


def _allot(total: int, strata: list[tuple[int, float]]) -> np.ndarray:
    """Split ``total`` over strata (size, weight) in proportion to weight, capped by size (largest remainder)."""
    sizes = np.array([s for s, _ in strata], dtype=int)
    weights = np.array([w for _, w in strata], dtype=float)
    out = np.zeros(len(strata), dtype=int)
    left = min(total, int(sizes.sum()))
    while left > 0:
        room = sizes - out
        w = np.where(room > 0, weights if weights[room > 0].sum() > 0 else (room > 0).astype(float), 0.0)
        share = left * w / w.sum()
        add = np.minimum(room, np.floor(share).astype(int))
        if add.sum() == 0:  # hand out single units by largest remainder
            rem = np.where(room > 0, share - np.floor(share), -1.0)
            add = np.zeros_like(out)
            for i in np.argsort(-rem, kind="stable")[:left]:
                if room[i] > 0:
                    add[i] = 1
        out += add
        left -= int(add.sum())
    return out


def _rows(targets: pd.DataFrame, idx: np.ndarray, kind: str, items: list[str], refs: list[str]) -> pd.DataFrame:
    sel = targets.iloc[idx]
    return pd.DataFrame({
        "uscc": sel["uscc"].to_numpy(dtype=object), "tier": sel["tier"].to_numpy(dtype=object),
        "town_code": sel["town_code"].to_numpy(dtype=object), "entity_type": sel["entity_type"].to_numpy(dtype=object),
        "kind": [kind] * len(idx), "items": list(items), "trigger_refs": list(refs),
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
