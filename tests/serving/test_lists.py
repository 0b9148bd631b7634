"""Lists as people hold them: a GBK CSV or an Excel list of 1,000 names and codes comes back, in the same
format, with tier, reasons, status and match notes; through the upload endpoint and ``credit-risk lookup``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from core.errors import UserError
from serving.lists import APPENDED, annotate_list, sniff

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AMBIGUOUS = "企业5"


@pytest.fixture(scope="module")
def district(served):
    """The served home's warehouse holds the entities' names (one name carried by two entities)."""
    from features.warehouse import connect

    newest = served.frame[served.frame["as_of"] == served.frame["as_of"].max()]
    names = dict(zip(newest["uscc"], newest["name"], strict=True))
    twin = next(c for c, n in names.items() if n == AMBIGUOUS)
    con = connect(served.settings)
    try:
        rows = list(names.items()) + [(twin[:-6] + "AAAAA" + twin[-1], AMBIGUOUS)]
        con.executemany("INSERT INTO entities (uscc, name) VALUES (?, ?)", rows)
    finally:
        con.close()
    return names


def _rows(served, names: dict[str, str], n: int = 1_000) -> list[list[str]]:
    """n rows (序号, 企业名称, 统一社会信用代码): codes on even rows, names only on odd ones, and some
    closed, unknown-name, ambiguous-name and bad-check-character rows."""
    codes = sorted(names)
    out = []
    for i in range(n):
        code = codes[i % len(codes)]
        row = [str(i + 1), names[code], code if i % 2 == 0 else ""]
        if i % 97 == 0:
            row[1:] = ["不存在的公司", ""]
        if i % 101 == 0:
            row[1:] = [AMBIGUOUS, ""]
        if i % 89 == 0:
            row[2] = code[:17] + ("0" if code[17] != "0" else "1")
        if i % 83 == 0:
            row[1:] = [names[served.closed[0]], served.closed[0]]
        out.append(row)
    return out


HEADER = ["序号", "企业名称", "统一社会信用代码"]


def _check(header: list[str], rows: list[list[str]], sent: list[list[str]], served) -> None:
    assert header == HEADER + list(APPENDED)
    assert [r[:3] for r in rows] == sent  # the same list, in the same order, original cells kept
    col = {name: i for i, name in enumerate(header)}
    by_outcome: dict[str, list] = {}
    for r in rows:
        by_outcome.setdefault(r[col["outcome"]], []).append(r)
    scored = by_outcome["scored"]
    assert len(scored) > 800 and all(r[col["tier"]] in "ABCD" and r[col["tier_zh"]].startswith("信用风险")
                                     for r in scored)
    assert all(r[col["reasons_zh"]] for r in scored if r[col["tier"]] in "CD")  # risk-raising reasons, in Chinese
    by_name = [r for r in scored if not r[2]]
    assert by_name and all("按名称匹配" in r[col["match_note"]] and r[col["matched_uscc"]] for r in by_name)
    assert all("check character" in r[col["match_note"]] for r in by_outcome["invalid_code"])
    assert all(r[col["entity_status"]] == "注销" and r[col["last_tier"]] in "ABCD"
               for r in by_outcome["not_in_publication"])
    assert all("未找到" in r[col["match_note"]] for r in by_outcome["no_match"])
    assert all("2个主体" in r[col["match_note"]] for r in by_outcome["ambiguous_name"])


def test_a_gbk_csv_list_of_1000_names_and_codes_comes_back_in_gbk_with_tiers_and_notes(served, district):
    sent = _rows(served, district)
    text = io.StringIO()
    csv.writer(text).writerows([HEADER, *sent])
    body = text.getvalue().encode("gbk")
    r = httpx.post(f"{served.url}/v1/lists/lookup", content=body, timeout=60,
                   headers={**served.headers("planner"), "content-type": "text/csv"})
    assert r.status_code == 200, r.text[:300]
    assert "gb18030" in r.headers["content-type"]
    back = list(csv.reader(io.StringIO(r.content.decode("gb18030"))))
    _check(back[0], back[1:], sent, served)


def test_an_excel_list_comes_back_as_excel_through_the_endpoint_and_the_cli(served, district, tmp_path):
    sent = _rows(served, district)
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *sent]:
        sheet.append(row)
    path = tmp_path / "名单.xlsx"
    book.save(path)
    r = httpx.post(f"{served.url}/v1/lists/lookup", content=path.read_bytes(), timeout=60,
                   headers={**served.headers("repair_officer"), "content-type": XLSX})
    assert r.status_code == 200, r.text[:300]
    rows = [["" if v is None else str(v) for v in row]
            for row in load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0].iter_rows(values_only=True)]
    _check(rows[0], rows[1:], sent, served)

    out = tmp_path / "结果.xlsx"
    env = {**os.environ, "CREDIT_RISK_HOME": str(served.settings.home), "CREDIT_RISK_DB_URL": served.settings.db_url}
    done = subprocess.run([str(Path(sys.executable).parent / "credit-risk"), "lookup", "--file", str(path),
                           "--out", str(out), "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["rows"] == len(sent) and summary["format"] == "xlsx" and summary["matched_by_name"] > 0
    cli_rows = [["" if v is None else str(v) for v in row]
                for row in load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True)]
    assert cli_rows == rows


def test_a_list_without_a_code_or_name_column_is_refused_naming_the_columns(served):
    r = httpx.post(f"{served.url}/v1/lists/lookup", content=b"a,b\n1,2\n", timeout=30,
                   headers={**served.headers("planner"), "content-type": "text/csv"})
    assert r.status_code == 400 and "统一社会信用代码" in r.json()["error"] and "['a', 'b']" in r.json()["error"]
    with pytest.raises(UserError, match="empty list"):
        annotate_list(io.BytesIO(b""), io.BytesIO(), resolve=lambda c: ([], {}), match_names=None)


@pytest.mark.parametrize(("data", "expected"), [
    ("代码\n".encode("gbk"), ("csv", "gb18030")), ("代码\n".encode(), ("csv", "utf-8")),
    (b"\xef\xbb\xbfuscc\n", ("csv", "utf-8-sig")), (b"PK\x03\x04", ("xlsx", None)),
])
def test_sniff_tells_excel_utf8_and_gbk_apart(data, expected):
    assert sniff(data) == expected
