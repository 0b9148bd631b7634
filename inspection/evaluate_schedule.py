"""Evaluate a score on an inspection history: same calendar, inspections re-ordered by score.

The historical calendar is kept (the same dates with the same number of inspections per day);
the inspections are re-assigned to those slots in descending score order (ties keep their
historical order, so a tie earns nothing). For each positive: days earlier = historical date −
re-ordered date. "First half" means strictly before the midpoint of the first and last date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import NotFound, UserError

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def evaluate_schedule(frame: pd.DataFrame, *, date_col: str, score_col: str, label_col: str) -> dict[str, Any]:
    """Re-order a history by score within its own calendar and measure how much earlier positives are found.

    Args:
        frame: one row per historical inspection.
        date_col: inspection date column.
        score_col: model score (higher = inspect sooner); missing scores go last.
        label_col: 1/True when the inspection found a positive (adverse finding), else 0/False.

    Returns:
        inspections, positives, days_earlier_mean, days_earlier_quantiles, share_found_earlier,
        first_half_share_actual, first_half_share_model, period_start, period_end.
    """
    missing = [c for c in (date_col, score_col, label_col) if c not in frame.columns]
    if missing:
        raise UserError(f"history lacks columns {missing}; it has {list(frame.columns)}")
    if frame.empty:
        raise UserError("history is empty: expected at least one inspection")
    dates = pd.to_datetime(frame[date_col], errors="coerce")
    if dates.isna().any():
        bad = frame.loc[dates.isna(), date_col].iloc[0]
        raise UserError(f"column {date_col}: expected dates, got {bad!r} (and {int(dates.isna().sum()) - 1} more)")
    label = _labels(frame[label_col], label_col)
    score = pd.to_numeric(frame[score_col], errors="coerce")
    if score.isna().all():
        raise UserError(f"column {score_col}: expected numeric scores, got none")

    days = dates.dt.normalize().to_numpy(dtype="datetime64[D]")
    hist_order = np.lexsort((np.arange(len(days)), days))  # chronological, stable
    slots = days[hist_order]  # the calendar: sorted dates, one slot per inspection
    rank_pos = np.empty(len(days), dtype=int)
    rank_pos[hist_order] = np.arange(len(days))  # historical position of each row
    s = score.fillna(-np.inf).to_numpy(dtype=float)
    model_order = np.lexsort((rank_pos, -s))  # highest score first, ties keep history
    new_day = np.empty(len(days), dtype="datetime64[D]")
    new_day[model_order] = slots

    pos = label.to_numpy(dtype=bool)
    earlier = (days[pos] - new_day[pos]).astype(int)
    start, end = slots[0], slots[-1]
    half = (end - start).astype(int) / 2.0
    first_actual = ((days[pos] - start).astype(int) < half) if half > 0 else np.zeros(int(pos.sum()), bool)
    first_model = ((new_day[pos] - start).astype(int) < half) if half > 0 else np.zeros(int(pos.sum()), bool)
    n_pos = int(pos.sum())
    return {
        "inspections": int(len(frame)),
        "positives": n_pos,
        "days_earlier_mean": round(float(earlier.mean()), 3) if n_pos else None,
        "days_earlier_quantiles": ({f"p{int(q * 100)}": float(np.quantile(earlier, q)) for q in QUANTILES}
                                   if n_pos else {}),
        "share_found_earlier": round(float((earlier > 0).mean()), 4) if n_pos else None,
        "share_found_later": round(float((earlier < 0).mean()), 4) if n_pos else None,
        "first_half_share_actual": round(float(first_actual.mean()), 4) if n_pos else None,
        "first_half_share_model": round(float(first_model.mean()), 4) if n_pos else None,
        "period_start": str(start), "period_end": str(end),
        "columns": {"date": date_col, "score": score_col, "label": label_col},
    }


def evaluate_schedule_file(path: str | Path, *, date_col: str, score_col: str, label_col: str) -> dict[str, Any]:
    """Read a Parquet (or CSV) inspection history and run :func:`evaluate_schedule` on it."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"history file {path} does not exist")
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path, columns=None)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
    else:
        raise UserError(f"history must be a .parquet or .csv file, got {path.name}")
    out = evaluate_schedule(frame, date_col=date_col, score_col=score_col, label_col=label_col)
    out["table"] = str(path)
    return out


def _labels(col: pd.Series, name: str) -> pd.Series:
    if col.dtype == bool:
        return col
    if col.isna().any():
        raise UserError(f"column {name}: expected 0/1 or true/false labels, got a missing value")
    text = col.astype(str).str.strip().str.lower()
    mapping = {"1": True, "0": False, "true": True, "false": False, "1.0": True, "0.0": False}
    bad = text[~text.isin(mapping)]
    if len(bad):
        raise UserError(f"column {name}: expected 0/1 or true/false labels, got {col[bad.index[0]]!r}")
    return text.map(mapping).astype(bool)
