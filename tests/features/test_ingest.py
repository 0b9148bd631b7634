"""Ingest: validation rules, quarantine, normalisation, name matching, pseudonymisation, idempotency, revisions."""

import json
import logging
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core import uscc
from core.cli import main
from features.ingest import ingest
from features.normalise import check_indices
from features.sources import SOURCES

AS_OF = date(2025, 12, 31)
C1, C2, C3, C4 = (uscc.complete(f"9150000{i}MA000000{i}") for i in range(1, 5))
BAD_CHECK = C1[:17] + ("0" if C1[17] != "0" else "1")
PERSON_NAMES = ["张伟明", "李秀英"]
PERSON_IDS = ["110101199001011234", "51010219851212002X"]


def _entities(**over):
    frame = pd.DataFrame({
        "uscc": [C1, C2, C3, C4],
        "name": ["山水餐饮有限公司", "山水餐饮有限公司", "绿叶茶业（重庆）有限公司", "石门旅行社"],
        "entity_type": ["limited_company", "individual", "limited_company", "limited_company"],
        "industry_code": ["6210", "6210", "1530", "7271"],
        "town_code": ["01", "02", "03", "01"],
        "registered_capital": ["12.5万元", "", "300000元", "500000"],
        "established": ["2010-01-05", "2012/3/4", "2013-02-03", "2015-06-30"],
        "status": ["active"] * 4,
    })
    return frame.assign(**over)


def _drop(folder, **tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (frame, fmt) in tables.items():
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        elif fmt == "gbk":
            frame.to_csv(folder / f"{name}.csv", index=False, encoding="gbk")
        elif fmt == "xlsx":
            frame.to_excel(path, index=False)
        else:
            frame.to_parquet(path)
    return folder


def _penalties(**over):
    frame = pd.DataFrame({
        "penalty_id": ["P1", "P2"], "uscc": [C1, C3], "decided_date": ["2020-01-01", "2021-05-06"],
        "domain": ["food", "quality"], "procedure": ["ordinary", "simple"], "severity": ["minor", "ordinary"],
        "sanctions": ["warning;fine", "fine"], "fine_amount": ["1.2万元", "3000"], "publicity_end": ["2023-01-01"] * 2,
    })
    return frame.assign(**over)


def _rows(settings, sql, params=None):
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _accounted(summary):
    for f in summary["files"]:
        if f["status"] == "loaded":
            assert f["loaded"] + sum(f["quarantined"].values()) + f["deduplicated"] == f["rows"], f


def test_vectorised_check_character_agrees_with_core_uscc():
    rng = np.random.default_rng(7)
    codes = ["".join(rng.choice(list(uscc.ALPHABET), 18)) for _ in range(300)]
    codes += [uscc.complete(c[:17]) for c in codes[:100]] + [None, "short", "山水餐饮有限公司山水", codes[0].lower()]
    for code, index in zip(codes, check_indices(pa.array(codes)).to_pylist(), strict=True):
        if uscc.problem(code) and "check character" not in uscc.problem(code):
            assert index is None, code  # malformed: no check character to compare
        else:
            assert (code[17] == uscc.ALPHABET[index]) == uscc.is_valid(code), code


def test_valid_codes_load_and_invalid_codes_are_quarantined_with_reason(settings, tmp_path):
    bad = pd.DataFrame({**_entities().iloc[:1].to_dict("list"), "uscc": [BAD_CHECK]})
    short = pd.DataFrame({**_entities().iloc[:1].to_dict("list"), "uscc": ["91500000MA00001"]})
    drop = _drop(tmp_path / "d", entities=(pd.concat([_entities(), bad, short]), "csv"))
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["loaded"]["entities"] == 4
    assert summary["quarantined"]["entities"] == {"bad_check_character": 1, "malformed_uscc": 1}
    details = dict(_rows(settings, "SELECT rule, detail FROM quarantine"))
    assert f"uscc {BAD_CHECK} fails its check character (expected {C1[17]})" in details["bad_check_character"]
    assert "expected 18 characters" in details["malformed_uscc"]
    _accounted(summary)


def test_quarantine_keeps_rule_detail_file_row_and_original_values(settings, tmp_path):
    pens = _penalties(decided_date=["2023-02-30", "2021-05-06"], domain=["food", "astrology"])
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), penalties=(pens, "csv"))
    ingest(settings, drop, as_of=AS_OF)
    rows = _rows(settings, "SELECT table_name, rule, detail, source_file, row_number, original FROM quarantine "
                           "ORDER BY row_number")
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("penalties", "impossible_date", "penalties.csv", 1), ("penalties", "bad_enum", "penalties.csv", 2)]
    assert "decided_date" in rows[0][2] and "2023-02-30" in rows[0][2]
    assert "domain" in rows[1][2] and "astrology" in rows[1][2]
    original = json.loads(rows[0][5])
    assert original["decided_date"] == "2023-02-30" and original["fine_amount"] == "1.2万元"


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("decided_date", "", "missing_required_date"),
    ("decided_date", "1900-01-01", "impossible_date"),
    ("decided_date", "2026-03-01", "impossible_date"),  # after the drop's as-of
    ("fine_paid_date", "2019-12-01", "date_order"),  # paid before it was decided
    ("fine_amount", "一千元", "bad_type"),
    ("fine_amount", "-5", "out_of_range"),
    ("sanctions", "fine;flogging", "bad_enum"),
    ("uscc", C2[:17] + ("0" if C2[17] != "0" else "1"), "bad_check_character"),
    ("uscc", uscc.complete("91500000MA9999999"), "unknown_entity"),
    ("penalty_id", "", "missing_required"),
])
def test_each_rule_quarantines_the_row_that_breaks_it(settings, tmp_path, column, value, rule):
    pens = _penalties().iloc[:1].assign(**{column: [value]})
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), penalties=(pd.concat([pens, _penalties()]), "csv"))
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["quarantined"]["penalties"] == {rule: 1}
    assert summary["loaded"]["penalties"] == 2
    _accounted(summary)


def test_money_text_with_units_becomes_yuan_and_is_counted(settings, tmp_path):
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), penalties=(_penalties(), "parquet"))
    summary = ingest(settings, drop, as_of=AS_OF)
    capital = dict(_rows(settings, "SELECT uscc, registered_capital FROM entities"))
    assert capital == {C1: 125000.0, C2: None, C3: 300000.0, C4: 500000.0}
    fines = dict(_rows(settings, "SELECT penalty_id, fine_amount FROM penalties"))
    assert fines == {"P1": 12000.0, "P2": 3000.0}
    assert summary["repaired"]["entities"]["amount_in_wan"] == 2
    assert summary["repaired"]["penalties"]["amount_in_wan"] == 1


def test_gbk_csv_and_excel_load_with_chinese_text_intact(settings, tmp_path):
    drop = _drop(tmp_path / "d", entities=(_entities(), "gbk"), penalties=(_penalties(), "xlsx"))
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["repaired"]["entities"]["gbk_encoding"] == 4
    assert summary["loaded"] == {"entities": 4, "penalties": 2}
    names = {r[0] for r in _rows(settings, "SELECT name FROM entities")}
    assert "绿叶茶业（重庆）有限公司" in names
    assert _rows(settings, "SELECT decided_date FROM penalties WHERE penalty_id = 'P2'") == [(date(2021, 5, 6),)]


def test_exact_duplicates_are_removed_and_conflicting_keys_quarantined(settings, tmp_path):
    pens = pd.concat([_penalties(), _penalties().iloc[:1], _penalties().iloc[:1].assign(fine_amount=["99"])])
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), penalties=(pens, "csv"))
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["deduplicated"]["penalties"] == 1
    assert summary["quarantined"]["penalties"] == {"duplicate_key": 1}
    assert _rows(settings, "SELECT fine_amount FROM penalties WHERE penalty_id = 'P1'") == [(12000.0,)]
    _accounted(summary)


def test_known_date_is_always_filled(settings, tmp_path):
    reports = pd.DataFrame({"uscc": [C1, C3], "year": ["2022", "2023"], "filed_date": ["2023-04-01", ""],
                            "known_date": ["2023-04-03", ""]})
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), annual_reports=(reports, "csv"))
    ingest(settings, drop, as_of=AS_OF)
    known = dict(_rows(settings, "SELECT year, known_date FROM annual_reports"))
    assert known == {2022: date(2023, 4, 3), 2023: date(2024, 7, 1)}  # unfiled: known after the season
    assert _rows(settings, "SELECT count(*) FROM entities WHERE known_date IS NULL OR known_date <> established") \
        == [(0,)]


def test_reingesting_the_same_drop_changes_nothing_but_is_recorded(settings, tmp_path):
    pens = pd.concat([_penalties(), _penalties(domain=["bad", "food"]).iloc[:1]])
    drop = _drop(tmp_path / "d", entities=(_entities(), "gbk"), penalties=(pens, "parquet"))
    first = ingest(settings, drop, as_of=AS_OF)
    tables = ("entities", "penalties", "penalties_history", "quarantine")
    before = {t: sorted(map(str, _rows(settings, f"SELECT * EXCLUDE ({_volatile(t)}) FROM {t}"))) for t in tables}
    second = ingest(settings, drop, as_of=AS_OF)
    after = {t: sorted(map(str, _rows(settings, f"SELECT * EXCLUDE ({_volatile(t)}) FROM {t}"))) for t in tables}
    assert after == before
    assert second["changes"]["penalties"] == {"new": 0, "revised": 0, "unchanged": 2}
    assert second["quarantined"] == first["quarantined"]  # still counted in the run's summary
    assert second["ingest_id"] != first["ingest_id"]
    assert _rows(settings, "SELECT count(*) FROM ingest_runs") == [(2,)]


def _volatile(table):
    return "ingest_id, quarantined_at" if table == "quarantine" else "_ingest_id"


def test_a_corrupt_file_is_reported_and_the_rest_loads(settings, tmp_path):
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), penalties=(_penalties(), "csv"))
    (drop / "inspections.csv").write_bytes(b"")
    (drop / "complaints.parquet").write_bytes(b"PAR1 garbage")
    (drop / "licences.xlsx").write_bytes(b"PK\x03\x04 truncated zip")
    summary = ingest(settings, drop, as_of=AS_OF)
    assert sorted(summary["corrupt"]) == ["complaints.parquet", "inspections.csv", "licences.xlsx"]
    assert summary["loaded"] == {"entities": 4, "penalties": 2}
    errors = {f["file"]: f["error"] for f in summary["files"] if f["status"] == "corrupt"}
    assert "inspections.csv" in errors["inspections.csv"] and "header" in errors["inspections.csv"]


def test_name_only_opinions_match_one_entity_exactly_or_nobody(settings, tmp_path):
    opinions = pd.DataFrame({
        "opinion_id": ["O1", "O2", "O3", "O4", "O5"], "published_date": ["2021-01-01"] * 5, "source": ["news"] * 5,
        "title": ["t"] * 5,
        "uscc": ["", "", "", "", C4],
        "company_name": ["绿叶茶业(重庆)有限公司 ",  # full-width brackets and a space differ: same name
                         "山水餐饮有限公司",  # two entities carry it: ambiguous
                         "绿叶茶业有限公司",  # similar but different
                         "",  # no name at all
                         "石门旅行社"],  # the vendor's code stands
    })
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), opinions=(opinions, "csv"))
    summary = ingest(settings, drop, as_of=AS_OF)
    got = {r[0]: (r[1], r[2]) for r in _rows(settings, "SELECT opinion_id, uscc, match_method FROM opinions")}
    assert got == {"O1": (C3, "name_exact"), "O2": (None, "unmatched"), "O3": (None, "unmatched"),
                   "O4": (None, "unmatched"), "O5": (C4, "vendor")}
    assert summary["repaired"]["opinions"] == {"name_exact": 1, "name_unmatched": 2}


def test_no_person_name_or_id_number_reaches_warehouse_quarantine_or_output(settings, tmp_path, capsys, caplog):
    relations = pd.DataFrame({
        "relation_id": ["R1", "R2", "R3"], "uscc": [C1, C3, BAD_CHECK],
        "relation_type": ["legal_rep", "shareholder", "legal_rep"],
        "person_name": [PERSON_NAMES[0], PERSON_NAMES[1], PERSON_NAMES[0]],
        "person_id_number": [PERSON_IDS[0], PERSON_IDS[1], PERSON_IDS[0]], "share_ratio": ["", "0.4", ""],
    })
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), relations=(relations, "xlsx"))
    caplog.set_level(logging.DEBUG)
    assert main(["ingest", str(drop), "--home", str(settings.home), "--as-of", "2025-12-31", "--json"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["loaded"]["relations"] == 2 and summary["quarantined"]["relations"] == {"bad_check_character": 1}
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    texts = []
    for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                     "WHERE data_type = 'VARCHAR'").fetchall():
        texts += [v for (v,) in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall() if v]
    keys = {k for (k,) in con.execute("SELECT person_key FROM relations").fetchall()}
    con.close()
    texts += [out.out, out.err, caplog.text]
    for secret in PERSON_NAMES + PERSON_IDS:
        assert not any(secret in t for t in texts), secret
    assert len(keys) == 2 and all(k.startswith("P") for k in keys)  # still linkable through the pseudonym


def test_revised_rows_win_and_old_versions_move_to_history(settings, tmp_path):
    first = _drop(tmp_path / "m1", entities=(_entities(), "csv"),
                  abnormal_list=(pd.DataFrame({"listing_id": ["L1"], "uscc": [C1], "listed_date": ["2024-07-10"],
                                               "reason": ["no_annual_report"]}), "csv"))
    ingest(settings, first, as_of=date(2025, 1, 31))
    removed = pd.DataFrame({"listing_id": ["L1"], "uscc": [C1], "listed_date": ["2024-07-10"],
                            "reason": ["no_annual_report"], "removed_date": ["2025-02-10"],
                            "removal_reason": ["report_filed"], "known_date": ["2025-02-11"]})
    second = _drop(tmp_path / "m2", entities=(_entities(status=["active", "active", "active", "revoked"],
                                                        status_date=["", "", "", "2025-02-01"]), "csv"),
                   abnormal_list=(removed, "csv"))
    summary = ingest(settings, second, as_of=date(2025, 2, 28))
    assert summary["changes"]["abnormal_list"] == {"new": 0, "revised": 1, "unchanged": 0}
    assert summary["changes"]["entities"] == {"new": 0, "revised": 1, "unchanged": 3}
    assert _rows(settings, "SELECT removed_date FROM abnormal_list") == [(date(2025, 2, 10),)]
    history = _rows(settings, "SELECT removed_date, _superseded_by FROM abnormal_list_history")
    assert history == [(None, summary["ingest_id"])]
    assert _rows(settings, "SELECT status FROM entities WHERE uscc = ?", [C4]) == [("revoked",)]
    # re-sending the superseded month-1 drop neither resurrects the old version nor duplicates history
    again = ingest(settings, first, as_of=date(2025, 1, 31))
    assert again["changes"]["abnormal_list"] == {"new": 0, "revised": 0, "unchanged": 1}
    assert _rows(settings, "SELECT count(*) FROM abnormal_list_history") == [(1,)]
    assert _rows(settings, "SELECT removed_date FROM abnormal_list") == [(date(2025, 2, 10),)]


def test_later_drop_may_reference_entities_loaded_earlier(settings, tmp_path):
    ingest(settings, _drop(tmp_path / "m1", entities=(_entities(), "csv")), as_of=AS_OF)
    summary = ingest(settings, _drop(tmp_path / "m2", penalties=(_penalties(), "csv")), as_of=AS_OF)
    assert summary["loaded"] == {"penalties": 2} and summary["quarantined"] == {}


def test_ingest_json_reports_loaded_quarantined_and_ignored_files(settings, tmp_path, capsys):
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"))
    (drop / "readme.txt").write_text("not an extract")
    (drop / "ground_truth").mkdir()
    assert main(["ingest", str(drop), "--home", str(settings.home), "--as-of", "2025-12-31", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loaded"] == {"entities": 4} and data["quarantined"] == {}
    assert set(data["ignored"]) == {"readme.txt", "ground_truth/"}
    assert main(["ingest", str(tmp_path / "missing"), "--home", str(settings.home)]) == 2


def test_chinese_column_headers_of_the_contract_are_accepted(settings, tmp_path):
    labels = {c.name: c.zh for c in SOURCES["penalties"].columns}
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"),
                 penalties=(_penalties().rename(columns=labels), "gbk"))
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["loaded"]["penalties"] == 2 and summary["quarantined"] == {}
    assert _rows(settings, "SELECT domain FROM penalties ORDER BY penalty_id") == [("food",), ("quality",)]


def test_typed_parquet_columns_load_like_their_text(settings, tmp_path):
    frame = _entities().assign(
        established=pd.to_datetime(["2010-01-05", "2012-03-04", "2013-02-03", "2015-06-30"]),
        registered_capital=[125000.0, float("nan"), 300000.0, 500000.0],
        is_foreign_invested=[True, False, None, False],
        entity_type=pd.Categorical(["limited_company", "individual", "limited_company", "limited_company"]),
    )
    drop = _drop(tmp_path / "d", entities=(frame, "parquet"))
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["loaded"] == {"entities": 4} and summary["quarantined"] == {}
    got = _rows(settings, "SELECT established, registered_capital, is_foreign_invested, entity_type FROM entities "
                          "WHERE uscc = ?", [C2])
    assert got == [(date(2012, 3, 4), None, False, "individual")]


def test_typed_parquet_and_text_csv_of_the_same_rows_hash_alike(settings, tmp_path):
    text = _entities(registered_capital=["125000", "", "300000.5", "500000"])
    typed = text.assign(registered_capital=[125000.0, float("nan"), 300000.5, 500000.0],
                        established=pd.to_datetime(["2010-01-05", "2012-03-04", "2013-02-03", "2015-06-30"]))
    ingest(settings, _drop(tmp_path / "csv", entities=(text, "csv")), as_of=AS_OF)
    again = ingest(settings, _drop(tmp_path / "parquet", entities=(typed, "parquet")), as_of=AS_OF)
    assert again["changes"]["entities"] == {"new": 0, "revised": 0, "unchanged": 4}


def test_typed_parquet_values_breaking_a_rule_are_quarantined_with_text_originals(settings, tmp_path):
    reports = pd.DataFrame({"uscc": [C1, C3, C4], "year": [2022, 2023, 2023], "employees": [3.0, 2.5, 4.0],
                            "revenue": [1000.0, 50.0, -7.0],
                            "filed_date": pd.to_datetime(["2023-04-01", "2024-03-01", "2024-03-02"])})
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), annual_reports=(reports, "parquet"))
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["quarantined"]["annual_reports"] == {"bad_type": 1, "out_of_range": 1}
    rows = dict((r[0], (r[1], json.loads(r[2]))) for r in _rows(
        settings, "SELECT rule, detail, original FROM quarantine"))
    assert "employees" in rows["bad_type"][0] and "2.5" in rows["bad_type"][0]
    assert rows["out_of_range"][1]["revenue"] == "-7.0" and rows["out_of_range"][1]["filed_date"] == "2024-03-02"
    assert _rows(settings, "SELECT employees, revenue FROM annual_reports") == [(3, 1000.0)]


def test_unmatched_name_only_opinions_are_matched_when_a_later_drop_adds_the_entity(settings, tmp_path):
    opinion = pd.DataFrame({"opinion_id": ["O1"], "published_date": ["2021-01-01"], "source": ["news"],
                            "title": ["t"], "company_name": ["新来的酒店有限公司"]})
    first = ingest(settings, _drop(tmp_path / "m1", entities=(_entities(), "csv"), opinions=(opinion, "csv")),
                   as_of=AS_OF)
    assert first["repaired"]["opinions"] == {"name_unmatched": 1}
    newcomer = _entities().iloc[:1].assign(uscc=[uscc.complete("91500000MA0000099")], name=["新来的酒店有限公司"])
    second = ingest(settings, _drop(tmp_path / "m2", entities=(newcomer, "csv")), as_of=AS_OF)
    assert second["repaired"]["opinions"] == {"name_rematched": 1}
    assert _rows(settings, "SELECT uscc, match_method FROM opinions") == [(newcomer["uscc"][0], "name_exact")]
    again = ingest(settings, _drop(tmp_path / "m1", opinions=(opinion, "csv")), as_of=AS_OF)
    assert again["changes"]["opinions"] == {"new": 0, "revised": 0, "unchanged": 1}
    assert _rows(settings, "SELECT uscc FROM opinions") == [(newcomer["uscc"][0],)]


def test_batch_pseudonyms_equal_core_pseudonymise():
    from core.pseudonym import pseudonymise
    from features.normalise import pseudonymise_many

    values = [*PERSON_IDS, " 51010219851212002x ", "", None, float("nan"), 42, "身份证号"]
    for key in (b"k", b"x" * 100):  # short key, and one longer than the SHA-256 block
        assert pseudonymise_many(values, key=key) == [pseudonymise(v, key=key) for v in values]
