"""Tier policy: calibrated probabilities → risk classes A/B/C/D by target shares or PD bands, per population."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core import rules
from core import tiers as core_tiers


def _cutoffs(kind: str, p: np.ndarray, shares: dict[str, float] | None, bands: dict[str, float] | None,
             codes: tuple[str, ...]) -> np.ndarray:
    if kind == "target_shares":
        shares = shares or {}
        missing = [c for c in codes if c not in shares]
        if missing:
            raise ValueError(f"target shares must name every class {codes}, missing {missing}")
        total = sum(shares[c] for c in codes)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"target shares must add up to 1, got {total:.4f}")
        if p.size == 0:
            raise ValueError("expected probabilities to fit target shares, got none")
        out = np.quantile(p, np.cumsum([shares[c] for c in codes])[:-1]).astype(float)
    elif kind == "pd_bands":
        bands = bands or {}
        want = codes[:-1]
        if [c for c in want if c not in bands]:
            raise ValueError(f"PD bands must give an upper bound for {want}, got {sorted(bands)}")
        out = np.array([float(bands[c]) for c in want])
    else:
        raise ValueError(f"tier policy kind must be target_shares or pd_bands, got {kind!r}")
    if np.any(np.diff(out) < 0):
        raise ValueError(f"tier cut-offs must not decrease, got {out.tolist()}")
    return out


class TierPolicy:
    """Cut calibrated probabilities into tiers (scikit-learn style: constructor stores, ``fit`` works).

    ``kind="target_shares"`` places the cut-offs at the quantiles that give each class its target
    share of ``p``; ``kind="pd_bands"`` uses fixed upper probability bounds. ``cutoffs_`` holds the
    upper bound of every class but the last, in class order, fitted on all rows.

    With ``populations`` (enterprises, individual businesses, cooperatives: rows of core/rules/tiers.toml
    ``[[population]]``), ``fit(p, entity_types)`` also fits each population's own cut-offs on its own rows
    with its own shares or bands (``population_cutoffs_``), and ``predict(p, entity_types)`` applies them.
    A population with fewer than ``min_rows`` rows keeps the overall cut-offs.

    ``fit_typical(frame)`` records, per population, what its reporting rows typically disclose (``typical_``)
    for the missingness guard of training.model (core/rules/tiers.toml ``[missingness]``).
    """

    def __init__(self, *, kind: str = "target_shares", shares: dict[str, float] | None = None,
                 bands: dict[str, float] | None = None, codes: tuple[str, ...] | None = None,
                 populations: list[dict[str, Any]] | None = None, min_rows: int = 1,
                 missingness: dict[str, list[str]] | None = None) -> None:
        self.kind = kind
        self.shares = shares
        self.bands = bands
        self.codes = codes
        self.populations = populations
        self.min_rows = min_rows
        self.missingness = missingness

    @classmethod
    def from_rules(cls, *, kind: str | None = None) -> TierPolicy:
        """The policy of core/rules/tiers.toml (``kind`` overrides the configured one)."""
        table = rules.load("tiers")
        policy = table["policy"]
        pops = [{"code": p["code"], "zh": p["zh"], "en": p["en"], "entity_types": list(p["entity_types"]), "default": bool(p.get("default")),
                 "shares": dict(p["target_shares"]), "bands": dict(p["pd_bands"]),
                 "missingness_cap": p.get("missingness_cap")}
                for p in table.get("population", [])]
        miss = table.get("missingness", {})
        return cls(kind=kind or policy["kind"], shares=dict(policy["target_shares"]),
                   bands=dict(policy["pd_bands"]), codes=core_tiers.codes(), populations=pops or None,
                   min_rows=int(policy["min_rows_per_population"]),
                   missingness={"features": list(miss.get("features", [])),
                                "absent_flags": list(miss.get("absent_flags", []))})

    def _codes(self) -> tuple[str, ...]:
        return tuple(self.codes) if self.codes else core_tiers.codes()

    def population_of(self, entity_types: Any) -> np.ndarray:
        """The population code of each entity type (the default population for unknown or missing types)."""
        pops = self.populations or []
        default = next((p["code"] for p in pops if p.get("default")), pops[0]["code"] if pops else "all")
        lookup = {t: p["code"] for p in pops for t in p["entity_types"]}
        values = np.asarray(entity_types, dtype=object)
        return np.array([lookup.get(v, default) if isinstance(v, str) else default for v in values], dtype=object)

    def fit(self, p: np.ndarray, entity_types: Any = None) -> TierPolicy:
        """Compute ``cutoffs_`` from calibrated probabilities ``p`` (and per population, given entity types)."""
        codes = self._codes()
        p = np.asarray(p, dtype=float)
        self.cutoffs_ = _cutoffs(self.kind, p, self.shares, self.bands, codes)
        self.codes_ = codes
        self.population_cutoffs_: dict[str, np.ndarray] = {}
        self.population_rows_: dict[str, int] = {}
        if self.populations and entity_types is not None:
            pop = self.population_of(entity_types)
            for spec in self.populations:
                m = pop == spec["code"]
                self.population_rows_[spec["code"]] = int(m.sum())
                if self.kind == "pd_bands" or m.sum() >= max(self.min_rows, 1):
                    self.population_cutoffs_[spec["code"]] = _cutoffs(
                        self.kind, p[m], spec.get("shares"), spec.get("bands"), codes)
        return self

    def fit_typical(self, frame: Any) -> TierPolicy:
        """Medians of the missingness features over each population's rows that lack no data."""
        miss = self.missingness or {}
        cols = [c for c in miss.get("features", []) if c in frame.columns]
        self.typical_: dict[str, dict[str, float]] = {}
        if not cols or not self.populations or "entity_type" not in frame.columns:
            return self
        flags = [c for c in miss.get("absent_flags", []) if c in frame.columns]
        complete = ~(frame[flags].fillna(0).to_numpy(dtype=float) == 1).any(axis=1) if flags else np.ones(len(frame), bool)
        pop = self.population_of(frame["entity_type"].astype("object").to_numpy())
        for spec in self.populations:
            if not spec.get("missingness_cap"):
                continue
            rows = frame[(pop == spec["code"]) & complete]
            rows = rows if len(rows) else frame[complete]
            med = rows[cols].apply(lambda s: pd.to_numeric(s, errors="coerce")).median()
            self.typical_[spec["code"]] = {c: float(v) for c, v in med.items() if v == v}
        return self

    def lacking(self, frame: Any) -> np.ndarray:
        """Rows that lack data: a missingness feature absent (NaN) or an absence flag set."""
        miss = self.missingness or {}
        cols = [c for c in miss.get("features", []) if c in frame.columns]
        if not cols:
            return np.zeros(len(frame), dtype=bool)
        values = frame[cols].apply(lambda s: pd.to_numeric(s, errors="coerce")).to_numpy(dtype=float)
        out = np.isnan(values).any(axis=1)
        for c in miss.get("absent_flags", []):
            if c in frame.columns:
                out |= pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) == 1
        return out

    def predict(self, p: np.ndarray, entity_types: Any = None) -> np.ndarray:
        """Tier code per probability: the first class whose upper bound (of the row's population) is ≥ p."""
        if not hasattr(self, "cutoffs_"):
            raise ValueError("TierPolicy is not fitted; call fit(p) first")
        p = np.asarray(p, dtype=float)
        idx = np.searchsorted(self.cutoffs_, p, side="left")
        if self.population_cutoffs_ and entity_types is not None:
            pop = self.population_of(entity_types)
            for code, cut in self.population_cutoffs_.items():
                m = pop == code
                idx[m] = np.searchsorted(cut, p[m], side="left")
        return np.asarray(self.codes_, dtype=object)[idx]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shares": self.shares, "bands": self.bands,
                "codes": list(self.codes_), "cutoffs": [float(c) for c in self.cutoffs_],
                "missingness": self.missingness,
                "populations": [{**spec, "rows": self.population_rows_.get(spec["code"], 0),
                                 "typical": getattr(self, "typical_", {}).get(spec["code"]),
                                 "cutoffs": ([float(c) for c in self.population_cutoffs_[spec["code"]]]
                                             if spec["code"] in self.population_cutoffs_ else None)}
                                for spec in (self.populations or [])]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TierPolicy:
        """A fitted policy from :meth:`to_dict` output (bundles without populations have one set of cut-offs)."""
        pops = data.get("populations") or []
        policy = cls(kind=data["kind"], shares=data.get("shares"), bands=data.get("bands"),
                     codes=tuple(data["codes"]), populations=[
                         {k: v for k, v in p.items() if k not in ("rows", "cutoffs", "typical")} for p in pops] or None,
                     missingness=data.get("missingness"))
        policy.cutoffs_ = np.asarray(data["cutoffs"], dtype=float)
        if len(policy.cutoffs_) != len(policy.codes) - 1:
            raise ValueError(f"expected {len(policy.codes) - 1} tier cut-offs, got {len(policy.cutoffs_)}")
        policy.codes_ = tuple(data["codes"])
        policy.population_cutoffs_ = {p["code"]: np.asarray(p["cutoffs"], dtype=float)
                                      for p in pops if p.get("cutoffs") is not None}
        policy.population_rows_ = {p["code"]: int(p.get("rows", 0)) for p in pops}
        policy.typical_ = {p["code"]: p["typical"] for p in pops if p.get("typical")}
        return policy
