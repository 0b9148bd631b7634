"""How each label was detected, and the random-check correction of labels that feed on their own inspections.

A positive label is only what the bureau detected: where it inspects more it finds more, and the tiers
decide where it inspects. Two things here:

- :func:`detection_kinds`: for every (uscc, as_of) row, what detected its label in the horizon — the kind
  of the first adverse inspection (``random``, ``targeted`` — which includes case leads and opinion
  alerts —, ``complaint``), ``none`` for an event no inspection found (a listing, a revocation), or ``""``
  for a negative row. :func:`detection_mix` summarises them per tier for the training report.
- :func:`random_check_correction` (``credit-risk train --label-correction random-checks``): train and
  calibrate only on rows whose horizon holds a random inspection, labelled by what the random
  inspections found, weighted by the inverse of the estimated chance of being randomly inspected
  (random checks per member of the population group — enterprise / individual business — and as_of).
  Random draws do not depend on the tier, so this label does not learn the model's own allocation.
  The test slice keeps the design label, so the metrics compare with the default model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core import rules
from inspection.results import ADVERSE_RESULTS

KINDS = ("random", "targeted", "complaint", "none")
CORRECTIONS = ("none", "random-checks")
WEIGHT_COL = "_weight"
DETECTION_COL = "_detection"


def _horizon() -> int:
    return int(rules.load("labels")["label"]["horizon_months"])


def _inspections_in_horizon(con, rows: pd.DataFrame) -> pd.DataFrame:
    """Every inspection dated in (as_of, as_of + horizon] of each row: uscc, as_of, kind, adverse, date."""
    pairs = rows[["uscc", "as_of"]].drop_duplicates().copy()
    pairs["as_of"] = pd.to_datetime(pairs["as_of"]).dt.date
    con.register("_det_rows", pairs)
    try:
        marks = ", ".join(f"'{r}'" for r in ADVERSE_RESULTS)
        found = con.execute(f"""
            SELECT r.uscc, r.as_of, i.kind, i.result IN ({marks}) AS adverse, i.inspection_date
            FROM _det_rows r JOIN inspections i ON i.uscc = r.uscc AND i.inspection_date > r.as_of
             AND i.inspection_date <= r.as_of + INTERVAL '{_horizon()}' MONTH""").df()
    finally:
        con.unregister("_det_rows")
    found["as_of"] = pd.to_datetime(found["as_of"]).dt.date
    return found


def detection_kinds(con, rows: pd.DataFrame, label_col: str = "label") -> pd.Series:
    """What detected each row's label (aligned with ``rows``): a kind of :data:`KINDS`, or "" for a negative."""
    found = _inspections_in_horizon(con, rows)
    found = found[found["adverse"]].sort_values(["uscc", "as_of", "inspection_date", "kind"], kind="stable")
    first = found.drop_duplicates(["uscc", "as_of"]).set_index(["uscc", "as_of"])["kind"]
    key = pd.MultiIndex.from_arrays([rows["uscc"], pd.to_datetime(rows["as_of"]).dt.date])
    kind = pd.Series(first.reindex(key).to_numpy(), index=rows.index).fillna("none")
    kind = kind.where(kind.isin(KINDS), "targeted")
    return kind.where(rows[label_col].to_numpy(dtype=int) == 1, "")


def detection_mix(kinds: pd.Series, tiers: np.ndarray) -> dict[str, dict[str, float]]:
    """Per tier: positives and the share detected by each kind."""
    frame = pd.DataFrame({"kind": kinds.to_numpy(), "tier": tiers})
    frame = frame[frame["kind"] != ""]
    out = {}
    for tier, part in frame.groupby("tier", sort=True):
        shares = part["kind"].value_counts(normalize=True)
        out[str(tier)] = {"positives": int(len(part)), **{k: round(float(shares.get(k, 0.0)), 4) for k in KINDS}}
    return out


def random_check_correction(con, frame: pd.DataFrame, *, split_col: str, label_col: str = "label",
                            keep: str = "test") -> pd.DataFrame:
    """Rows of ``frame`` re-labelled by random inspections (see the module docstring), ``keep`` slice untouched.

    Returns the frame with rows outside ``keep`` restricted to those randomly inspected in their horizon,
    ``label_col`` replaced there by "a random inspection found an adverse issue" and :data:`WEIGHT_COL`
    (1 on the kept slice).
    """
    found = _inspections_in_horizon(con, frame)
    random = found[found["kind"] == "random"].groupby(["uscc", "as_of"], as_index=False)["adverse"].max()
    other = frame[frame[split_col] != keep].copy()
    other["as_of"] = pd.to_datetime(other["as_of"]).dt.date
    merged = other.merge(random, on=["uscc", "as_of"], how="left")
    individual = merged["entity_type"].eq("individual") if "entity_type" in merged.columns else False
    merged["_group"] = np.where(individual, "individual", "enterprise")
    checked = merged["adverse"].notna()
    rate = checked.groupby([merged["as_of"], merged["_group"]]).transform("mean")
    merged = merged[checked].copy()
    merged[label_col] = merged["adverse"].astype(bool).astype(int)
    merged[WEIGHT_COL] = 1.0 / rate[checked].clip(lower=1e-6)
    merged[WEIGHT_COL] *= len(merged) / merged[WEIGHT_COL].sum()  # mean weight 1: the learning rate keeps its sense
    merged = merged.drop(columns=["adverse", "_group"])
    kept = frame[frame[split_col] == keep].assign(**{WEIGHT_COL: 1.0})
    kept["as_of"] = pd.to_datetime(kept["as_of"]).dt.date
    return pd.concat([merged, kept], ignore_index=True)
