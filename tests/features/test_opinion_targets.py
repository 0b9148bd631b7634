"""Entity-level attribution: an item naming two firms counts only against the one it is negative about."""

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import UserError
from features import opinion_targets as ot
from features.opinions import OpinionClassifier, train
from synth.opinions import multi_entity_items

NAMES = np.array([f"{p}{m}{s}" for p in ("龙潭", "天生桥", "林海", "老街", "溶洞", "云顶")
                  for m in ("餐饮", "酒店", "超市", "农家乐", "特产店", "茶社", "民宿") for s in ("有限公司", "店", "")],
                 dtype=object)


@pytest.fixture(scope="module")
def labelled():
    return multi_entity_items(np.random.default_rng(3), NAMES, 1500)


@pytest.fixture(scope="module")
def classifier(labelled):
    return train(labelled, text_col="text", title_col="title", label_col="label", entities_col="entities",
                 targets_col="targets", seed=1)


def test_the_context_masks_the_entity_and_the_others_and_marks_who_comes_first():
    c = ot.context("游客投诉甲餐饮店宰客", "隔壁乙超市明码标价获点赞。", "乙超市", ["甲餐饮店"])
    assert "乙超市" not in c and "甲餐饮店" not in c and ot.TARGET in c and ot.OTHER in c
    assert not c.startswith(ot.FIRST)  # 甲 is named first
    first = ot.context("游客投诉甲餐饮店宰客", "", "甲餐饮店", ["乙超市"])
    assert first.startswith(ot.FIRST + ot.IN_TITLE)
    assert ot.context("无关标题", "正文", "丙公司", []).startswith(ot.ABSENT)


def test_list_columns_take_lists_or_semicolon_strings():
    assert ot.as_list("甲公司; 乙公司；丙公司") == ["甲公司", "乙公司", "丙公司"]
    assert ot.as_list(["甲公司", None, ""]) == ["甲公司"] and ot.as_list(None) == []


def test_two_firms_named_one_negative_on_hand_written_items(classifier):
    items = pd.DataFrame({
        "title": ["游客投诉龙潭农家乐有限公司宰客", "天生桥酒店店获评诚信经营示范店，林海超市却被曝销售过期药品",
                  "老街茶社与溶洞民宿参加农产品展销会", "云顶餐饮负责人反映林海特产店长期虚假宣传"],
        "text": ["国庆黄金周，游客反映龙潭农家乐有限公司景区商铺宰客。同街区的天生桥超市正式开业。相关部门已责令整改。",
                 "周末，天生桥酒店店获评诚信经营示范店；与之相邻的林海超市却被网友曝光销售过期药品。目前事件仍在调查中。",
                 "近日，老街茶社与溶洞民宿共同参加农产品展销会。现场秩序良好。",
                 "日前，云顶餐饮负责人向记者反映，隔壁的林海特产店长期虚假宣传。监管部门表示将依法处理。"],
        "entities": [["天生桥超市", "龙潭农家乐有限公司"], "天生桥酒店店;林海超市", ["老街茶社", "溶洞民宿"],
                     ["云顶餐饮", "林海特产店"]],
    })
    got = classifier.negative_targets(items, text_col="text", title_col="title", entities_col="entities")
    assert got == [["龙潭农家乐有限公司"], ["林海超市"], [], ["林海特产店"]]


def test_held_out_entity_f1_beats_counting_every_named_firm(classifier):
    m = classifier.metrics
    assert m["entity_pairs_test"] > 500 and m["near_duplicates_removed"] >= 0
    assert m["entity_f1"] > m["entity_naive_f1"] + 0.1
    assert m["entity_precision"] > m["entity_naive_precision"]


def test_targets_outside_the_named_entities_and_half_the_columns_are_refused(labelled):
    bad = labelled.head(60).copy()
    bad.loc[0, "targets"] = ["不相干公司"]
    with pytest.raises(UserError, match="not among the named entities"):
        train(bad, text_col="text", label_col="label", entities_col="entities", targets_col="targets")
    with pytest.raises(UserError, match="needs both"):
        train(labelled, text_col="text", label_col="label", entities_col="entities")


def test_cli_trains_with_entities_and_classify_adds_negative_targets(tmp_path, labelled, capsys):
    import json

    table = tmp_path / "items.parquet"
    labelled.head(800).assign(targets=labelled.head(800)["targets"].map(";".join)).to_parquet(table)
    home = str(tmp_path / "home")
    assert main(["opinions", "train", "--home", home, "--table", str(table), "--text-col", "text", "--title-col",
                 "title", "--label-col", "label", "--entities-col", "entities", "--targets-col", "targets",
                 "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert {"entity_f1", "entity_naive_f1", "near_duplicates_removed"} <= set(trained)
    out = tmp_path / "scored.parquet"
    assert main(["opinions", "classify", "--home", home, "--table", str(table), "--text-col", "text", "--title-col",
                 "title", "--entities-col", "entities", "--out", str(out), "--json"]) == 0
    scored = pd.read_parquet(out)
    assert "negative_targets" in scored.columns
    neutral = scored["label"] == "neutral"
    assert (scored.loc[neutral, "negative_targets"].map(len) == 0).mean() > 0.9
    clf = OpinionClassifier.load(tmp_path / "home" / "opinions")
    assert clf.targets is not None
