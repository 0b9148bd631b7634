"""A small in-code feature table (one feature per kind of signal, seven dimensions) for tests and demos."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from core.uscc import ALPHABET, WEIGHTS

# name, dimension, direction, kind, zh, en
TOY_FEATURES: list[dict] = [
    {"name": "entity_type_code", "dimension": "attributes", "direction": 0, "kind": "categorical",
     "zh": "主体类型", "en": "entity type"},
    {"name": "age_years", "dimension": "attributes", "direction": -1, "kind": "numeric", "zh": "成立年限", "en": "age"},
    {"name": "change_count_365d", "dimension": "registration", "direction": 1, "kind": "numeric",
     "zh": "近一年变更次数", "en": "changes in 365 days"},
    {"name": "annual_report_missing_years_3y", "dimension": "annual_report", "direction": 1, "kind": "numeric",
     "zh": "近三年未报年报数", "en": "annual reports missing in 3 years"},
    {"name": "penalty_serious_count_3y", "dimension": "compliance", "direction": 1, "kind": "numeric",
     "zh": "近三年严重处罚数", "en": "serious penalties in 3 years"},
    {"name": "penalty_count_365d", "dimension": "compliance", "direction": 1, "kind": "numeric",
     "zh": "近一年处罚数", "en": "penalties in 365 days"},
    {"name": "complaint_count_365d", "dimension": "opinion", "direction": 1, "kind": "numeric",
     "zh": "近一年投诉数", "en": "complaints in 365 days"},
    {"name": "affiliate_listed_share", "dimension": "affiliates", "direction": 1, "kind": "numeric",
     "zh": "关联企业列异比例", "en": "share of affiliates listed"},
    {"name": "revenue_log_last", "dimension": "operations", "direction": -1, "kind": "numeric",
     "zh": "最近年报营业收入(对数)", "en": "log revenue, last report"},
]
for _f in TOY_FEATURES:
    _f.setdefault("unit", "")

TYPES = ("limited_company", "individual", "sole_proprietorship", "cooperative")


def _uscc(rng: np.random.Generator, n: int, type_digit: np.ndarray) -> list[str]:
    alphabet = np.array(list(ALPHABET))
    body = rng.integers(0, 31, size=(n, 17))
    body[:, 0] = 9
    body[:, 1] = type_digit
    body[:, 2:8] = rng.integers(0, 10, size=(n, 6))
    check = (31 - (body * np.asarray(WEIGHTS)).sum(axis=1) % 31) % 31
    chars = alphabet[np.concatenate([body, check[:, None]], axis=1)]
    return ["".join(r) for r in chars]


def toy_frame(*, entities: int = 1500, periods: int = 8, seed: int = 7, start: date = date(2019, 1, 1)) -> pd.DataFrame:
    """Entity × quarterly as_of rows with toy features, descriptive columns and a 0/1 ``label``.

    The label follows a hidden logistic risk so that a model can learn it but not perfectly.
    """
    rng = np.random.default_rng(seed)
    etype = rng.choice(len(TYPES), size=entities, p=[0.25, 0.65, 0.05, 0.05])
    base = rng.normal(-3.6, 0.8, size=entities)
    ids = _uscc(rng, entities, np.where(etype == 1, 2, 1))
    towns = rng.choice([f"T{i:02d}" for i in range(6)], size=entities)
    industry = rng.choice(["6110", "6210", "5211", "1390", "3011"], size=entities)
    age0 = rng.gamma(2.0, 3.0, size=entities)
    rows = []
    drift = np.zeros(entities)
    for k in range(periods):
        as_of = (pd.Timestamp(start) + pd.DateOffset(months=3 * k)).date()
        drift = 0.8 * drift + rng.normal(0, 0.3, size=entities)
        risk = base + drift
        lam = np.exp(risk)
        serious = rng.poisson(lam * 1.5)
        pen = rng.poisson(lam * 4)
        missing_ar = np.minimum(3, rng.poisson(np.exp(risk + 1.0)))
        complaints = rng.poisson(np.exp(risk + 0.8))
        changes = rng.poisson(0.3 + np.exp(risk + 0.5))
        aff = np.clip(rng.beta(1, 12, size=entities) + 0.05 * (risk > -3), 0, 1)
        revenue = rng.normal(12 - 0.5 * (risk + 3.6), 1.5)
        revenue[(etype == 1) & (rng.random(entities) < 0.6)] = np.nan  # individual businesses rarely disclose
        logit = risk + 0.6 * serious + 0.25 * pen + 0.3 * missing_ar + 0.15 * complaints - 0.02 * (age0 + k / 4)
        y = rng.random(entities) < 1 / (1 + np.exp(-logit))
        rows.append(pd.DataFrame({
            "uscc": ids, "as_of": as_of, "name": [f"企业{i}" for i in range(entities)],
            "entity_type": np.asarray(TYPES)[etype], "industry_code": industry, "town_code": towns,
            "size_band": np.where(etype == 1, "micro", np.where(revenue > 12, "medium", "small")),
            "entity_type_code": np.asarray(TYPES)[etype], "age_years": age0 + k / 4,
            "change_count_365d": changes, "annual_report_missing_years_3y": missing_ar,
            "penalty_serious_count_3y": serious, "penalty_count_365d": pen + serious,
            "complaint_count_365d": complaints, "affiliate_listed_share": aff, "revenue_log_last": revenue,
            "label": y.astype(int),
        }))
    frame = pd.concat(rows, ignore_index=True)
    frame["entity_type"] = frame["entity_type"].astype(object)
    return frame


def catalog_frame(features: list[dict], *, entities: int = 2000, periods: int = 10, seed: int = 7,
                  start: date = date(2019, 1, 1)) -> pd.DataFrame:
    """Rows for an arbitrary feature list (e.g. the real catalog): values follow a hidden risk in the
    declared direction of each feature, with missing values where a unit allows them; ``label`` 0/1.

    Used to train small models on the production feature schema without building a warehouse.
    """
    rng = np.random.default_rng(seed)
    etype = rng.choice(len(TYPES), size=entities, p=[0.25, 0.65, 0.05, 0.05])
    ids = _uscc(rng, entities, np.where(etype == 1, 2, 1))
    base = rng.normal(-3.6, 0.8, size=entities)
    loadings = rng.uniform(0.3, 1.0, size=len(features))
    frames = []
    drift = np.zeros(entities)
    for k in range(periods):
        as_of = (pd.Timestamp(start) + pd.DateOffset(months=3 * k)).date()
        drift = 0.8 * drift + rng.normal(0, 0.3, size=entities)
        risk = base + drift
        cols: dict = {"uscc": ids, "as_of": as_of, "name": [f"企业{i}" for i in range(entities)],
                      "entity_type": np.asarray(TYPES)[etype],
                      "industry_code": rng.choice(["6110", "6210", "5211", "1390"], size=entities),
                      "town_code": rng.choice(["T01", "T02", "T03"], size=entities),
                      "size_band": np.where(etype == 1, "micro", "small")}
        logit = risk.copy()
        for j, f in enumerate(features):
            z = (risk + 3.6) * loadings[j] * (f.get("direction") or 0) + rng.normal(0, 1, size=entities)
            unit = f.get("unit", "")
            if f.get("kind") == "categorical":
                v = np.asarray(["a", "b", "c", "d"], dtype=object)[rng.integers(0, 4, size=entities)]
            elif unit == "flag":
                v = (z > 1.5).astype(float)
            elif unit in ("ratio", "share"):
                v = 1 / (1 + np.exp(-z))
            elif unit == "count":
                v = rng.poisson(np.exp(np.clip(z - 1.5, -5, 3))).astype(float)
            else:
                v = np.exp(z)
                v[(etype == 1) & (rng.random(entities) < 0.5)] = np.nan  # sparse individual businesses
            cols[f["name"]] = v
            if f.get("direction"):
                logit += 0.15 * f["direction"] * np.nan_to_num(z, nan=0.0) / max(1, len(features)) ** 0.5
        cols["label"] = (rng.random(entities) < 1 / (1 + np.exp(-logit))).astype(int)
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)
