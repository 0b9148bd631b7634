"""Evaluate the tier-differentiated draw against a uniform random draw of equal size, on the hidden ground truth.

Only for the simulated district: synth writes ``ground_truth/latent_monthly.parquet`` (uscc, month,
propensity, violating). An inspection of an entity finds an adverse issue when the entity is
violating in the evaluation month (the first month at or after the publication's as_of). The
expected rate (mean propensity × 100) is reported beside the realised one as a smoother figure.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import NotFound, UserError
from core.settings import Settings
from inspection.draw import draw
from inspection.policy import SamplingPolicy, load_policy
from inspection.registries import load_targets, targets_frame, warehouse_frames


def evaluate_plan(targets: pd.DataFrame, truth: pd.DataFrame, *, policy: SamplingPolicy,
                  capacity: int | None, seed: int, repeats: int = 10) -> dict[str, Any]:
    """Findings per 100 inspections: tiered plan vs. uniform draw of the same size, averaged over ``repeats`` seeds.

    Args:
        targets: target registry frame (uscc, tier, descriptors, licence_types).
        truth: uscc, violating (bool), propensity for the evaluation month.
        policy: sampling policy of the tiered plan.
        capacity: random-inspection capacity; None = whatever the policy's ratios ask for.
        seed: first seed; repeat r uses ``seed + r`` (tiered) and ``(seed + r, 2)`` (uniform).
        repeats: number of draws averaged.
    """
    if repeats < 1:
        raise UserError(f"repeats must be >= 1, got {repeats}")
    targets = targets.reset_index(drop=True)
    t = truth.drop_duplicates("uscc").set_index("uscc")
    violating = targets["uscc"].map(t["violating"]).fillna(False).astype(bool).to_numpy()
    propensity = pd.to_numeric(targets["uscc"].map(t["propensity"]), errors="coerce").fillna(0.0).to_numpy()
    covered = float(targets["uscc"].isin(t.index).mean())
    pos = pd.Series(np.arange(len(targets)), index=targets["uscc"])
    cap = capacity if capacity is not None else len(targets)
    tiered, uniform, tiered_exp, uniform_exp, sizes, by_tier = [], [], [], [], [], []
    for r in range(repeats):
        d = draw(targets, policy=policy, capacity=cap, seed=seed + r)
        idx = pos.loc[d.inspections.loc[d.inspections["kind"] == "random", "uscc"]].to_numpy(dtype=int)
        n = len(idx)
        if n == 0:
            raise UserError("the tiered plan drew no inspections: check the tiers and the capacity")
        uni = np.random.default_rng((seed + r, 2)).choice(len(targets), size=n, replace=False)
        tiered.append(100 * violating[idx].mean())
        uniform.append(100 * violating[uni].mean())
        tiered_exp.append(100 * propensity[idx].mean())
        uniform_exp.append(100 * propensity[uni].mean())
        sizes.append(n)
        by_tier.append(targets["tier"].iloc[idx].value_counts())
    mean_t, mean_u = float(np.mean(tiered)), float(np.mean(uniform))
    tier_mix = pd.concat(by_tier, axis=1).fillna(0).mean(axis=1)
    truth_by_tier = pd.Series(violating).groupby(targets["tier"].to_numpy()).mean() * 100
    return {
        "findings_per_100_tiered": round(mean_t, 3),
        "findings_per_100_uniform": round(mean_u, 3),
        "ratio": round(mean_t / mean_u, 3) if mean_u > 0 else None,
        "expected_per_100_tiered": round(float(np.mean(tiered_exp)), 3),
        "expected_per_100_uniform": round(float(np.mean(uniform_exp)), 3),
        "expected_ratio": round(float(np.mean(tiered_exp) / np.mean(uniform_exp)), 3)
        if np.mean(uniform_exp) > 0 else None,
        "tiered_sd": round(float(np.std(tiered)), 3), "uniform_sd": round(float(np.std(uniform)), 3),
        "inspections": int(round(float(np.mean(sizes)))), "targets": int(len(targets)),
        "capacity": capacity, "seed": seed, "repeats": repeats,
        "tiered_mix": {str(k): round(float(v), 1) for k, v in tier_mix.sort_index().items()},
        "violating_per_100_by_tier": {str(k): round(float(v), 3) for k, v in truth_by_tier.sort_index().items()},
        "truth_coverage": round(covered, 4),
        "rules_versions": policy.versions,
    }


def read_truth(ground_truth_dir: str | Path, *, month: date) -> pd.DataFrame:
    """uscc, violating, propensity of one month from ``latent_monthly.parquet`` (first month starting on or after ``month``)."""
    path = Path(ground_truth_dir) / "latent_monthly.parquet"
    if not path.is_file():
        raise NotFound(f"no ground truth at {path} (expected synth's ground_truth/latent_monthly.parquet)")
    import pyarrow.dataset as ds

    dataset = ds.dataset(path)
    months = pd.Series(dataset.to_table(columns=["month"]).column("month").unique().to_pylist())
    months = pd.to_datetime(months).dt.date.sort_values()
    later = months[months >= month]  # the first month starting on or after the date
    if later.empty:
        raise UserError(f"ground truth ends at {months.iloc[-1]}, before the evaluation month {month:%Y-%m}")
    chosen = later.iloc[0]
    field = dataset.schema.field("month")
    value = pd.Timestamp(chosen) if str(field.type).startswith("timestamp") else chosen
    table = dataset.to_table(columns=["uscc", "violating", "propensity"], filter=ds.field("month") == value)
    frame = table.to_pandas()
    frame.attrs["month"] = chosen
    return frame


def evaluate_plan_for_district(settings: Settings, *, ground_truth_dir: str | Path, capacity: int | None = None,
                               seed: int = 20260101, repeats: int = 10, month: date | None = None,
                               scores_path: str | Path | None = None,
                               publication_id: str | None = None) -> dict[str, Any]:
    """Evaluate on the simulated district: targets from the latest publication (or a stand-in scores file).

    ``scores_path`` is a Parquet file with uscc, tier (and optionally probability, as_of and descriptors),
    used before a trained model exists; descriptors and licences come from the warehouse.
    """
    policy = load_policy()
    if scores_path:
        scores = pd.read_parquet(scores_path)
        as_of = month or (pd.Timestamp(scores["as_of"].max()).date() if "as_of" in scores.columns else None)
        if as_of is None:
            raise UserError("a stand-in scores file without an as_of column needs --month")
        from features import warehouse

        con = warehouse.connect(settings)
        try:
            entities, licences = warehouse_frames(con, as_of, point_in_time=True)
        finally:
            con.close()
        frame = targets_frame(scores, entities=entities, licences=licences)
        source = {"scores": str(scores_path)}
    else:
        targets = load_targets(settings, publication_id=publication_id, point_in_time=True)
        frame, as_of = targets.frame, month or targets.as_of
        source = {"publication_id": targets.publication_id, "target_registry": targets.version}
    truth = read_truth(ground_truth_dir, month=month or as_of)
    out = evaluate_plan(frame, truth, policy=policy, capacity=capacity, seed=seed, repeats=repeats)
    out["month"] = truth.attrs["month"].isoformat()
    out.update(source)
    return out
