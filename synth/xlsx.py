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
_ROW_BYTES_BOUND = 1024  # sheet XML bytes a row of a source table stays under (for the ZIP64 decision)


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


class SheetWriter:
    """A new workbook at ``path`` whose only worksheet ``sheet`` is written row block by row block (``add``):
    the sheet's XML is compressed as it comes, so only one block is held as text at a time.

    Every cell is an inline string with its reference; a missing value leaves its cell out. The bytes do not
    depend on how the rows are split into blocks. ``rows_hint`` (an upper bound of the rows to come) decides
    whether the sheet gets ZIP64 headers (needed past 2 GiB of XML; assumed when the bound is unknown).
    """

    def __init__(self, path: str | Path, *, sheet: str, rows_hint: int | None = None) -> None:
        self.path, self.sheet, self.rows = Path(path), sheet, 0
        self.zip64 = rows_hint is None or rows_hint * _ROW_BYTES_BOUND * 1.05 > zipfile.ZIP64_LIMIT
        self.book = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED)
        self.stream = None

    def add(self, df: pd.DataFrame) -> None:
        """Append the rows of ``df`` (text or missing values; the first block's columns make the header)."""
        if self.stream is None:
            self._open([str(c) for c in df.columns])
        n = len(df)
        if not n:
            return
        rows = np.arange(self.rows + 2, self.rows + n + 2).astype(str).astype(object)
        body = np.full(n, "", dtype=object)
        for j, name in enumerate(df.columns):
            col = _letters(j)
            vals = _escape(df[name])
            present = np.array([v is not None for v in vals], dtype=bool)
            cell = np.full(n, "", dtype=object)
            cell[present] = (f'<c r="{col}' + rows[present] + '" t="inlineStr"><is><t xml:space="preserve">'
                             + vals[present] + "</t></is></c>")
            body = body + cell
        lines = '<row r="' + rows + '">' + body + "</row>"
        self.stream.write("".join(lines.tolist()).encode("utf-8"))
        self.rows += n

    def _open(self, columns: list[str]) -> None:
        for name, text in _PARTS.items():
            self._part(name, _HEAD + text)
        workbook = (f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheets>'
                    f'<sheet name="{self.sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>')
        self._part("xl/workbook.xml", workbook)
        header = "".join(f'<c r="{_letters(j)}1" t="inlineStr"><is><t>{_escape(pd.Series([name]))[0]}</t></is></c>'
                         for j, name in enumerate(columns))
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        self.stream = self.book.open(info, "w", force_zip64=self.zip64)
        self.stream.write(f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData><row r="1">{header}</row>'.encode())

    def _part(self, name: str, text: str) -> None:
        info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        self.book.writestr(info, text.encode("utf-8"))

    def close(self) -> None:
        try:
            if self.stream is None:
                raise RuntimeError(f"expected at least one block of rows (the header) for {self.path.name}")
            self.stream.write(b"</sheetData></worksheet>")
            self.stream.close()
        finally:
            self.book.close()

    def __enter__(self) -> SheetWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write(df: pd.DataFrame, path: str | Path, *, sheet: str) -> None:
    """Write ``df`` (text or missing values) as the only worksheet ``sheet`` of a new workbook at ``path``."""
    with SheetWriter(path, sheet=sheet, rows_hint=len(df)) as book:
        book.add(df)
