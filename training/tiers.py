"""Tier policy: calibrated probabilities → risk classes A/B/C/D by target shares or PD bands."""

from __future__ import annotations

from typing import Any

import numpy as np

from core import rules
from core import tiers as core_tiers


class TierPolicy:
    """Cut calibrated probabilities into tiers (scikit-learn style: constructor stores, ``fit`` works).

    ``kind="target_shares"`` places the cut-offs at the quantiles that give each class its target
    share of ``p``; ``kind="pd_bands"`` uses fixed upper probability bounds. ``cutoffs_`` holds the
    upper bound of every class but the last, in class order.
    """

    def __init__(self, *, kind: str = "target_shares", shares: dict[str, float] | None = None,
                 bands: dict[str, float] | None = None, codes: tuple[str, ...] | None = None) -> None:
        self.kind = kind
        self.shares = shares
        self.bands = bands
        self.codes = codes

    @classmethod
    def from_rules(cls, *, kind: str | None = None) -> TierPolicy:
        """The policy of core/rules/tiers.toml (``kind`` overrides the configured one)."""
        policy = rules.load("tiers")["policy"]
        return cls(kind=kind or policy["kind"], shares=dict(policy["target_shares"]),
                   bands=dict(policy["pd_bands"]), codes=core_tiers.codes())

    def _codes(self) -> tuple[str, ...]:
        return tuple(self.codes) if self.codes else core_tiers.codes()

    def fit(self, p: np.ndarray) -> TierPolicy:
        """Compute ``cutoffs_`` from calibrated probabilities ``p`` (ignored for PD bands)."""
        codes = self._codes()
        if self.kind == "target_shares":
            shares = self.shares or {}
            missing = [c for c in codes if c not in shares]
            if missing:
                raise ValueError(f"target shares must name every class {codes}, missing {missing}")
            total = sum(shares[c] for c in codes)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"target shares must add up to 1, got {total:.4f}")
            p = np.asarray(p, dtype=float)
            if p.size == 0:
                raise ValueError("expected probabilities to fit target shares, got none")
            cum = np.cumsum([shares[c] for c in codes])[:-1]
            self.cutoffs_ = np.quantile(p, cum).astype(float)
        elif self.kind == "pd_bands":
            bands = self.bands or {}
            want = codes[:-1]
            if [c for c in want if c not in bands]:
                raise ValueError(f"PD bands must give an upper bound for {want}, got {sorted(bands)}")
            self.cutoffs_ = np.array([float(bands[c]) for c in want])
        else:
            raise ValueError(f"tier policy kind must be target_shares or pd_bands, got {self.kind!r}")
        if np.any(np.diff(self.cutoffs_) < 0):
            raise ValueError(f"tier cut-offs must not decrease, got {self.cutoffs_.tolist()}")
        self.codes_ = codes
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        """Tier code per probability: the first class whose upper bound is ≥ p."""
        if not hasattr(self, "cutoffs_"):
            raise ValueError("TierPolicy is not fitted; call fit(p) first")
        idx = np.searchsorted(self.cutoffs_, np.asarray(p, dtype=float), side="left")
        return np.asarray(self.codes_, dtype=object)[idx]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shares": self.shares, "bands": self.bands,
                "codes": list(self.codes_), "cutoffs": [float(c) for c in self.cutoffs_]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TierPolicy:
        """A fitted policy from :meth:`to_dict` output."""
        policy = cls(kind=data["kind"], shares=data.get("shares"), bands=data.get("bands"),
                     codes=tuple(data["codes"]))
        policy.cutoffs_ = np.asarray(data["cutoffs"], dtype=float)
        if len(policy.cutoffs_) != len(policy.codes) - 1:
            raise ValueError(f"expected {len(policy.codes) - 1} tier cut-offs, got {len(policy.cutoffs_)}")
        policy.codes_ = tuple(data["codes"])
        return policy
