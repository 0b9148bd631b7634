"""The data dictionary and the ``catalog`` command are generated from the one declaration of sources and features."""

import json

from core.cli import main
from features import dictionary
from features.sources import SOURCES
from features.validate import FIXES, RULES


def test_checked_in_data_dictionary_is_in_sync():
    assert dictionary.DICTIONARY_PATH.read_text(encoding="utf-8") == dictionary.render(), (
        "docs/data_dictionary.md is out of date: run `credit-risk catalog --write-dictionary`")


def test_dictionary_documents_every_table_column_rule_and_feature():
    text = dictionary.render()
    for table in SOURCES.values():
        assert f"### `{table.name}` — {table.zh} / {table.en}" in text
        for column in table.columns:
            assert f"| `{column.name}` | {column.kind} |" in text
    for code in [*RULES, *FIXES]:
        assert f"| `{code}` |" in text
    features, note = dictionary.features_catalog()
    assert note is None and features
    for f in features:
        assert f"| `{f['name']}` |" in text


def test_dictionary_says_what_happens_to_personal_columns():
    text = dictionary.render()
    assert "`person_id_number` → `person_key` (keyed hash)" in text
    assert "`person_name` dropped" in text


def test_catalog_sources_json_lists_the_contract_without_features(home, capsys):
    assert main(["catalog", "--sources", "--json", "--home", str(home)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "features" not in data
    tables = {t["table"]: t for t in data["sources"]}
    assert set(tables) == set(SOURCES)
    person = {c["name"]: c for c in tables["relations"]["columns"]}["person_id_number"]
    assert person["personal"] is True and person["zh"] == "证件号码"
    uscc = {c["name"]: c for c in tables["entities"]["columns"]}["uscc"]
    assert uscc == {"name": "uscc", "type": "uscc", "required": True, "zh": "统一社会信用代码",
                    "en": "unified social credit code", "personal": False, "values": []}


def test_catalog_includes_the_feature_catalog_and_prints_a_summary(home, capsys):
    assert main(["catalog", "--json", "--home", str(home)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feature_set"] and data["features"]
    assert {"name", "dimension", "direction", "zh", "en"} <= set(data["features"][0])
    assert main(["catalog", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "penalties — 行政处罚 / administrative penalties" in out and "PERSONAL" in out
