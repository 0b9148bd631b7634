"""Bring-your-own-table scoring: add ``probability`` and ``tier`` to every row of a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from core import progress
from core.errors import UserError
from core.settings import Settings


def read_table(path: str | Path) -> pd.DataFrame:
    """A Parquet or CSV table."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected a table file, got {path} which does not exist")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise UserError(f"expected a .parquet or .csv table, got {path.name}")


def load_model(settings: Settings, model: str | Path = "champion"):
    """A ScoringModel from a bundle folder, a registry version number or an alias."""
    from training.model import ScoringModel

    if Path(str(model)).is_dir():
        return ScoringModel.load_local(model)
    return ScoringModel.load(settings, str(model))


def score_table(settings: Settings, *, table: str | Path, out: str | Path, model: str | Path = "champion",
                reasons: bool = False) -> dict[str, Any]:
    """Score a table with a registered model and write it with ``probability`` and ``tier`` added.

    Args:
        table: Parquet or CSV with the model's feature columns (and its id column when present).
        out: where to write the scored table (.parquet or .csv).
        model: version number, alias (default ``champion``) or a bundle folder.
        reasons: also add the top reasons (JSON text) per row.
    Returns:
        ``{"rows", "model_version", "out", "tier_counts", "mean_probability"}``.
    """
    import json

    m = load_model(settings, model)
    frame = read_table(table)
    with progress.step(f"scoring {len(frame):,} rows with model {m.version}"):
        p = m.predict_proba(frame)
        scored = frame.copy()
        scored["probability"] = p
        scored["tier"] = m.tiers(p, frame)
        if reasons:
            scored["reasons"] = [json.dumps(r, ensure_ascii=False) for r in m.reasons(frame)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        scored.to_csv(out, index=False)
    else:
        scored.to_parquet(out, index=False)
    counts = scored["tier"].value_counts().reindex(list(m.policy.codes_), fill_value=0)
    return {"rows": int(len(scored)), "model_version": m.version, "schema_hash": m.schema_hash,
            "out": str(out), "tier_counts": {k: int(v) for k, v in counts.items()},
            "mean_probability": float(p.mean()) if len(p) else None}
