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


FACILITY_TYPES = ("restaurant", "grocery", "school", "bakery", "daycare", "hotel", "bar", "catering", "mobile_vendor",
                  "wholesale", "hospital", "nursing_home", "kiosk", "food_factory", "tea_house", "canteen")


def inspection_history(*, rows: int = 30_000, seed: int = 11, inspectors: int = 80, districts: int = 50,
                       start: date = date(2016, 1, 1), years: int = 8) -> pd.DataFrame:
    """A public-shaped inspection history (like the food-inspection tables cities publish), with a 0/1 label.

    One row per inspection: date, facility type, risk category, licence type, inspector and district ids
    (high-cardinality categoricals: some inspectors find more), prior inspections and failures, days since
    the last one, complaint-driven or routine; ``critical_found`` (about 8%) rises with prior failures,
    a U-shaped gap since the last inspection, complaint × high-risk facilities and a slow drift, so that
    neither a linear model nor the default trees is the whole story. The newest year is the test period
    (``split`` says train or test only, the shape bureaus' tables most often have).
    """
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 365 * years, size=rows)
    when = pd.Timestamp(start) + pd.to_timedelta(np.sort(days), unit="D")
    fac = rng.choice(len(FACILITY_TYPES), size=rows, p=np.linspace(3, 1, len(FACILITY_TYPES)) / np.linspace(
        3, 1, len(FACILITY_TYPES)).sum())
    fac_eff = rng.normal(0, 0.5, size=len(FACILITY_TYPES))
    risk_cat = rng.choice([1, 2, 3], size=rows, p=[0.5, 0.3, 0.2])
    insp = rng.zipf(1.6, size=rows) % inspectors  # a few inspectors do most checks
    insp_eff = rng.normal(0, 0.7, size=inspectors)
    dist = rng.integers(0, districts, size=rows)
    dist_eff = rng.normal(0, 0.3, size=districts)
    licence = rng.choice(["retail_food", "food_service", "production", "temporary", "liquor"], size=rows)
    prior = rng.poisson(4, size=rows)
    prior_fail = rng.binomial(prior, 0.15 + 0.1 * (risk_cat == 1))
    gap = rng.gamma(2.0, 150.0, size=rows)
    complaint = rng.random(rows) < 0.2
    t = (when - pd.Timestamp(start)).days.to_numpy() / 365.0
    logit = (-3.3 + fac_eff[fac] + 0.35 * (3 - risk_cat) + insp_eff[insp] + dist_eff[dist]
             + 0.6 * np.log1p(prior_fail) + 1.2 * ((gap < 60) | (gap > 600))
             + 1.2 * (complaint & (risk_cat == 1)) + 0.2 * complaint + 0.05 * t
             + 0.4 * (licence == "temporary"))
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    last_year = when.year == when.year.max()
    return pd.DataFrame({
        "inspection_id": np.arange(rows), "inspection_date": when.date, "facility_type":
        np.asarray(FACILITY_TYPES, dtype=object)[fac], "risk_category": risk_cat, "licence_type": licence,
        "inspector_id": [f"I{i:03d}" for i in insp], "district_id": [f"W{d:02d}" for d in dist],
        "prior_inspections": prior, "prior_failures": prior_fail, "days_since_last": gap.round(),
        "complaint": complaint.astype(int), "critical_found": y,
        "split": np.where(last_year, "test", "train"),
    })
