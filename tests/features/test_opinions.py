"""The negative-opinion classifier: held-out metrics, the train/classify commands, warehouse scoring."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import UserError
from features.opinions import OpinionClassifier, ensure_scores, model_dir, train
from tests.features.conftest import code

_SUBJECTS = ["这家餐厅", "该酒店", "景区旅行社", "某农家乐", "一家超市", "当地茶叶店", "这家民宿", "建材商店"]
_NEGATIVE = ["被曝食品变质", "游客投诉强制购物", "涉嫌虚假宣传", "卫生状况堪忧", "拒不退款引发纠纷", "价格欺诈被查处",
             "消费者吃出异物", "电梯存在安全隐患", "服务态度恶劣遭投诉", "无证经营被举报"]
_OTHER = ["举办开业活动", "获得游客好评", "推出特色美食", "服务周到值得推荐", "参加公益活动", "环境优美干净整洁",
          "节假日客流量稳定", "上新当季产品", "荣获诚信经营称号", "门店装修升级"]
_FILLER = ["记者了解到", "网友表示", "据悉", "近日", "有消息称", "昨日", "本周"]


def corpus(n: int, *, seed: int) -> pd.DataFrame:
    """Short Chinese items; about a third negative, with 5% label noise."""
    rng = np.random.default_rng(seed)
    neg = rng.random(n) < 0.35
    texts = []
    for is_neg in neg:
        phrases = rng.choice(_NEGATIVE if is_neg else _OTHER, size=2, replace=False)
        texts.append(f"{rng.choice(_FILLER)}{rng.choice(_SUBJECTS)}{phrases[0]}，{phrases[1]}")
    label = np.where(neg ^ (rng.random(n) < 0.05), "negative", "neutral")
    return pd.DataFrame({"text": texts, "label": label, "split": np.where(np.arange(n) % 4 == 0, "test", "train")})


def test_classifier_reaches_good_held_out_precision_and_recall():
    clf = train(corpus(400, seed=7), text_col="text", label_col="label", seed=1)
    m = clf.metrics
    # the held-out quarter, less the items that nearly copy a training item
    assert m["n_test"] + m["near_duplicates_removed"] == 100 and m["n_train"] == 300
    assert m["precision"] >= 0.85 and m["recall"] >= 0.85 and m["f1"] >= 0.85
    # noise keeps it honest: 5% flipped labels cap what any model can reach
    assert m["f1"] < 1.0
    again = train(corpus(400, seed=7), text_col="text", label_col="label", seed=1)
    assert again.model_id == clf.model_id and again.metrics == m


def test_classifier_respects_a_split_column_and_rejects_bad_input():
    clf = train(corpus(200, seed=3), text_col="text", label_col="label", split_col="split")
    assert clf.metrics["n_test"] + clf.metrics["near_duplicates_removed"] == 50
    with pytest.raises(UserError, match="expected a column 'body'"):
        train(corpus(50, seed=3), text_col="body", label_col="label")
    with pytest.raises(UserError, match="at least 20 labelled items"):
        train(corpus(10, seed=3), text_col="text", label_col="label")


def test_train_and_classify_commands_use_the_last_trained_model(settings, tmp_path, capsys):
    table, items, out = tmp_path / "labelled.parquet", tmp_path / "items.parquet", tmp_path / "scored.parquet"
    corpus(300, seed=11).to_parquet(table)
    corpus(40, seed=12)[["text"]].to_parquet(items)
    home = str(settings.home)
    assert main(["opinions", "train", "--home", home, "--table", str(table), "--text-col", "text",
                 "--label-col", "label", "--split-col", "split", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "f1", "seed", "model_id"} <= metrics.keys() and metrics["f1"] > 0.8
    saved = json.loads((model_dir(settings) / "classifier.json").read_text())
    assert saved["model_id"] == metrics["model_id"] and saved["metrics"]["f1"] == metrics["f1"]
    assert main(["opinions", "classify", "--home", home, "--table", str(items), "--text-col", "text",
                 "--out", str(out)]) == 0
    scored = pd.read_parquet(out)
    assert len(scored) == 40 and scored["negative_probability"].between(0, 1).all()
    truth = corpus(40, seed=12)["label"].eq("negative")
    assert (scored["negative_probability"] >= 0.5).eq(truth).mean() > 0.8
    assert main(["opinions", "classify", "--home", home, "--table", str(tmp_path / "none.parquet"),
                 "--text-col", "text", "--out", str(out)]) == 2


def test_warehouse_items_without_vendor_label_get_the_default_model_score(wh):
    items = corpus(120, seed=5)
    wh.entity(code(1))
    for i, row in items.iterrows():
        wh.add("opinions", opinion_id=f"L{i:03d}", published_date=date(2024, 1, 1), source="news", title=row["text"],
               uscc=code(1), vendor_sentiment=row["label"])
    wh.add("opinions", opinion_id="U1", published_date=date(2024, 1, 1), source="news", uscc=code(1),
           title="这家餐厅被曝食品变质，消费者吃出异物")
    wh.add("opinions", opinion_id="U2", published_date=date(2024, 1, 1), source="news", uscc=code(1),
           title="该酒店获得游客好评，服务周到值得推荐")
    assert ensure_scores(wh.con) == 2
    assert ensure_scores(wh.con) == 0  # scored once; later items do not rescore earlier ones
    p = dict(wh.con.execute("SELECT opinion_id, negative_probability FROM opinion_scores").fetchall())
    assert p["U1"] > 0.5 > p["U2"]
    # a classifier given explicitly replaces scores made by another model
    other = train(corpus(200, seed=9), text_col="text", label_col="label", seed=2)
    assert isinstance(other, OpinionClassifier) and ensure_scores(wh.con, classifier=other) == 2


def test_the_default_model_learns_from_a_bounded_sample_and_scores_in_batches(wh, monkeypatch):
    from core import rules
    from features.opinions import default_from_warehouse, labelled_items

    items = corpus(150, seed=5)
    wh.entity(code(1))
    for i, row in items.iterrows():
        wh.add("opinions", opinion_id=f"L{i:03d}", published_date=date(2024, 1, 1), source="news", title=row["text"],
               uscc=code(1), vendor_sentiment=row["label"])
    for i in range(7):
        wh.add("opinions", opinion_id=f"U{i}", published_date=date(2024, 1, 1), source="news", uscc=code(1),
               title=corpus(7, seed=3)["text"][i])
    every = labelled_items(wh.con)
    some = labelled_items(wh.con, at_most=100, seed=1)
    assert len(every) == 150 and len(some) == 100 and some["opinion_id"].is_monotonic_increasing
    assert some.equals(labelled_items(wh.con, at_most=100, seed=1))  # the same sample for the same seed
    assert not some["opinion_id"].equals(labelled_items(wh.con, at_most=100, seed=2)["opinion_id"])
    assert labelled_items(wh.con, at_most=500, seed=1).equals(every)  # under the bound: every item
    opinion = rules.load("features")["opinion"]
    monkeypatch.setitem(opinion, "default_max_labelled", 100)
    monkeypatch.setitem(opinion, "score_batch_items", 3)  # 7 unscored items in batches of 3, 3 and 1
    assert default_from_warehouse(wh.con).source["rows"] == 100
    assert ensure_scores(wh.con) == 7
    assert wh.con.execute("SELECT COUNT(DISTINCT opinion_id) FROM opinion_scores").fetchall()[0][0] == 7
