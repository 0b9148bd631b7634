"""The district's simulation parameters (synth/district.toml) and small date helpers."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property
from pathlib import Path

import numpy as np

from core import rules

ENTERPRISE_TYPES = ("limited_company", "joint_stock", "sole_proprietorship", "partnership",
                    "cooperative", "branch", "foreign_invested")
ALL_TYPES = (*ENTERPRISE_TYPES, "individual")
SIZE_BANDS = ("micro", "small", "medium", "large")
DAY = np.timedelta64(1, "D")
NAT = np.datetime64("NaT", "D")
_MARGIN = 240  # months before and after the frame covered by the month-start table


@cache
def district() -> dict:
    """The parsed district table (synth/district.toml)."""
    return tomllib.loads((Path(__file__).parent / "district.toml").read_text(encoding="utf-8"))


@cache
def publicity() -> dict:
    """Publicity periods and the annual-report season (core/rules/publicity.toml)."""
    return rules.load("publicity")


def penalty_classes_of(pen, entity_type: np.ndarray) -> list:
    """The publicity class (core.publicity.PublicityClass) of each penalty row of ``pen``."""
    from core.publicity import penalty_class

    return [penalty_class(procedure=pr, severity=sv, sanctions=str(sa).split(";"), fine_amount=fa, entity_type=et)
            for pr, sv, sa, fa, et in zip(pen["procedure"], pen["severity"], pen["sanctions"],
                                          pen["fine_amount"].to_numpy(np.float64), entity_type, strict=True)]


@dataclass(frozen=True)
class Frame:
    """The simulated window: ``start`` to ``end`` inclusive, in whole months."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"expected end after start, got start={self.start} end={self.end}")

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    @property
    def d0(self) -> np.datetime64:
        return np.datetime64(self.start.replace(day=1), "D")

    @property
    def d_end(self) -> np.datetime64:
        return np.datetime64(self.end, "D")

    @cached_property
    def _starts(self) -> np.ndarray:
        """First days of months -MARGIN .. months + MARGIN - 1 (a lookup table: month-to-day casts are slow)."""
        m0 = np.datetime64(self.start.replace(day=1), "M")
        return (m0 + np.arange(-_MARGIN, self.months + _MARGIN).astype("timedelta64[M]")).astype("datetime64[D]")

    def month_start(self, t) -> np.ndarray:
        """First day of month index ``t`` (0 = the start month)."""
        t = np.asarray(t)
        if t.size and t.dtype.kind in "iu" and t.min() >= -_MARGIN and t.max() < self.months + _MARGIN:
            return self._starts[t + _MARGIN]
        m0 = np.datetime64(self.start.replace(day=1), "M")
        return (m0 + t.astype("timedelta64[M]")).astype("datetime64[D]")

    def month_of(self, d: np.ndarray) -> np.ndarray:
        """Month index of dates (NaT gives a very large index)."""
        m0 = np.datetime64(self.start.replace(day=1), "M")
        d = np.asarray(d, dtype="datetime64[D]")
        out = (d.astype("datetime64[M]") - m0).astype(np.int64)
        return np.where(np.isnat(d), 1 << 40, out)

    def year_index(self, t: np.ndarray) -> np.ndarray:
        """Calendar year of month index ``t``."""
        return self.start.year + (np.asarray(t) + self.start.month - 1) // 12


def add_months(d: np.ndarray, months) -> np.ndarray:
    """Dates plus whole months, day clipped to 28 where needed (vectorised, NaT-safe)."""
    d = np.asarray(d, dtype="datetime64[D]")
    m = d.astype("datetime64[M]")
    day = (d - m.astype("datetime64[D]")).astype(np.int64)
    nm = m + np.asarray(months).astype("timedelta64[M]")
    return nm.astype("datetime64[D]") + np.minimum(day, 27).astype("timedelta64[D]")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def choice(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=np.float64)
    cum = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(w) - 1)
