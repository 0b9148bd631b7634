"""Evaluation on the newest temporal slice: discrimination, calibration, tiers, slices, stability, baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.dataset import Dataset
from training.model import ScoringModel

ECE_BINS = 10
PSI_BINS = 10
MIN_SLICE_ROWS = 50
TOP_SLICE_GROUPS = 12


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between the score distributions of events and non-events."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def calibration_table(y: np.ndarray, p: np.ndarray, *, bins: int = ECE_BINS) -> pd.DataFrame:
    """Quantile bins of ``p`` with their mean prediction and observed event rate."""
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    rows = [{"bin": i, "rows": len(g), "mean_p": float(p[g].mean()), "event_rate": float(y[g].mean())}
            for i, g in enumerate(groups) if len(g)]
    return pd.DataFrame(rows)


def ece(y: np.ndarray, p: np.ndarray, *, bins: int = ECE_BINS) -> float:
    """Expected calibration error: row-weighted mean |predicted − observed| over quantile bins."""
    t = calibration_table(y, p, bins=bins)
    return float((t["rows"] * (t["mean_p"] - t["event_rate"]).abs()).sum() / t["rows"].sum())


def psi(expected: np.ndarray, actual: np.ndarray, *, bins: int = PSI_BINS) -> float:
    """Population stability index of ``actual`` against ``expected`` (quantile bins of ``expected``)."""
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = np.clip(e, 1e-6, None), np.clip(a, 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def discrimination(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, KS, Brier score, log-loss and ECE of probabilities ``p`` for outcomes ``y``."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    both = 0 < y.sum() < len(y)
    return {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "ks": ks_statistic(y, p) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-9, 1 - 1e-9), labels=[0, 1])),
        "ece": ece(y, p),
        "event_rate": float(y.mean()),
        "mean_probability": float(p.mean()),
    }


def tier_table(y: np.ndarray, tiers: np.ndarray, codes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Rows, share, events and event rate per tier."""
    out = {}
    for c in codes:
        m = tiers == c
        n = int(m.sum())
        out[c] = {"rows": n, "share": n / len(y) if len(y) else 0.0, "events": int(y[m].sum()),
                  "event_rate": float(y[m].mean()) if n else float("nan")}
    return out


def tiers_rise(table: dict[str, dict[str, float]]) -> bool:
    """True when the event rate rises strictly from each non-empty tier to the next (A<B<C<D)."""
    rates = [v["event_rate"] for v in table.values() if v["rows"]]
    return all(b > a for a, b in zip(rates, rates[1:], strict=False))


def _slice_key(col: str, s: pd.Series) -> pd.Series:
    if col == "industry_code":  # GB/T 4754 division: the first two digits
        return s.astype("object").map(lambda v: str(v)[:2] if v is not None and v == v else "unknown")
    return s.astype("object").where(s.notna(), "unknown").astype(str)


def slices(frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, tiers: np.ndarray, cols: list[str],
           *, top_codes: tuple[str, ...] = ("C", "D")) -> dict[str, list[dict[str, Any]]]:
    """Per group of each descriptive column: rows, event rate, mean probability, AUC, share in C/D and D."""
    from sklearn.metrics import roc_auc_score

    out: dict[str, list[dict[str, Any]]] = {}
    for col in cols:
        keys = _slice_key(col, frame[col]).to_numpy()
        groups = pd.Series(keys).value_counts()
        rows = []
        for g, n in groups.head(TOP_SLICE_GROUPS).items():
            if n < MIN_SLICE_ROWS:
                continue
            m = keys == g
            yy, pp = y[m], p[m]
            rows.append({"group": g, "rows": int(n), "events": int(yy.sum()), "event_rate": float(yy.mean()),
                         "mean_probability": float(pp.mean()),
                         "auc": float(roc_auc_score(yy, pp)) if 0 < yy.sum() < n else None,
                         "share_cd": float(np.isin(tiers[m], top_codes).mean()),
                         "share_d": float((tiers[m] == top_codes[-1]).mean())})
        out[col] = rows
    return out


POPULATION_COLS = ("population", "entity_type", "size_band")


def population_tiers(frame: pd.DataFrame, y: np.ndarray, tiers: np.ndarray, codes: tuple[str, ...], *,
                     population: np.ndarray | None = None,
                     labels: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Tier rates per group of population, entity type and size band: rows, then share and event rate per tier.

    This is where missingness bias would show: a population pushed into C/D by absent data alone.
    """
    cols = {"population": population} if population is not None else {}
    for col in POPULATION_COLS[1:]:
        if col in frame.columns:
            cols[col] = _slice_key(col, frame[col]).to_numpy()
    out: dict[str, list[dict[str, Any]]] = {}
    for col, keys in cols.items():
        rows = []
        for g in sorted(set(keys.tolist())):
            m = keys == g
            name = f"{g} {labels[g]}" if col == "population" and labels and g in labels else g
            row: dict[str, Any] = {"group": name, "rows": int(m.sum()), "event_rate": float(y[m].mean())}
            for c in codes:
                t = m & (tiers == c)
                row[f"share_{c}"] = float(t.sum() / m.sum())
                row[f"event_rate_{c}"] = float(y[t].mean()) if t.any() else None
            rows.append(row)
        out[col] = rows
    return out


def baseline_auc(dataset: Dataset, *, seed: int) -> float:
    """AUC on the test slice of a plain logistic regression on the same features (train slice)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [f["name"] for f in dataset.features if f.get("kind") != "categorical"]
    cat = [f["name"] for f in dataset.features if f.get("kind") == "categorical"]

    def prep(frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[num + cat].copy()
        for c in num:
            x[c] = pd.to_numeric(x[c], errors="coerce").astype(float)
        for c in cat:
            x[c] = x[c].astype("object").where(x[c].notna(), "missing").astype(str).astype(object)
        return x

    steps = []
    if num:
        steps.append(("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                         keep_empty_features=True), StandardScaler()), num))
    if cat:
        steps.append(("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), cat))
    pipe = make_pipeline(ColumnTransformer(steps), LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    tr, te = dataset.part("train"), dataset.part("test")
    pipe.fit(prep(tr), tr[dataset.label_col].to_numpy(int))
    y = te[dataset.label_col].to_numpy(int)
    return float(roc_auc_score(y, pipe.predict_proba(prep(te))[:, 1])) if 0 < y.sum() < len(y) else float("nan")


def ground_truth_aucs(ground_truth: str | Path, frame: pd.DataFrame, y: np.ndarray, *, id_col: str,
                      time_col: str, horizon_months: int) -> dict[str, float]:
    """AUCs of the hidden truth (the ceiling), read from the simulator's ``latent_monthly.parquet`` — only here.

    ``ground_truth_auc``: the simulator's own probability that the label fires (``risk_12m`` at the
    as-of month) — the ceiling; from older ground truth without that column, P(violating at least once
    in the horizon) from the monthly propensities. ``ground_truth_violating_auc``: the share of horizon
    months actually spent violating (an oracle that sees the future state, though not whether the bureau
    detects it).
    """
    import duckdb
    from sklearn.metrics import roc_auc_score

    path = Path(ground_truth)
    path = path / "latent_monthly.parquet" if path.is_dir() else path
    if not path.is_file() and (path.parent / "ground_truth" / "latent_monthly.parquet").is_file():
        path = path.parent / "ground_truth" / "latent_monthly.parquet"
    if not path.is_file() or not 0 < y.sum() < len(y):
        return {}
    pairs = pd.DataFrame({"uscc": frame[id_col].astype(str).to_numpy(),
                          "as_of": pd.to_datetime(frame[time_col]).dt.date, "_row": np.arange(len(frame))})
    con = duckdb.connect()
    try:
        con.register("pairs", pairs)
        source = f"read_parquet('{path.as_posix()}')"
        has_risk = "risk_12m" in {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        at_as_of = "g.month = DATE_TRUNC('month', p.as_of)"
        p_truth = (f"MAX(CASE WHEN {at_as_of} THEN g.risk_12m END)" if has_risk else
                   "1 - EXP(SUM(LN(GREATEST(1e-12, 1 - LEAST(1.0, g.propensity)))) "
                   "FILTER (WHERE g.month > p.as_of))")
        truth = con.execute(f"""
            SELECT p._row, {p_truth} AS p_truth,
                   AVG(CASE WHEN g.violating THEN 1.0 ELSE 0.0 END) FILTER (WHERE g.month > p.as_of)
                       AS violating_share
            FROM pairs p JOIN {source} g
              ON g.uscc = p.uscc AND g.month >= DATE_TRUNC('month', p.as_of)
             AND g.month <= p.as_of + INTERVAL '{horizon_months}' MONTH
            GROUP BY p._row
        """).df().fillna(0.0)
    finally:
        con.close()
    out = {}
    for col, name in (("p_truth", "ground_truth_auc"), ("violating_share", "ground_truth_violating_auc")):
        v = np.zeros(len(frame))
        v[truth["_row"].to_numpy()] = truth[col].to_numpy()
        out[name] = float(roc_auc_score(y, v))
    return out


def importance_by_dimension(model: ScoringModel) -> dict[str, float]:
    """Share of total importance (split gain for trees, mean absolute term for logistic) per dimension."""
    gain = model.feature_importance()
    dims: dict[str, float] = {}
    for f, g in zip(model.features, gain, strict=True):
        dims[f["dimension"]] = dims.get(f["dimension"], 0.0) + float(g)
    total = sum(dims.values()) or 1.0
    return {k: v / total for k, v in sorted(dims.items(), key=lambda kv: -kv[1])}


def importance_by_source(model: ScoringModel) -> dict[str, float]:
    """Share of total importance per source table (features.catalog ``source``; a feature read from several
    tables splits its share equally; a feature outside the catalog counts under its dimension)."""
    from features.catalog import feature as catalog_feature

    gain = model.feature_importance()
    out: dict[str, float] = {}
    for f, g in zip(model.features, gain, strict=True):
        try:
            sources = [t.strip() for t in catalog_feature(f["name"]).source.split(",") if t.strip()]
        except KeyError:
            sources = [f["dimension"]]
        for t in sources:
            out[t] = out.get(t, 0.0) + float(g) / len(sources)
    total = sum(out.values()) or 1.0
    return {k: v / total for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def evaluate(model: ScoringModel, dataset: Dataset, *, champion: ScoringModel | None = None,
             ground_truth: str | Path | None = None, seed: int = 0,
             candidates: dict[str, ScoringModel] | None = None) -> dict[str, Any]:
    """Everything the report, MLflow and the promotion gate need, computed on the test slice.

    Args:
        model: the candidate.
        dataset: the split dataset it was trained on.
        champion: the current champion, compared on the same rows when its features are present.
        ground_truth: the simulator's ground-truth folder (evaluation only), for the ceiling AUC.
        seed: seed of the baseline's solver.
        candidates: every candidate of the training run by kind (the model among them), each shown on the
            test slice; the logistic one is the baseline. Without them a plain logistic regression fitted on
            the train slice is the baseline.
    Returns:
        ``metrics`` (flat floats for MLflow), ``tiers``, ``slices``, ``curves``, ``importance``, ``champion``,
        ``candidates`` (test metrics and fold AUC per kind), ``model_kind``.
    """
    from sklearn.metrics import roc_curve

    te, va = dataset.part("test"), dataset.part("valid")
    y = te[dataset.label_col].to_numpy(int)
    p = model.predict_proba(te)
    tiers = model.tiers(p, te)
    codes = model.policy.codes_
    metrics = discrimination(y, p)
    table = tier_table(y, tiers, codes)
    metrics["tiers_rise"] = float(tiers_rise(table))
    metrics["cd_capture"] = float(y[np.isin(tiers, codes[-2:])].sum() / max(1, y.sum()))
    p_valid = model.predict_proba(va)
    metrics["psi_valid_to_test"] = psi(p_valid, p)
    metrics["valid_auc"] = discrimination(va[dataset.label_col].to_numpy(int), p_valid)["auc"]
    shown = _candidates_on_test(candidates or {model.kind: model}, te, y)
    metrics["baseline_auc"] = (shown["logistic"]["auc"] if "logistic" in shown
                               else baseline_auc(dataset, seed=seed))
    for kind, c in shown.items():
        metrics[f"{kind}_auc"] = c["auc"]
    metrics["beats_baseline"] = float(metrics["auc"] > metrics["baseline_auc"])
    if ground_truth:
        metrics.update(ground_truth_aucs(ground_truth, te, y, id_col=dataset.id_col, time_col=dataset.time_col,
                                         horizon_months=int(dataset.label_info.get("horizon_months", 12))))
    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    result: dict[str, Any] = {
        "metrics": metrics,
        "tiers": table,
        "tier_event_rates": {c: v["event_rate"] for c, v in table.items()},
        "slices": slices(te, y, p, tiers, dataset.slice_cols),
        "population_tiers": population_tiers(te, y, tiers, codes, population=model.policy.population_of(
            te["entity_type"].astype("object").to_numpy()) if "entity_type" in te.columns else None,
            labels={p["code"]: p.get("zh", "") for p in model.policy.populations or []}),
        "curves": {"roc": {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()},
                   "calibration": calibration_table(y, p).to_dict("records"),
                   "valid_vs_test": _hists(p_valid, p)},
        "importance": importance_by_dimension(model),
        "importance_by_source": importance_by_source(model),
        "champion": None,
        "candidates": shown,
        "model_kind": model.kind,
        "test_rows": int(len(te)),
        "window": dataset.window(),
    }
    if champion is not None:
        result["champion"] = compare(champion, te, y, p)
        if result["champion"].get("psi") is not None:
            metrics["psi_vs_champion"] = result["champion"]["psi"]
            metrics["champion_auc_same_slice"] = result["champion"]["auc"]
    return result


def _candidates_on_test(models: dict[str, ScoringModel], te: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """Each candidate's discrimination on the test rows beside its mean fold AUC (validation)."""
    out = {}
    for kind, m in models.items():
        chosen = (m.meta.get("selection") or {}).get("chosen", {}).get(kind, {})
        out[kind] = {**discrimination(y, m.predict_proba(te)), "cv_auc": chosen.get("auc"),
                     "params": chosen.get("params"), "registered": kind == (m.meta.get("selection") or {}).get(
                         "winner", kind)}
    return out


def _hists(before: np.ndarray, after: np.ndarray) -> dict[str, list]:
    edges = np.linspace(0, max(before.max(), after.max(), 1e-9), 21)
    return {"edges": edges.tolist(), "valid": np.histogram(before, bins=edges)[0].tolist(),
            "test": np.histogram(after, bins=edges)[0].tolist()}


def compare(champion: ScoringModel, frame: pd.DataFrame, y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """The champion scored on the candidate's test rows: its AUC/ECE there and the PSI between the two."""
    info: dict[str, Any] = {"version": champion.version, "schema_hash": champion.schema_hash}
    absent = [n for n in champion.feature_names if n not in frame.columns]
    if absent:
        info.update(comparable=False, reason=f"champion needs {len(absent)} feature(s) absent here, "
                                             f"e.g. {absent[:3]}", psi=None, auc=None)
        return info
    pc = champion.predict_proba(frame)
    d = discrimination(y, pc)
    edges = np.linspace(0, max(pc.max(), p.max(), 1e-9), 21)
    info.update(comparable=True, auc=d["auc"], ks=d["ks"], brier=d["brier"], ece=d["ece"], psi=psi(pc, p),
                hist={"edges": edges.tolist(), "champion": np.histogram(pc, bins=edges)[0].tolist(),
                      "candidate": np.histogram(p, bins=edges)[0].tolist()})
    return info
