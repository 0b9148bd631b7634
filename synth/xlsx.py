"""A minimal, fast .xlsx writer for text tables: one worksheet of inline strings (openpyxl reads it back)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '</Types>'),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="{_DOC_REL}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="{_DOC_REL}/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'),
}
_FIXED_TIME = (2016, 1, 1, 0, 0, 0)  # same bytes for the same table


def _letters(j: int) -> str:
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _escape(values: pd.Series) -> np.ndarray:
    s = values.astype(object).where(values.notna(), None)
    text = pd.Series(s, dtype="string")
    text = (text.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False))
    return text.to_numpy(dtype=object, na_value=None)


def write(df: pd.DataFrame, path: str | Path, *, sheet: str) -> None:
    """Write ``df`` (text or missing values) as the only worksheet ``sheet`` of a new workbook at ``path``.

    Every cell is an inline string with its reference; a missing value leaves its cell out.
    """
    n = len(df)
    rows = np.arange(2, n + 2).astype(str).astype(object)
    body = np.full(n, "", dtype=object)
    header = []
    for j, name in enumerate(df.columns):
        col = _letters(j)
        header.append(f'<c r="{col}1" t="inlineStr"><is><t>{_escape(pd.Series([name]))[0]}</t></is></c>')
        vals = _escape(df[name])
        present = np.array([v is not None for v in vals], dtype=bool)
        cell = np.full(n, "", dtype=object)
        cell[present] = (f'<c r="{col}' + rows[present] + '" t="inlineStr"><is><t xml:space="preserve">'
                         + vals[present] + "</t></is></c>")
        body = body + cell
    lines = '<row r="' + rows + '">' + body + "</row>"
    sheet_xml = (f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData><row r="1">{"".join(header)}</row>'
                 + "".join(lines.tolist()) + "</sheetData></worksheet>")
    workbook = (f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheets>'
                f'<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>')
    parts = {**{k: _HEAD + v for k, v in _PARTS.items()}, "xl/workbook.xml": workbook,
             "xl/worksheets/sheet1.xml": sheet_xml}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            book.writestr(info, text.encode("utf-8"))
