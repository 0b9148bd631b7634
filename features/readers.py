"""Readers for source extracts: Parquet, CSV (UTF-8 or GBK) and Excel, each read as an Arrow table."""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pyarrow as pa

from core.errors import NotFound
from features.sources import SOURCES

FORMATS = {".parquet": "parquet", ".csv": "csv", ".xlsx": "xlsx"}
IGNORED_FOLDERS = ("ground_truth",)  # hidden truth written by synth: never read by production code
_CHUNK = 1 << 20


class CorruptFile(Exception):
    """A file that cannot be read as the format its name claims."""


@dataclass(frozen=True)
class Extract:
    """One source file as read: which table it holds, how it was encoded, and its rows (all as read)."""

    path: Path
    table: str
    format: str  # parquet | csv | xlsx
    encoding: str | None  # utf-8 | gbk for CSV; None otherwise
    data: pa.Table

    @property
    def rows(self) -> int:
        return self.data.num_rows


def find_extracts(drop_dir: str | Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """List the contract files of a drop folder, ``entities`` first, and everything else it ignores.

    Returns:
        ``([(table, path), ...], [ignored names])``; a file is a contract file when its stem is a
        source-table name and its suffix one of ``.parquet``, ``.csv``, ``.xlsx``.
    """
    folder = Path(drop_dir)
    if not folder.is_dir():
        raise NotFound(f"expected a folder of source extracts, got {str(folder)!r}")
    order = {name: i for i, name in enumerate(SOURCES)}
    found, ignored = [], []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.stem in SOURCES and path.suffix.lower() in FORMATS:
            found.append((path.stem, path))
        else:
            ignored.append(path.name + ("/" if path.is_dir() else ""))
    found.sort(key=lambda item: (order[item[0]], item[1].name))
    return found, ignored


def read_extract(path: str | Path, table: str) -> Extract:
    """Read one extract; raise :class:`CorruptFile` saying what is wrong when it cannot be read."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CorruptFile(f"{path.name}: expected a .parquet, .csv or .xlsx file, got {path.suffix!r}")
    encoding = None
    try:
        if fmt == "parquet":
            data = _read_parquet(path)
        elif fmt == "csv":
            encoding = detect_encoding(path)
            data = _read_csv(path, encoding)
        else:
            data = _read_xlsx(path)
    except CorruptFile:
        raise
    except Exception as exc:  # any reader failure means the file is unusable as delivered
        raise CorruptFile(f"{path.name}: cannot read as {fmt}: {type(exc).__name__}: {str(exc)[:200]}") from None
    return Extract(path=path, table=table, format=fmt, encoding=encoding, data=data)


def detect_encoding(path: str | Path) -> str:
    """``"utf-8"`` when the file decodes as UTF-8, else ``"gbk"`` when it decodes as GB18030 (a GBK superset)."""
    for name, codec in (("utf-8", "utf-8-sig"), ("gbk", "gb18030")):
        if _decodes(Path(path), codec):
            return name
    raise CorruptFile(f"{Path(path).name}: expected UTF-8 or GBK text, got bytes that decode as neither")


def _decodes(path: Path, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _read_csv(path: Path, encoding: str) -> pa.Table:
    from pyarrow import csv as pacsv

    codec = "utf-8-sig" if encoding == "utf-8" else "gb18030"
    with path.open("r", encoding=codec, newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise CorruptFile(f"{path.name}: expected a header row, got an empty file")
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding="utf8" if encoding == "utf-8" else "gb18030"),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=False,
        ),
    )


def _read_xlsx(path: Path) -> pa.Table:
    """The first worksheet as text columns, read by streaming its XML (much faster than openpyxl's cell
    objects); date-formatted numeric cells become ISO dates."""
    with zipfile.ZipFile(path) as book:
        shared = _shared_strings(book)
        date_styles = _date_styles(book)
        rows: list[dict[int, str]] = []
        row_tag, cell_tag, text_tag = _NS + "row", _NS + "c", _NS + "t"
        columns: dict[str, int] = {}  # cell reference letters -> column index
        with book.open(_first_sheet(book)) as fh:
            for _, el in ElementTree.iterparse(fh):
                if el.tag != row_tag:
                    continue
                row: dict[int, str] = {}
                for cell in el:
                    if cell.tag != cell_tag:
                        continue
                    ref = cell.get("r")
                    if ref:
                        letters = ref.rstrip("0123456789")
                        col = columns.get(letters)
                        if col is None:
                            col = columns[letters] = _column_index(letters)
                    else:
                        col = len(row)
                    kind = cell.get("t")
                    if kind == "inlineStr":
                        box = cell[0] if len(cell) == 1 else None
                        if box is not None and len(box) == 1 and box[0].tag == text_tag:  # one plain run
                            row[col] = box[0].text or ""
                        else:
                            row[col] = "".join(t.text or "" for t in cell.iter(text_tag))
                        continue
                    value = cell.findtext(_NS + "v")
                    if value is None:
                        continue
                    if kind == "s":
                        value = shared[int(value)]
                    elif kind == "b":
                        value = "true" if value == "1" else "false"
                    elif kind in (None, "n") and cell.get("s") in date_styles:
                        value = _excel_date(value)
                    row[col] = value
                rows.append(row)
                el.clear()
    if not rows:
        raise CorruptFile(f"{path.name}: expected a header row, got an empty worksheet")
    header = rows[0]
    names = [header.get(i) or f"column_{i + 1}" for i in range(max(header) + 1)] if header else []
    body = [r for r in rows[1:] if any(v not in ("", None) for v in r.values())]
    return pa.table({name: pa.array([r.get(i) for r in body], type=pa.string()) for i, name in enumerate(names)})


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}
_EXCEL_EPOCH = datetime(1899, 12, 30)


def _first_sheet(book: zipfile.ZipFile) -> str:
    try:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rel_id = workbook.find(f"{_NS}sheets/{_NS}sheet").get(f"{_REL}id")
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels.iter(f"{_PKG_REL}Relationship") if r.get("Id") == rel_id)
    except (KeyError, AttributeError, StopIteration):
        return "xl/worksheets/sheet1.xml"
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter(f"{_NS}t")) for si in root.iter(f"{_NS}si")]


def _date_styles(book: zipfile.ZipFile) -> set[str]:
    """Indices (as cell ``s`` attributes) of the cell styles that format numbers as dates."""
    if "xl/styles.xml" not in book.namelist():
        return set()
    root = ElementTree.fromstring(book.read("xl/styles.xml"))
    custom = {}
    for fmt in root.iter(f"{_NS}numFmt"):
        code = re.sub(r'"[^"]*"|\[[^]]*\]', "", fmt.get("formatCode", "")).lower()
        custom[int(fmt.get("numFmtId"))] = bool(re.search(r"[dy]", code))
    xfs = root.find(f"{_NS}cellXfs")
    out = set()
    for i, xf in enumerate(xfs if xfs is not None else []):
        fid = int(xf.get("numFmtId", 0))
        if fid in _DATE_FORMAT_IDS or custom.get(fid):
            out.add(str(i))
    return out


def _column_index(ref: str) -> int:
    index = 0
    for ch in ref:
        if not ch.isalpha():
            break
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1


def _excel_date(serial: str) -> str:
    moment = _EXCEL_EPOCH + timedelta(days=float(serial))
    return moment.date().isoformat() if moment.time() == datetime.min.time() else moment.isoformat(sep=" ")
