"""Fixtures for inspection tests: a small synthetic target registry, inspectors, and a stored publication."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import opdb
from core.uscc import complete
from inspection.policy import load_policy

INDUSTRIES = ["6210", "6110", "5211", "1431", "3021", "7271", "4411", "8010"]
ENTERPRISE_TYPES = ["limited_company", "sole_proprietorship", "partnership", "cooperative"]


def _targets(n: int = 1200, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    uscc = [complete(f"91500000{i:09d}") for i in range(n)]
    tier = rng.choice(["A", "B", "C", "D"], size=n, p=[0.65, 0.25, 0.08, 0.02])
    is_ent = rng.random(n) < 0.3
    etype = np.where(is_ent, rng.choice(ENTERPRISE_TYPES, size=n), "individual")
    industry = rng.choice(INDUSTRIES, size=n)
    lic = []
    for ind in industry:
        held = []
        if ind in ("6210", "5211") and rng.random() < 0.8:
            held.append("food_business")
        if ind == "1431" and rng.random() < 0.25:  # food producers are few; the law checks half of them a year
            held.append("food_production")
        if ind == "6110" and rng.random() < 0.6:
            held.append("special_equipment")
        if ind == "7271":
            held.append("travel_agency")
        lic.append(";".join(sorted(held)))
    probability = np.select([tier == "A", tier == "B", tier == "C"], [0.01, 0.04, 0.1], 0.3)
    return pd.DataFrame({
        "uscc": uscc, "tier": tier, "probability": probability, "entity_type": etype, "industry_code": industry,
        "town_code": rng.choice([f"5001010{k:02d}" for k in range(5)], size=n), "licence_types": lic,
    })


@pytest.fixture
def policy():
    return load_policy()


@pytest.fixture
def targets() -> pd.DataFrame:
    return _targets()


@pytest.fixture
def make_targets():
    return _targets


def store_publication(settings, targets: pd.DataFrame, *, publication_id: str = "PUB-2026-01",
                      as_of: date = date(2026, 1, 1)) -> str:
    """Insert a publication and its scores directly (engineer P's tables, migration 0002)."""
    eng = opdb.engine(settings)
    with eng.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO publications (publication_id, as_of, model_version, snapshot_id, status, entity_count, "
            "tier_counts, created_at, created_by) VALUES (:p, :a, '1', 'SNAP-1', 'published', :n, :t, :c, 'test')"),
            {"p": publication_id, "a": as_of, "n": len(targets), "c": datetime.now(UTC),
             "t": json.dumps(targets["tier"].value_counts().to_dict())})
        rows = targets[["uscc", "probability", "tier", "entity_type", "industry_code", "town_code"]].copy()
        rows["publication_id"] = publication_id
        rows["reasons"] = "[]"
        conn.execute(sa.text(
            "INSERT INTO published_scores (publication_id, uscc, probability, tier, reasons, entity_type, "
            "industry_code, town_code) VALUES (:publication_id, :uscc, :probability, :tier, :reasons, "
            ":entity_type, :industry_code, :town_code)"), rows.astype(object).to_dict("records"))
    return publication_id


def store_warehouse(settings, targets: pd.DataFrame, *, complaints: list[tuple[str, date]] = ()) -> None:
    """Entity and licence rows (and complaints) in the warehouse, through the contract tables."""
    from features import warehouse

    con = warehouse.connect(settings)
    try:
        ent = pd.DataFrame({"uscc": targets["uscc"], "name": "测试企业", "entity_type": targets["entity_type"],
                            "industry_code": targets["industry_code"], "town_code": targets["town_code"],
                            "established": date(2015, 1, 1), "status": "active"})
        con.register("ent", ent)
        con.execute("INSERT INTO entities (uscc, name, entity_type, industry_code, town_code, established, status) "
                    "SELECT uscc, name, entity_type, industry_code, town_code, established, status FROM ent")
        lic = targets[["uscc", "licence_types"]].assign(licence_type=targets["licence_types"].str.split(";"))
        lic = lic.explode("licence_type")
        lic = lic[lic["licence_type"].fillna("") != ""].reset_index(drop=True)
        lic["licence_id"] = [f"L{i:06d}" for i in range(len(lic))]
        lic["issued"] = date(2020, 1, 1)
        lic["status"] = "valid"
        con.register("lic", lic[["licence_id", "uscc", "licence_type", "issued", "status"]])
        con.execute("INSERT INTO licences (licence_id, uscc, licence_type, issued, status) "
                    "SELECT licence_id, uscc, licence_type, issued, status FROM lic")
        for i, (uscc, day) in enumerate(complaints):
            con.execute("INSERT INTO complaints (complaint_id, uscc, received_date) VALUES (?, ?, ?)",
                        [f"C{i:05d}", uscc, day])
    finally:
        con.close()


@pytest.fixture
def publish():
    """Insert a publication with scores: ``publish(settings, targets, publication_id=..., as_of=...)``."""
    return store_publication


@pytest.fixture
def fill_warehouse():
    """Write entities, licences and complaints: ``fill_warehouse(settings, targets, complaints=[...])``."""
    return store_warehouse
