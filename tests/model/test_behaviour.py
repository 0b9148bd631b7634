"""Behavioural checks on a trained model through the real feature pipeline (warehouse → snapshot → score).

The model is small and trained on the production feature schema (features.catalog) with in-code data;
the records are hand-built in a DuckDB warehouse and turned into features by build_snapshot.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest

from features.catalog import all_features
from features.snapshot import build_snapshot
from features.warehouse import create_source_tables
from tests.features.conftest import Warehouse, code
from training.dataset import feature_spec, from_frame
from training.toy import catalog_frame
from training.train import train

AS_OF = date(2024, 7, 1)
FIRM, SHOP, CLEAN = code(11), code(12), code(13)


@pytest.fixture(scope="module")
def model():
    specs = [feature_spec(f) for f in all_features()]
    frame = catalog_frame(specs, entities=1200, periods=12, seed=3)
    ds = from_frame(frame, id_col="uscc", time_col="as_of", label_col="label", features=specs, embargo_months=12)
    return train(ds, num_boost_round=60, seed=3, budget_s=0)


@pytest.fixture
def wh(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_source_tables(con)
    w = Warehouse(con)
    w.entity(FIRM)
    w.entity(SHOP, entity_type="individual", registered_capital=None, industry_code="6110",
             established=date(2021, 5, 1))
    w.entity(CLEAN, established=date(2010, 1, 1))
    w.add("penalties", uscc=FIRM, decided_date=date(2023, 9, 1), domain="food", procedure="ordinary",
          severity="ordinary", sanctions="fine", fine_amount=5000.0, publicity_end=date(2026, 9, 1))
    w.add("annual_reports", uscc=FIRM, year=2023, filed_date=date(2024, 5, 1), employees=12, revenue=3e6,
          assets=2e6, liabilities=1.5e6, tax=5e4, profit=-1e4)
    w.add("annual_reports", uscc=CLEAN, year=2023, filed_date=date(2024, 3, 1), employees=40, revenue=2e7,
          assets=1e7, liabilities=3e6, tax=8e5, profit=1e6)
    yield w
    con.close()


def _scores(model, wh):
    frame = build_snapshot(wh.con, as_of=AS_OF).frame
    return model.score(frame).set_index("uscc"), frame.set_index("uscc")


def test_another_serious_penalty_never_lowers_the_probability(model, wh):
    before, _ = _scores(model, wh)
    for u in (FIRM, SHOP, CLEAN):
        wh.add("penalties", uscc=u, decided_date=date(2024, 5, 10), domain="food", procedure="ordinary",
               severity="serious", sanctions="fine;confiscation", fine_amount=80000.0, publicity_end=date(2027, 5, 10))
    after, _ = _scores(model, wh)
    assert np.all(after.loc[before.index, "probability"] >= before["probability"] - 1e-12)
    order = {"A": 0, "B": 1, "C": 2, "D": 3}
    assert all(order[after.loc[u, "tier"]] >= order[before.loc[u, "tier"]] for u in before.index)


def test_renaming_an_entity_changes_nothing(model, wh):
    before, feats_before = _scores(model, wh)
    wh.con.execute("UPDATE entities SET name = '新名称餐饮有限公司' WHERE uscc = ?", [FIRM])
    after, feats_after = _scores(model, wh)
    assert after.loc[FIRM, "probability"] == before.loc[FIRM, "probability"]
    assert after.loc[FIRM, "reasons"] == before.loc[FIRM, "reasons"]
    assert feats_after.loc[FIRM, model.feature_names].equals(feats_before.loc[FIRM, model.feature_names])


def test_a_repaired_penalty_never_raises_the_probability(model, wh):
    pen = wh.add("penalties", uscc=FIRM, decided_date=date(2023, 11, 1), domain="food", procedure="ordinary",
                 severity="serious", sanctions="fine", fine_amount=60000.0, publicity_end=date(2026, 11, 1))
    with_penalty, feats_pen = _scores(model, wh)
    wh.add("repairs", record_kind="penalty", record_id=pen["penalty_id"], uscc=FIRM, repaired_date=date(2024, 6, 1),
           known_date=date(2024, 6, 1), case_id="CASE-1")
    repaired, feats_rep = _scores(model, wh)
    assert repaired.loc[FIRM, "probability"] <= with_penalty.loc[FIRM, "probability"] + 1e-12
    assert feats_rep.loc[FIRM, "penalty_in_effect_count"] < feats_pen.loc[FIRM, "penalty_in_effect_count"]


def test_small_individual_business_with_sparse_records_is_not_pushed_to_d(model, wh):
    for i in range(20):
        wh.entity(code(100 + i), entity_type="individual", registered_capital=None, industry_code="5211",
                  established=date(2022 + i % 2, 1 + i % 12, 1))
    scores, feats = _scores(model, wh)
    sparse = [code(100 + i) for i in range(20)] + [SHOP]
    assert feats.loc[sparse, "financials_no_report_flag"].notna().all()
    assert (scores.loc[sparse, "tier"] != "D").all()
    assert scores.loc[sparse, "probability"].max() < model.cutoffs[-1]
