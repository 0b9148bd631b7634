"""The scoring model: booster, calibrator, tier cut-offs and feature list, loaded once and scored fast.

A model is a bundle folder: ``model.json`` (kind, features with their dimension and categories,
calibrator, tier policy, schema hash, training window, metrics) and, for ``kind = "lightgbm"``,
``booster.txt`` (LightGBM text model); a ``kind = "logistic"`` model keeps its coefficients in
``model.json`` (:mod:`training.linear`). Both kinds score, explain and tier through the same interface.
The same bundle is logged to the MLflow registry and exported under ``settings.models_dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import NotFound, UserError
from core.settings import Settings, apply_offline_env
from training import calibrate
from training.tiers import TierPolicy

log = logging.getLogger(__name__)
MODEL_NAME = "enterprise-credit-risk"
CHAMPION = "champion"
BUNDLE_FORMAT = 1
MAX_REASONS = 3
KINDS = ("lightgbm", "logistic")
# Above this many rows score() walks the trees with the numba evaluator instead of LightGBM; above
# NATIVE_MIN_ROWS with trees compiled to C (built once per model and cached: worth it for big batches;
# once built, the C trees also serve every batch from FAST_PATH_MIN_ROWS up).
FAST_PATH_MIN_ROWS = 2000
NATIVE_MIN_ROWS = 500_000


def schema_hash(features: list[dict[str, Any]]) -> str:
    """A short hash of the feature list (names, kinds, categories, order) a model expects."""
    spec = [[f["name"], f.get("kind", "numeric"), f.get("categories") or []] for f in features]
    return hashlib.sha256(json.dumps(spec, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def to_matrix(frame: pd.DataFrame, features: list[dict[str, Any]]) -> np.ndarray:
    """The float matrix the booster sees: numeric columns as floats, categoricals as training codes.

    Unknown categories and missing values become NaN, as LightGBM does for pandas categoricals.
    """
    return _Encoder(features)(frame)


class _Encoder:
    """Turns frames into booster matrices; built once per model so single rows stay cheap.

    :meth:`columns` gives one float64 array per feature (a float64 column is the frame's own array, which
    the compiled C trees read in place); calling the encoder writes them into one C-order matrix.
    Categoricals go through ``pd.factorize`` (a category column's own codes), so only the distinct values
    are looked up, never one Python object per row.
    """

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.names = [f["name"] for f in features]
        self.numeric = [j for j, f in enumerate(features) if f.get("kind") != "categorical"]
        self.categorical = []
        for j, f in enumerate(features):
            if f.get("kind") == "categorical":
                text = [str(c) for c in f.get("categories") or []]
                self.categorical.append((j, f["name"], pd.Index(text, dtype=object),
                                         {c: float(i) for i, c in enumerate(text)}))
        self.fills = [(j, float(f["missing_as"])) for j, f in enumerate(features) if f.get("missing_as") is not None]

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        cols = self.columns(frame)
        out = np.empty((len(frame), len(self.names)), dtype=np.float64)
        for j, col in enumerate(cols):
            out[:, j] = col
        return out

    def columns(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """The matrix's columns, one float64 array per feature: a float64 column of the frame is its own
        array (read, never written: a declared missing value is filled in a copy), the rest are converted."""
        cols = frame.columns
        missing = [n for n in self.names if n not in cols]
        if missing:
            raise UserError(f"scoring frame lacks {len(missing)} feature column(s) the model expects: "
                            f"{missing[:10]}")
        out: list[np.ndarray] = [np.empty(0)] * len(self.names)
        for j in self.numeric:
            col = frame[self.names[j]]
            try:
                out[j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            except (ValueError, TypeError):
                try:
                    out[j] = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
                except (ValueError, TypeError) as exc:
                    raise UserError(f"feature {self.names[j]!r} must be numeric, got values such as "
                                    f"{col.dropna().astype(str).head(3).tolist()}") from exc
        small = len(frame) < _SMALL_FRAME
        for j, name, index, lookup in self.categorical:
            out[j] = _few_category_codes(frame[name], lookup) if small else _category_codes(frame[name], index)
        for j, value in self.fills:  # declared meaning of a missing value (e.g. "never happened")
            gap = np.isnan(out[j])
            if gap.any():
                out[j] = np.where(gap, value, out[j])
        return out


_SMALL_FRAME = 64  # below this many rows a plain look-up per value beats factorize's fixed cost (single rows)


def _few_category_codes(col: pd.Series, lookup: dict[str, float]) -> np.ndarray:
    """As :func:`_category_codes`, value by value through a dict (for a handful of rows)."""
    out = np.full(len(col), np.nan)
    for i, v in enumerate(col.to_numpy(dtype=object)):
        if v is None or v is pd.NA or v != v:
            continue
        hit = lookup.get(str(v))
        if hit is None and isinstance(v, float | np.floating) and float(v).is_integer():
            hit = lookup.get(str(int(v)))
        if hit is not None:
            out[i] = hit
    return out


def _category_codes(col: pd.Series, index: pd.Index) -> np.ndarray:
    """Training codes (as floats) of a column's values by their text; unknown and missing values are NaN."""
    codes, uniques = pd.factorize(col)  # missing values get -1; a category column keeps its own codes
    values = np.asarray(uniques, dtype=object)
    known = index.get_indexer(pd.Index([str(v) for v in values], dtype=object)).astype(np.float64)
    for i in np.flatnonzero(known < 0):  # 3.0 read back from a float column is the category "3"
        v = values[i]
        if isinstance(v, float | np.floating) and float(v).is_integer():
            known[i] = index.get_indexer([str(int(v))])[0]
    known[known < 0] = np.nan
    return np.append(known, np.nan)[codes]  # code -1 picks the trailing NaN


class ScoringModel:
    """A trained model ready to score: ``score(frame) -> DataFrame[uscc, probability, tier, reasons]``.

    Load it once (:meth:`load` from the registry, :meth:`load_local` from an export) and reuse it.
    """

    def __init__(self, *, booster_text: str | None, meta: dict[str, Any]) -> None:
        if meta.get("format") != BUNDLE_FORMAT:
            raise UserError(f"expected model bundle format {BUNDLE_FORMAT}, got {meta.get('format')!r}")
        self.kind = meta.get("kind", "lightgbm")
        if self.kind not in KINDS:
            raise UserError(f"expected a model kind in {KINDS}, got {self.kind!r}")
        self.meta = meta
        self.booster_text = booster_text
        self.booster = None
        self.linear = None
        if self.kind == "lightgbm":
            import lightgbm as lgb

            if not booster_text:
                raise UserError("a lightgbm model bundle needs its booster text, got none")
            self.booster = lgb.Booster(model_str=booster_text)
        else:
            from training.linear import LinearModel

            self.linear = LinearModel.from_dict(meta["linear"])
        self.features: list[dict[str, Any]] = meta["features"]
        self._encode = _Encoder(self.features)
        self._dims = list(dict.fromkeys(f["dimension"] for f in self.features))
        self._dim_matrix = np.zeros((len(self.features), len(self._dims)))
        for i, f in enumerate(self.features):
            self._dim_matrix[i, self._dims.index(f["dimension"])] = 1.0
        self.policy = TierPolicy.from_dict(meta["tier_policy"])
        self._compiled = None
        self._compiled_tried = False
        self._native = None
        self._native_tried = False

    # --- attributes of the interface -------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.meta.get("version") or "unregistered")

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.features]

    @property
    def schema_hash(self) -> str:
        return self.meta["schema_hash"]

    @property
    def training_window(self) -> dict[str, Any]:
        return self.meta.get("training_window", {})

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    @property
    def id_col(self) -> str:
        return self.meta.get("id_col", "uscc")

    @property
    def cutoffs(self) -> list[float]:
        return [float(c) for c in self.policy.cutoffs_]

    def __repr__(self) -> str:
        return f"ScoringModel(version={self.version!r}, features={len(self.features)}, schema={self.schema_hash})"

    # --- scoring ---------------------------------------------------------------------------------
    def raw_predict(self, x: np.ndarray) -> np.ndarray:
        """Uncalibrated probabilities for a feature matrix (compiled trees for large batches)."""
        if self.linear is not None:
            return self.linear.predict(x)
        native = self._native_for(len(x))
        if native is not None:
            return native.predict(x)
        if len(x) >= FAST_PATH_MIN_ROWS:
            compiled = self.compiled()
            if compiled is not None:
                return compiled.predict(x)
        return self.booster.predict(x, num_threads=1 if len(x) < FAST_PATH_MIN_ROWS else 0)

    def _native_for(self, rows: int):
        """The C trees when a batch of ``rows`` is scored with them (LightGBM's bits, raw and probability)."""
        if self.booster is not None and (rows >= NATIVE_MIN_ROWS or (self._native is not None
                                                                      and rows >= FAST_PATH_MIN_ROWS)):
            return self.native()
        return None

    def _raw_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probabilities for a frame: the C trees read its columns in place (no matrix)."""
        native = self._native_for(len(frame)) if self.linear is None else None
        if native is not None:
            return native.predict_columns(self._encode.columns(frame))
        return self.raw_predict(self._encode(frame))

    def compiled(self):
        """The compiled tree evaluator for this booster, or None when numba is unavailable (or no trees)."""
        if not self._compiled_tried and self.booster is not None:
            self._compiled_tried = True
            try:
                from training.compiled import CompiledForest
            except ImportError:  # pragma: no cover - numba missing: LightGBM's own predict is used
                return None
            self._compiled = CompiledForest.from_booster(self.booster)
        return self._compiled

    def native(self):
        """The forest compiled to C (built and cached on first use), or None without a C compiler (or trees)."""
        if not self._native_tried and self.booster is not None:
            self._native_tried = True
            from training import native

            if native.available():
                try:
                    self._native = native.NativeForest.from_booster(self.booster)
                except (OSError, subprocess.SubprocessError) as exc:  # pragma: no cover - broken toolchain
                    log.warning("compiling the trees to C failed (%s); using the numba evaluator", exc)
        return self._native

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of an adverse event in the label horizon, one per row."""
        return calibrate.apply(self.meta.get("calibrator"), self._raw_frame(frame))

    def tiers(self, p: np.ndarray, frame: pd.DataFrame | None = None) -> np.ndarray:
        """Tier per probability, with the cut-offs of each row's population when ``frame`` gives entity types,
        and the missingness guard: a row of a population with a ``missingness_cap`` is not placed above the
        cap when the same row with its absent data replaced by the population's typical disclosure would not be.
        """
        types = entity_types(frame, self.meta.get("entity_type_feature"))
        out = self.policy.predict(p, types)
        typical = getattr(self.policy, "typical_", {})
        if types is None or not typical:
            return out
        codes = list(self.policy.codes_)
        rank = np.array([codes.index(t) for t in out])
        pop = self.policy.population_of(types)
        lacking = self.policy.lacking(frame)
        for spec in self.policy.populations or []:
            cap, fill = spec.get("missingness_cap"), typical.get(spec["code"])
            if not cap or not fill:
                continue
            m = np.flatnonzero((pop == spec["code"]) & (rank > codes.index(cap)) & lacking)
            if not len(m):
                continue
            rows = frame.iloc[m].copy()
            for col, value in fill.items():
                if col in rows.columns:
                    v = pd.to_numeric(rows[col], errors="coerce")
                    absent = v.isna() | ((v == 1) & (col in self.policy.missingness.get("absent_flags", [])))
                    rows[col] = v.where(~absent, value)
            disclosed = self.policy.predict(self.predict_proba(rows), types[m])
            out[m[np.array([codes.index(t) <= codes.index(cap) for t in disclosed])]] = cap
        return out

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row contributions (log-odds) summed by dimension (path attribution on the compiled trees)."""
        x = self._encode(frame)
        return pd.DataFrame(self._dim_contrib(x), columns=self._dims, index=frame.index)

    def _feature_contrib(self, x: np.ndarray) -> np.ndarray:
        # Path attribution on the compiled forest costs one prediction; LightGBM's TreeSHAP
        # (pred_contrib) costs ~1 ms a row and dominated publication time. Both sum to the raw score.
        compiled = self.compiled()
        if self.linear is not None:
            contrib = self.linear.contributions(x)
        elif compiled is not None:
            contrib = compiled.contributions(x)
        else:  # pragma: no cover - numba missing
            contrib = self.booster.predict(x, pred_contrib=True, num_threads=1 if len(x) < 1000 else 0)
        return contrib[:, :-1]

    def _dim_contrib(self, x: np.ndarray) -> np.ndarray:
        return self._feature_contrib(x) @ self._dim_matrix

    def reasons(self, frame: pd.DataFrame, *, top: int = MAX_REASONS) -> list[list[dict[str, Any]]]:
        """Top risk-raising dimensions per row: ``[{dimension, zh, en, contribution, feature}, ...]``."""
        return self._reasons(self._encode(frame), top=top)

    def _display(self, j: int, value: float) -> Any:
        f = self.features[j]
        if value != value:  # NaN
            return None
        if f.get("kind") == "categorical":
            cats = f.get("categories") or []
            return str(cats[int(value)]) if 0 <= int(value) < len(cats) else None
        return round(float(value), 4)

    def _reasons(self, x: np.ndarray, *, top: int = MAX_REASONS) -> list[list[dict[str, Any]]]:
        """Each reason names its dimension and the feature that raised it most (``feature``: name, zh, en,
        value), so that a reason can point at something concrete even where no record is at hand."""
        labels = self.meta.get("dimensions", {})
        names = self._dims
        fc = self._feature_contrib(x)
        values = fc @ self._dim_matrix
        members = [np.flatnonzero(self._dim_matrix[:, j]) for j in range(len(names))]
        order = np.argsort(-values, axis=1, kind="stable")[:, :top]
        out = []
        for i in range(len(values)):
            row = []
            for j in order[i]:
                v = float(values[i, j])
                if v <= 0:
                    break
                zh, en = labels.get(names[j], (names[j], names[j]))
                k = int(members[j][np.argmax(fc[i, members[j]])])
                f = self.features[k]
                row.append({"dimension": names[j], "zh": zh, "en": en, "contribution": round(v, 4),
                            "feature": {"name": f["name"], "zh": f.get("zh", f["name"]), "en": f.get("en", f["name"]),
                                        "value": self._display(k, x[i, k])}})
            out.append(row)
        return out

    def score(self, frame: pd.DataFrame, *, reasons: bool = True) -> pd.DataFrame:
        """Score entities: ``uscc`` (or the model's id column), ``probability``, ``tier``, ``reasons``."""
        if self.id_col not in frame.columns:
            raise UserError(f"scoring frame needs an id column {self.id_col!r}; got columns {list(frame.columns)[:10]}")
        x = self._encode(frame) if reasons else None
        p = calibrate.apply(self.meta.get("calibrator"), self._raw_frame(frame) if x is None else self.raw_predict(x))
        cols: dict[str, Any] = {self.id_col: frame[self.id_col].to_numpy(), "probability": p,
                                "tier": self.tiers(p, frame)}
        if reasons:
            cols["reasons"] = self._reasons(x) if len(frame) else []
        return pd.DataFrame(cols)

    def feature_importance(self) -> np.ndarray:
        """Per feature: total split gain (trees) or mean absolute centred term (logistic)."""
        if self.linear is not None:
            return self.linear.importance_
        return self.booster.feature_importance(importance_type="gain")

    # --- persistence -----------------------------------------------------------------------------
    def export_local(self, path: str | Path) -> Path:
        """Write the bundle (``model.json``, and ``booster.txt`` for trees) to the folder ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.booster_text:
            (path / "booster.txt").write_text(self.booster_text, encoding="utf-8")
        (path / "model.json").write_text(json.dumps(self.meta, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load_local(cls, path: str | Path) -> ScoringModel:
        """Load a bundle folder written by :meth:`export_local` (or downloaded from the registry)."""
        path = Path(path)
        if not (path / "model.json").is_file():
            raise NotFound(f"no model bundle at {path} (expected model.json)")
        meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
        booster = path / "booster.txt"
        if meta.get("kind", "lightgbm") == "lightgbm" and not booster.is_file():
            raise NotFound(f"no model bundle at {path} (expected model.json and booster.txt)")
        return cls(booster_text=booster.read_text(encoding="utf-8") if booster.is_file() else None, meta=meta)

    @classmethod
    def load(cls, settings: Settings, ref: str | int = CHAMPION) -> ScoringModel:
        """Load a registered version of ``enterprise-credit-risk``: ``ref`` is an alias or a version number."""
        apply_offline_env()
        from training import registry

        version = registry.resolve(settings, ref)
        with tempfile.TemporaryDirectory() as tmp:
            folder = registry.download(settings, version, tmp)
            model = cls.load_local(folder)
        model.meta["version"] = str(version.version)
        return model


def entity_types(frame: pd.DataFrame | None, feature: str | None = None) -> np.ndarray | None:
    """The entity type of each row: the ``entity_type`` column, else the model feature that carries it
    (``feature``, found at training: e.g. ``entity_type_cat``, so that a live feature record gets its
    population's cut-offs), else None."""
    if frame is None:
        return None
    for col in ("entity_type", feature):
        if col and col in frame.columns:
            return frame[col].astype("object").to_numpy()
    return None


def entity_type_feature(frame: pd.DataFrame, features: list[dict[str, Any]]) -> str | None:
    """The categorical feature equal to the ``entity_type`` column on every row of ``frame``, if any."""
    if "entity_type" not in frame.columns or frame.empty:
        return None
    et = frame["entity_type"].astype("object").to_numpy()
    for f in features:
        if (f.get("kind") == "categorical" and f["name"] in frame.columns
                and (frame[f["name"]].astype("object").to_numpy() == et).all()):
            return f["name"]
    return None


def champion_path(settings: Settings) -> Path:
    """Where the champion's local export lives (``settings.models_dir / "champion"``)."""
    return settings.models_dir / CHAMPION
