"""Reading extracts: encodings, formats, corrupt files and which files of a drop count."""

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest

from features.readers import CorruptFile, find_extracts, read_extract

FRAME = pd.DataFrame({"uscc": ["91350100M000100Y43"], "name": ["山水餐饮（重庆）有限公司"], "established": ["2010-01-05"]})


def test_gbk_csv_is_detected_and_decoded(tmp_path):
    path = tmp_path / "entities.csv"
    FRAME.to_csv(path, index=False, encoding="gbk")
    ext = read_extract(path, "entities")
    assert ext.encoding == "gbk"
    assert ext.data.column("name").to_pylist() == ["山水餐饮（重庆）有限公司"]


def test_utf8_csv_with_bom_keeps_header_and_text_as_strings(tmp_path):
    path = tmp_path / "entities.csv"
    path.write_bytes("\ufeffuscc,name,code\n91350100M000100Y43,山水,007\n".encode())
    ext = read_extract(path, "entities")
    assert ext.encoding == "utf-8"
    assert ext.data.column_names == ["uscc", "name", "code"]
    assert ext.data.column("code").to_pylist() == ["007"]  # leading zeros survive: every column is text


def test_excel_is_read_as_text_with_date_cells_as_iso_dates(tmp_path):
    path = tmp_path / "entities.xlsx"
    FRAME.assign(registered_capital=[125000], status_date=[datetime(2021, 3, 4)], gap=[None],
                 is_foreign_invested=[False]).to_excel(path, index=False)
    ext = read_extract(path, "entities")
    assert ext.format == "xlsx" and ext.rows == 1
    assert ext.data.schema == pa.schema([(name, pa.string()) for name in ext.data.column_names])
    row = ext.data.to_pylist()[0]
    assert row["name"] == "山水餐饮（重庆）有限公司" and row["registered_capital"] == "125000"
    assert row["status_date"] == "2021-03-04" and row["is_foreign_invested"] == "false"
    assert row["gap"] in (None, "")


@pytest.mark.parametrize(("name", "content"), [
    ("entities.csv", b""),
    ("entities.parquet", b"PAR1 this is not parquet"),
    ("entities.xlsx", b"PK\x03\x04 not a zip archive"),
    ("entities.csv", b"\xff\xfe\x00\xd8 neither utf-8 nor gbk \xff\xff"),
])
def test_corrupt_files_raise_corrupt_file_naming_the_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorruptFile, match=name.replace(".", r"\.")):
        read_extract(path, "entities")


def test_find_extracts_lists_entities_first_and_ignores_other_files(tmp_path):
    for name in ("penalties.csv", "entities.parquet", "synth_report.json", "notes.csv", "relations.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "ground_truth").mkdir()
    (tmp_path / "ground_truth" / "entities.parquet").write_text("x")
    found, ignored = find_extracts(tmp_path)
    assert [t for t, _ in found] == ["entities", "penalties"]
    assert set(ignored) == {"synth_report.json", "notes.csv", "relations.txt", "ground_truth/"}


def test_bad_lines_get_their_physical_line_and_the_good_rows_their_row_numbers(tmp_path):
    path = tmp_path / "relations.csv"
    path.write_bytes(b'relation_id,uscc,relation_type\r\nR1,a,"two\r\nlines"\r\nR2,b\r\n\r\nR3,c,d\r\n'
                     b'R4,e,f,g\r\nR5,"x\r\ny"\r\nR6,a,b\r\n')
    ext = read_extract(path, "relations")
    assert [(b.rule, b.line, b.row, b.fields) for b in ext.bad_lines] == [
        ("malformed_line", 4, 2, ("R2", "b")), ("malformed_line", 7, 4, ("R4", "e", "f", "g")),
        ("malformed_line", 8, 5, ("R5", "x\r\ny"))]
    assert ext.data.column("relation_id").to_pylist() == ["R1", "R3", "R6"]
    assert ext.row_numbers.to_pylist() == [1, 3, 6] and ext.rows == 6
