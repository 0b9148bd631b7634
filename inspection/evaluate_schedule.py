"""Evaluate a score on an inspection history: same calendar, inspections re-ordered by score.

The historical calendar is kept (the same dates with the same number of inspections per day);
the inspections are re-assigned to those slots in descending score order (ties keep their
historical order, so a tie earns nothing). For each positive: days earlier = historical date −
re-ordered date. "First half" means strictly before the midpoint of the first and last date.

For a bureau to cite the figure, the mean comes with a percentile bootstrap interval (positives
resampled with replacement, seeded) and the paired t-test of historical against re-ordered dates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import NotFound, UserError

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20260101
CONFIDENCE = 0.95


@dataclass(frozen=True)
class ScheduleEvaluation:
    """How much earlier a score finds the positives of an inspection history (see the module docstring)."""

    inspections: int
    positives: int
    period_start: str
    period_end: str
    columns: dict[str, str]
    days_earlier_mean: float | None = None
    days_earlier_ci: tuple[float, float] | None = None  # percentile bootstrap, CONFIDENCE level
    days_earlier_median: float | None = None
    days_earlier_quantiles: dict[str, float] = field(default_factory=dict)
    paired_t: float | None = None  # t statistic of historical vs re-ordered day (positive = earlier)
    paired_p: float | None = None  # two-sided p-value (None when every difference is equal)
    share_found_earlier: float | None = None
    share_found_later: float | None = None
    first_half_share_actual: float | None = None
    first_half_share_model: float | None = None
    bootstrap: dict[str, Any] = field(default_factory=dict)
    table: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_schedule(frame: pd.DataFrame, *, date_col: str, score_col: str, label_col: str,
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> ScheduleEvaluation:
    """Re-order a history by score within its own calendar and measure how much earlier positives are found.

    Args:
        frame: one row per historical inspection.
        date_col: inspection date column.
        score_col: model score (higher = inspect sooner); missing scores go last.
        label_col: 1/True when the inspection found a positive (adverse finding), else 0/False.
        resamples: bootstrap resamples of the positives for the interval of the mean.
        seed: seed of the bootstrap draw.

    Returns:
        A :class:`ScheduleEvaluation`; the per-positive figures are None when there is no positive.
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
    base = {"inspections": int(len(frame)), "positives": n_pos, "period_start": str(start),
            "period_end": str(end), "columns": {"date": date_col, "score": score_col, "label": label_col}}
    if not n_pos:
        return ScheduleEvaluation(**base)
    t, p = _paired_t(earlier.astype(float))
    return ScheduleEvaluation(
        **base,
        days_earlier_mean=round(float(earlier.mean()), 3),
        days_earlier_ci=_bootstrap_mean(earlier, resamples=resamples, seed=seed),
        days_earlier_median=float(np.median(earlier)),
        days_earlier_quantiles={f"p{int(q * 100)}": float(np.quantile(earlier, q)) for q in QUANTILES},
        paired_t=t, paired_p=p,
        share_found_earlier=round(float((earlier > 0).mean()), 4),
        share_found_later=round(float((earlier < 0).mean()), 4),
        first_half_share_actual=round(float(first_actual.mean()), 4),
        first_half_share_model=round(float(first_model.mean()), 4),
        bootstrap={"resamples": resamples, "seed": seed, "confidence": CONFIDENCE, "method": "percentile"},
    )


def _bootstrap_mean(values: np.ndarray, *, resamples: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (positives resampled with replacement)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return round(float(lo), 3), round(float(hi), 3)


def _paired_t(diff: np.ndarray) -> tuple[float | None, float | None]:
    """Paired t-test of historical vs re-ordered day: a one-sample t-test of the differences against 0."""
    from scipy import stats

    if len(diff) < 2 or np.all(diff == diff[0]):
        return None, None
    res = stats.ttest_1samp(diff, 0.0)
    return round(float(res.statistic), 4), float(res.pvalue)


def evaluate_schedule_file(path: str | Path, *, date_col: str, score_col: str,
                           label_col: str) -> ScheduleEvaluation:
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
    return replace(out, table=str(path))


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
