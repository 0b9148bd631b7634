"""Ingest records every enterprise an item names; a negative item counts only against its targets."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features import opinions, warehouse
from features.ingest import ingest
from features.opinions import train
from features.snapshot import build_snapshot
from synth.opinions import multi_entity_items
from tests.features.test_ingest import AS_OF, C1, C3, C4, _drop, _entities, _rows
from tests.features.test_opinion_targets import NAMES

SNAPSHOT = date(2025, 7, 1)
# C4 石门旅行社 is at fault; C3 绿叶茶业（重庆）有限公司 is a neutral neighbour; 山水餐饮有限公司 is two entities' name.
ITEM = {"opinion_id": "O1", "published_date": "2025-06-01", "source": "news", "vendor_sentiment": "negative",
        "title": "游客投诉石门旅行社强迫游客购物",
        "text": "国庆黄金周，游客反映石门旅行社强迫游客购物。同街区的绿叶茶业（重庆）有限公司正式开业。相关部门已责令整改。",
        "uscc": C4, "company_name": "石门旅行社",
        "mentioned_names": "石门旅行社;绿叶茶业(重庆)有限公司;山水餐饮有限公司"}


@pytest.fixture(scope="module")
def classifier():
    items = multi_entity_items(np.random.default_rng(5), NAMES, 900)
    return train(items, text_col="text", title_col="title", label_col="label", entities_col="entities",
                 targets_col="targets", seed=2)


def _mentions(settings):
    return {(r[0], r[1]): (r[2], r[3]) for r in _rows(
        settings, "SELECT opinion_id, name, uscc, is_target || ':' || method FROM opinion_mentions")}


def _features(settings, classifier=None, as_of=SNAPSHOT):
    con = warehouse.connect(settings)
    try:
        return build_snapshot(con, as_of=as_of, classifier=classifier).frame.set_index("uscc")
    finally:
        con.close()


def test_ingest_links_each_named_enterprise_and_without_a_model_counts_every_one(settings, tmp_path):
    old = pd.DataFrame([{**ITEM, "opinion_id": "O2", "mentioned_names": None}]).drop(columns="mentioned_names")
    summary = ingest(settings, _drop(tmp_path / "d", entities=(_entities(), "csv"),
                                     opinions=(pd.DataFrame([ITEM]), "csv")), as_of=AS_OF)
    assert summary["opinion_mentions"] == 3
    assert _mentions(settings) == {
        ("O1", "石门旅行社"): (C4, "true:every_named"),
        ("O1", "绿叶茶业(重庆)有限公司"): (C3, "true:every_named"),  # full-width brackets folded: C3's name
        ("O1", "山水餐饮有限公司"): (None, "true:every_named"),  # two entities carry the name: nobody's
    }
    ingest(settings, _drop(tmp_path / "old", opinions=(old, "csv")), as_of=AS_OF)  # an extract without the column
    assert _mentions(settings)[("O2", "石门旅行社")] == (C4, "true:sole")
    f = _features(settings)
    assert f.loc[C4, "opinion_negative_count_365d"] == 2 and f.loc[C3, "opinion_negative_count_365d"] == 1
    assert f.loc[C1, "opinion_item_count_365d"] == 0


def test_with_an_attribution_model_a_negative_item_counts_only_against_its_target(settings, tmp_path, classifier):
    classifier.save(opinions.model_dir(settings))  # the home's classifier, trained with entities
    ingest(settings, _drop(tmp_path / "d", entities=(_entities(), "csv"), opinions=(pd.DataFrame([ITEM]), "csv")),
           as_of=AS_OF)
    got = _mentions(settings)
    assert got[("O1", "石门旅行社")] == (C4, "true:model")
    assert got[("O1", "绿叶茶业(重庆)有限公司")] == (C3, "false:model")
    model_ids = {r[0] for r in _rows(settings, "SELECT DISTINCT model_id FROM opinion_mentions")}
    assert model_ids == {classifier.model_id}
    f = _features(settings, classifier)
    assert f.loc[C4, "opinion_negative_count_365d"] == 1 and f.loc[C4, "opinion_negative_count_90d"] == 1
    assert f.loc[C3, "opinion_negative_count_365d"] == 0 and f.loc[C3, "opinion_negative_reach_weighted_365d"] == 0
    assert f.loc[C3, "opinion_item_count_365d"] == 1  # still an item that names it


def test_a_classifier_with_entities_reattributes_items_counted_against_every_named_firm(settings, tmp_path,
                                                                                       classifier):
    ingest(settings, _drop(tmp_path / "d", entities=(_entities(), "csv"), opinions=(pd.DataFrame([ITEM]), "csv")),
           as_of=AS_OF)
    before = _features(settings)
    after = _features(settings, classifier)
    assert before.loc[C3, "opinion_negative_count_365d"] == 1 and after.loc[C3, "opinion_negative_count_365d"] == 0
    assert {m for _, m in _mentions(settings).values()} == {"true:model", "false:model"}


def test_an_item_known_after_as_of_counts_against_none_of_the_firms_it_names(settings, tmp_path):
    late = {**ITEM, "known_date": "2025-07-02"}  # published before the snapshot, known after it
    ingest(settings, _drop(tmp_path / "d", entities=(_entities(), "csv"), opinions=(pd.DataFrame([late]), "csv")),
           as_of=AS_OF)
    f = _features(settings)
    assert (f.loc[[C3, C4], ["opinion_item_count_365d", "opinion_negative_count_365d"]] == 0).all().all()
    assert _features(settings, as_of=date(2025, 7, 3)).loc[C3, "opinion_negative_count_365d"] == 1


def test_a_revised_item_counts_as_the_version_a_snapshot_knew(settings, tmp_path):
    first = _drop(tmp_path / "d1", entities=(_entities(), "csv"), opinions=(pd.DataFrame([ITEM]), "csv"))
    ingest(settings, first, as_of=date(2025, 6, 15))
    before = _features(settings)
    corrected = {**ITEM, "mentioned_names": "石门旅行社"}  # the vendor takes the neighbour out of the item
    ingest(settings, _drop(tmp_path / "d2", opinions=(pd.DataFrame([corrected]), "csv")), as_of=date(2025, 8, 1))
    pd.testing.assert_frame_equal(_features(settings), before)  # a snapshot at 2025-07-01 knew the first version
    assert before.loc[C3, "opinion_negative_count_365d"] == 1
    assert _features(settings, as_of=date(2025, 8, 2)).loc[C3, "opinion_negative_count_365d"] == 0
