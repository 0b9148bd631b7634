"""Ingest of broken input: malformed and mixed-encoding lines, wrong headers, oversized fields, empty or unusable
drops. Nothing is lost (good rows load, bad lines are quarantined), no personal data is echoed, exit codes say 2."""

import json
from datetime import date

import duckdb
import pandas as pd
import pytest

from core import uscc
from core.cli import main
from features import masking
from features.ingest import ingest
from features.normalise import pseudonymise_many
from features.readers import read_extract
from features.sources import SOURCES
from features.validate import field_limit

AS_OF = date(2025, 12, 31)
C1, C2 = (uscc.complete(f"9150000{i}MA000000{i}") for i in (1, 2))
HEADER = "relation_id,uscc,relation_type,person_name,person_id_number,related_uscc,share_ratio,start_date"
KEY = b"test-key-not-secret"


def id_number(body17: str) -> str:
    """An 18-digit resident ID number with its GB 11643 (ISO 7064 MOD 11-2) check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


ID_A, ID_B, ID_C = id_number("11010119900307123"), id_number("51010219851212002"), id_number("32050119770815441")
PHONE = "13912345678"


def _entities(folder):
    pd.DataFrame({"uscc": [C1, C2], "name": ["山水餐饮有限公司", "石门旅行社"], "entity_type": ["limited_company"] * 2,
                  "industry_code": ["6210", "7271"], "town_code": ["01", "02"], "established": ["2010-01-05"] * 2,
                  "status": ["active"] * 2}).to_csv(folder / "entities.csv", index=False)


def _drop(tmp_path, relations: bytes | None = None):
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    _entities(folder)
    if relations is not None:
        (folder / "relations.csv").write_bytes(relations)
    return folder


def _rows(settings, sql, params=None):
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _lines(*lines: str, encoding="utf-8") -> bytes:
    return "".join(line + "\n" for line in lines).encode(encoding)


def test_id_number_helper_makes_valid_check_characters():
    assert id_number("11010519491231002") == "11010519491231002X"  # the worked example of GB 11643


def test_a_malformed_line_is_quarantined_masked_with_its_line_number_and_the_good_rows_load(settings, tmp_path):
    raw = _lines(HEADER,
                 f"R1,{C1},legal_rep,张伟明,{ID_A},,,2015-01-01",
                 f"R2,{C1},shareholder,李,秀英,{ID_B},,0.4,2016-01-01",  # unquoted comma in the name: one field too many
                 f"R3,{C2},legal_rep,王芳,{ID_C},,,2017-01-01",
                 f"R4,{C2},executive,赵六",  # cut short
                 f"R5,{C2},shareholder,孙七,{ID_A},,0.6,2018-01-01")
    summary = ingest(settings, _drop(tmp_path, raw), as_of=AS_OF)
    assert summary["loaded"]["relations"] == 3
    assert summary["quarantined"]["relations"] == {"malformed_line": 2}
    assert [f for f in summary["files"] if f["table"] == "relations"][0]["rows"] == 5
    assert _rows(settings, "SELECT relation_id FROM relations ORDER BY 1") == [("R1",), ("R3",), ("R5",)]
    got = _rows(settings, "SELECT rule, detail, row_number, original FROM quarantine ORDER BY row_number")
    assert [(r[0], r[2]) for r in got] == [("malformed_line", 2), ("malformed_line", 4)]
    assert got[0][1] == "line 3: expected 8 fields as in the header, got 9"
    first, second = json.loads(got[0][3]), json.loads(got[1][3])
    assert first["line"] == 3 and first["found_fields"] == 9 and first["expected_fields"] == 8
    assert first["fields"][:3] == ["R2", C1, "shareholder"]  # what locates the row at the source
    pseudonym = pseudonymise_many([ID_B], key=KEY)[0]
    assert f"[person_key:{pseudonym}]" in first["fields"]  # linkable to the warehouse's person_key
    assert second["line"] == 5 and second["fields"][0] == "R4"
    stored = json.dumps([json.loads(r[3]) for r in got], ensure_ascii=False) + "".join(r[1] for r in got)
    for secret in ("李", "秀英", ID_B, "赵六"):
        assert secret not in stored, secret
    # good rows keep their own data row numbers: a later rule quarantine points at the right row
    keys = dict(_rows(settings, "SELECT relation_id, person_key FROM relations"))
    assert keys["R5"] == keys["R1"] == pseudonymise_many([ID_A], key=KEY)[0]


def test_row_numbers_after_a_skipped_line_still_point_at_the_data_row(settings, tmp_path):
    raw = _lines(HEADER, f"R1,{C1},legal_rep,甲,{ID_A},x,y,z,w", f"R2,{C1},legal_rep,乙,{ID_B},,,2015-13-01")
    ingest(settings, _drop(tmp_path, raw), as_of=AS_OF)
    assert dict(_rows(settings, "SELECT rule, row_number FROM quarantine")) == {"malformed_line": 1,
                                                                                 "impossible_date": 2}


def test_mixed_gbk_and_utf8_lines_are_decoded_line_by_line_and_counted(settings, tmp_path):
    raw = (_lines(HEADER, f"R1,{C1},legal_rep,张伟明,{ID_A},,,2015-01-01")
           + _lines(f"R2,{C1},shareholder,李秀英,{ID_B},,0.4,2016-01-01", encoding="gbk")
           + _lines(f"R3,{C2},legal_rep,王芳,{ID_C},,,2017-01-01")
           + _lines(f"R4,{C2},executive,欧阳·娜娜,{ID_A},,,2018-01-01", encoding="gb18030")
           + f"R5,{C2},legal_rep,".encode() + b"\xff\xfe\x81" + f",{ID_C},,,2018-01-01\n".encode())
    extract = read_extract(_drop(tmp_path, raw) / "relations.csv", "relations")
    assert extract.encoding == "mixed" and extract.redecoded == 2
    assert extract.data.column("person_name").to_pylist() == ["张伟明", "李秀英", "王芳", "欧阳·娜娜"]
    summary = ingest(settings, tmp_path / "drop", as_of=AS_OF)
    assert summary["loaded"]["relations"] == 4
    assert summary["repaired"]["relations"] == {"gbk_encoding": 2}
    assert summary["quarantined"]["relations"] == {"undecodable_line": 1}
    (detail, original), = _rows(settings, "SELECT detail, original FROM quarantine")
    assert detail.startswith("line 6:") and ID_C not in original
    assert json.loads(original)["fields"][0] == "R5"


def test_a_file_wholly_in_gbk_counts_every_re_decoded_line(tmp_path):
    raw = _lines(HEADER, *(f"R{i},{C1},legal_rep,张{i},{ID_A},,,2015-01-01" for i in range(5)), encoding="gbk")
    extract = read_extract(_drop(tmp_path, raw) / "relations.csv", "relations")
    assert (extract.encoding, extract.redecoded, extract.rows) == ("gbk", 5, 5)


def test_a_wrong_header_refuses_the_file_naming_expected_and_found_columns_and_exits_2(settings, tmp_path, capsys):
    raw = _lines("relation,usc,relation_type,person_name,person_id_number",
                 f"R1,{C1},legal_rep,张伟明,{ID_A}")
    drop = _drop(tmp_path, raw)
    code = main(["ingest", str(drop), "--home", str(settings.home), "--as-of", "2025-12-31", "--json"])
    out = capsys.readouterr()
    assert code == 2
    summary = json.loads(out.out)
    assert summary["refused"] == ["relations.csv"] and summary["loaded"] == {"entities": 2}
    error = [f for f in summary["files"] if f["file"] == "relations.csv"][0]["error"]
    assert "missing required relation_id, uscc" in error
    assert "found relation, usc, relation_type, person_name, person_id_number" in error
    assert "expected the columns of relations (relation_id, uscc, relation_type," in error
    assert "usc (did you mean uscc?)" in error
    assert _rows(settings, "SELECT count(*) FROM quarantine") == [(0,)]  # nothing half-loaded
    assert "ID_A" not in out.err and ID_A not in out.out + out.err
    # the same file with its header fixed loads every row: nothing was lost
    (drop / "relations.csv").write_bytes(raw.replace(b"relation,usc,", b"relation_id,uscc,", 1))
    again = ingest(settings, drop, as_of=AS_OF)
    assert again["loaded"]["relations"] == 1 and again["refused"] == []


def test_a_header_that_fits_few_of_its_lines_is_refused(settings, tmp_path):
    raw = _lines(HEADER + ",", *(f"R{i},{C1},legal_rep,张{i},{ID_A},,,2015-01-01" for i in range(3)),
                 f"R9,{C1},legal_rep,张九,{ID_A},,,2015-01-01,")
    summary = ingest(settings, _drop(tmp_path, raw), as_of=AS_OF)
    assert summary["refused"] == ["relations.csv"] and "relations" not in summary["loaded"]
    error = summary["files"][-1]["error"]
    assert "expected every line to have the 9 fields of its header" in error and "3 of 4 lines do not (3 have 8)" in error
    assert ID_A not in error and "张" not in error


def test_a_misspelt_optional_column_is_refused_rather_than_dropped(settings, tmp_path):
    raw = _lines(HEADER.replace("share_ratio", "share_ration"), f"R1,{C1},shareholder,张伟明,{ID_A},,0.5,2015-01-01")
    summary = ingest(settings, _drop(tmp_path, raw), as_of=AS_OF)
    assert summary["refused"] == ["relations.csv"]
    assert "share_ration (did you mean share_ratio?)" in summary["files"][-1]["error"]


def test_a_header_that_is_really_a_data_row_is_refused_without_echoing_it(settings, tmp_path, capsys):
    raw = _lines(f"R1,{C1},legal_rep,张伟明,{ID_A},{PHONE},,2015-01-01", f"R2,{C1},legal_rep,李秀英,{ID_B},,,2015-01-01")
    assert main(["ingest", str(_drop(tmp_path, raw)), "--home", str(settings.home), "--as-of", "2025-12-31"]) == 2
    out = capsys.readouterr()
    assert "REFUSED relations.csv" in out.out
    stored = _rows(settings, "SELECT summary FROM ingest_runs")[0][0]
    for secret in (ID_A, ID_B, PHONE, "张伟明", "李秀英"):
        assert secret not in out.out + out.err + stored, secret


def test_extra_columns_are_reported_masked_and_their_values_never_stored(settings, tmp_path):
    raw = _lines(HEADER + ",联系电话", f"R1,{C1},legal_rep,张伟明,{ID_A},,,2015-01-01,{PHONE}")
    summary = ingest(settings, _drop(tmp_path, raw), as_of=AS_OF)
    assert summary["loaded"]["relations"] == 1
    assert summary["files"][-1]["extra_columns"] == ["联系电话"]
    assert not any(PHONE in str(v) for row in _rows(settings, "SELECT * FROM relations") for v in row)


def test_an_oversized_title_is_quarantined_by_the_configured_limit_and_stored_cut(settings, tmp_path):
    limit = field_limit("opinions", "title")
    title = "标" * (10 * 1024 * 1024 // 3)  # a 10 MB field (UTF-8)
    frame = pd.DataFrame({"opinion_id": ["O1", "O2", "O3"], "published_date": ["2021-01-01"] * 3,
                          "source": ["news"] * 3, "title": [title, "正常标题", "标" * limit], "uscc": [C1, C1, C2]})
    drop = _drop(tmp_path)
    frame.to_csv(drop / "opinions.csv", index=False)
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["quarantined"]["opinions"] == {"oversized_field": 1}
    assert summary["loaded"]["opinions"] == 2  # a title of exactly the limit loads
    (detail, original), = _rows(settings, "SELECT detail, original FROM quarantine")
    assert detail == f"title: expected at most {limit:,} characters, got {len(title):,}"
    kept = json.loads(original)["title"]
    assert len(kept) < 300 and kept.startswith("标" * masking.CUT) and f"{len(title):,} characters" in kept


def test_quarantined_rows_have_id_and_phone_numbers_masked_in_values_and_details(settings, tmp_path):
    frame = pd.DataFrame({"opinion_id": ["O1"], "published_date": ["2021-01-01"], "source": [f"call {PHONE}"],
                          "title": [f"投诉人身份证{ID_A}，电话{PHONE}"], "text": [f"86-{PHONE} / 023-68881234"], "uscc": [C1]})
    drop = _drop(tmp_path)
    frame.to_csv(drop / "opinions.csv", index=False)
    summary = ingest(settings, drop, as_of=AS_OF)
    assert summary["quarantined"]["opinions"] == {"bad_enum": 1}
    (detail, original), = _rows(settings, "SELECT detail, original FROM quarantine")
    assert detail == "source: expected one of news, weibo, wechat, forum, video, travel_review; got 'call [masked:phone]'"
    values = json.loads(original)
    assert values["title"] == "投诉人身份证[masked:id_number]，电话[masked:phone]"
    assert values["text"] == "[masked:phone] / [masked:phone]"


def test_corrupt_files_exit_2_with_the_rest_of_the_drop_loaded(settings, tmp_path, capsys):
    drop = _drop(tmp_path)
    (drop / "penalties.parquet").write_bytes(b"PAR1 garbage")
    assert main(["ingest", str(drop), "--home", str(settings.home), "--as-of", "2025-12-31", "--json"]) == 2
    summary = json.loads(capsys.readouterr().out)
    assert summary["corrupt"] == ["penalties.parquet"] and summary["loaded"] == {"entities": 2}


@pytest.mark.parametrize("names", [[], ["notes.txt", "Relations.json"], ["2025-06/"]])
def test_an_empty_or_misnamed_drop_is_an_error_naming_what_was_expected(settings, tmp_path, capsys, names):
    drop = tmp_path / "drop"
    drop.mkdir()
    for name in names:
        (drop / name.rstrip("/")).mkdir() if name.endswith("/") else (drop / name).write_text("x")
    assert main(["ingest", str(drop), "--home", str(settings.home)]) == 2
    err = capsys.readouterr().err
    assert "expected source extracts" in err and "<table>.csv|.parquet|.xlsx" in err and "entities" in err
    assert all(n in err for n in names) and ("it is empty" in err) == (not names)
    assert not settings.warehouse_path.exists()  # nothing ran


def test_table_names_match_whatever_their_case(settings, tmp_path):
    drop = _drop(tmp_path)
    (drop / "entities.csv").rename(drop / "ENTITIES.CSV")
    assert ingest(settings, drop, as_of=AS_OF)["loaded"] == {"entities": 2}


def test_masking_patterns_and_alignment():
    old_id = "110101900307123"  # the 15-digit form (before 1999)
    assert masking.mask_text(f"{ID_A}|{old_id}|{ID_A[:-1]}|+86 {PHONE}|{PHONE}0|0571-88886666|{C1}") == \
        f"[masked:id_number]|[masked:id_number]|{ID_A[:-1]}|+[masked:phone]|{PHONE}0|[masked:phone]|{C1}"
    header = SOURCES["relations"].names[:8]
    # one field too many after the name: both alignments, the ID pseudonymised, nothing personal left
    fields = masking.mask_fields(["R1", C1, "legal_rep", "欧阳", "娜娜", ID_A, "", "0.5", "2015-01-01"], header,
                                 SOURCES["relations"], key=KEY)
    assert fields[:3] == ["R1", C1, "legal_rep"] and fields[-2:] == ["0.5", "2015-01-01"]
    assert fields[3:5] == ["[masked:personal]"] * 2 and fields[5].startswith("[person_key:P")
    # a table without personal columns keeps its fields, patterns masked
    assert masking.mask_fields(["O1", f"电话{PHONE}"], ["opinion_id", "title"], SOURCES["opinions"], key=KEY) == \
        ["O1", "电话[masked:phone]"]
