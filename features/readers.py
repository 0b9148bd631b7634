"""Readers for source extracts: Parquet, CSV (UTF-8 or GBK) and Excel, each read as an Arrow table."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pyarrow as pa

from core.errors import NotFound
from features import masking
from features.sources import SOURCES

FORMATS = {".parquet": "parquet", ".csv": "csv", ".xlsx": "xlsx"}
IGNORED_FOLDERS = ("ground_truth",)  # hidden truth written by synth: never read by production code
_CHUNK = 1 << 20
_BLOCK, _MAX_BLOCK = 1 << 20, (1 << 31) - 1  # CSV parser blocks: a row must fit in one


class CorruptFile(Exception):
    """A file that cannot be read as the format its name claims."""


@dataclass(frozen=True)
class BadLine:
    """A line of a CSV that is no row: its field count differs from the header's, or its bytes are neither
    UTF-8 nor GB18030. ``fields`` are raw: mask them (``features.masking``) before they are echoed."""

    rule: str  # malformed_line | undecodable_line
    line: int  # physical line in the file (the header is line 1)
    row: int  # data row number as ingest counts rows (header not counted)
    fields: tuple[str, ...]
    expected: int  # fields in the header


@dataclass(frozen=True)
class Extract:
    """One source file as read: which table it holds, how it was encoded, and its rows (all as read)."""

    path: Path
    table: str
    format: str  # parquet | csv | xlsx
    encoding: str | None  # utf-8 | gbk | mixed (lines of both) for CSV; None otherwise
    data: pa.Table
    bad_lines: tuple[BadLine, ...] = ()
    row_numbers: pa.Array | None = None  # data row number of each row of ``data`` when lines were set aside
    redecoded: int = 0  # CSV lines decoded as GB18030 because they were not UTF-8

    @property
    def rows(self) -> int:
        return self.data.num_rows + len(self.bad_lines)


def find_extracts(drop_dir: str | Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """List the contract files of a drop folder, ``entities`` first, and everything else it ignores.

    Returns:
        ``([(table, path), ...], [ignored names])``; a file is a contract file when its stem is a
        source-table name (any case) and its suffix one of ``.parquet``, ``.csv``, ``.xlsx``.
    Raises:
        NotFound: the folder does not exist, or holds no contract file (the message names what was expected).
    """
    folder = Path(drop_dir)
    if not folder.is_dir():
        raise NotFound(f"expected a folder of source extracts, got {str(folder)!r}")
    order = {name: i for i, name in enumerate(SOURCES)}
    found, ignored = [], []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.stem.lower() in SOURCES and path.suffix.lower() in FORMATS:
            found.append((path.stem.lower(), path))
        else:
            ignored.append(path.name + ("/" if path.is_dir() else ""))
    if not found:
        seen = f"found {', '.join(ignored[:10])}{' …' if len(ignored) > 10 else ''}" if ignored else "it is empty"
        raise NotFound(f"expected source extracts in {str(folder)!r} named <table>.csv|.parquet|.xlsx with <table> "
                       f"one of {', '.join(SOURCES)}; {seen}")
    found.sort(key=lambda item: (order[item[0]], item[1].name))
    return found, ignored


def read_extract(path: str | Path, table: str) -> Extract:
    """Read one extract; raise :class:`CorruptFile` saying what is wrong when it cannot be read.

    A CSV is decoded line by line (UTF-8, else GB18030); lines that are no row are returned as
    :class:`BadLine` and the rest is read. Messages never quote the file's content.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CorruptFile(f"{path.name}: expected a .parquet, .csv or .xlsx file, got {path.suffix!r}")
    try:
        if fmt == "parquet":
            return Extract(path=path, table=table, format=fmt, encoding=None, data=_read_parquet(path))
        if fmt == "csv":
            return _read_csv(path, table)
        return Extract(path=path, table=table, format=fmt, encoding=None, data=_read_xlsx(path))
    except CorruptFile:
        raise
    except Exception as exc:  # any reader failure means the file is unusable as delivered
        raise CorruptFile(f"{path.name}: cannot read as {fmt}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """A reader's error without the content it may quote (parsers append the offending row)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = re.split(r":\s", text, maxsplit=2)
    return f"{type(exc).__name__}: " + masking.cut(masking.mask_text(": ".join(text[:2])), limit=120)


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


_UNDECODABLE = "\x00undecodable\x00"  # stands in for a line of unknown bytes: one field, so the parser flags it


def _decode_lines(raw: bytes) -> tuple[bytes, str, int, dict[int, str]]:
    """Each line as UTF-8, else GB18030; a line that is neither is replaced by a marker line.

    Returns the text re-encoded as UTF-8, the encoding (``gbk`` when no line needed UTF-8 beyond ASCII and every
    line decoded, else ``mixed``), the number of lines re-decoded, and ``{line number: lossy text}`` of the lines
    that decode as neither.
    """
    out, redecoded, utf8_text, undecodable = [], 0, False, {}
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, 1):
        line += b"\n" if number < len(lines) else b""
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
            utf8_text = utf8_text or not line.isascii()
        except UnicodeDecodeError:
            try:
                text = line.decode("gb18030")
                redecoded += 1
            except UnicodeDecodeError:
                undecodable[number] = line.decode("gb18030", errors="replace").rstrip("\r\n")
                text = _UNDECODABLE + "\n"
        out.append(text)
    encoding = "mixed" if utf8_text or undecodable else "gbk"
    return "".join(out).encode("utf-8"), encoding, redecoded, undecodable


def _read_csv(path: Path, table: str) -> Extract:
    from pyarrow import csv as pacsv

    if _decodes(path, "utf-8-sig"):  # the common case: the parser reads the file itself
        text, encoding, redecoded, undecodable = None, "utf-8", 0, {}
    else:
        text, encoding, redecoded, undecodable = _decode_lines(path.read_bytes())
    with (path.open("r", encoding="utf-8-sig", newline="") if text is None
          else io.StringIO(text[:_CHUNK * 4].decode("utf-8", errors="ignore"), newline="")) as fh:
        header = next(csv.reader(fh), None)
    if not header or (text is not None and 1 in undecodable):
        raise CorruptFile(f"{path.name}: expected a header row, got "
                          f"{'an empty file' if not header else 'a first line that is neither UTF-8 nor GBK'}")
    invalid: list[tuple[int | None, str]] = []
    size = path.stat().st_size if text is None else len(text)

    def parse(threads: bool, block: int = _BLOCK) -> pa.Table:
        invalid.clear()
        try:
            return pacsv.read_csv(
                path if text is None else pa.BufferReader(text),
                read_options=pacsv.ReadOptions(encoding="utf8", use_threads=threads, block_size=block),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=_collect(invalid)),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in header}, strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:  # a row longer than a block: read again in one block (the limits rule judges it)
            if "straddl" not in str(exc) or block > size or block == _MAX_BLOCK:
                raise
            return parse(threads, min(size + 1, _MAX_BLOCK))

    data = parse(True)
    if not invalid:
        return Extract(path=path, table=table, format="csv", encoding=encoding, data=data, redecoded=redecoded)
    data = parse(False)  # the parser numbers the rows it skips only when reading on one thread
    bad = _bad_lines(text if text is not None else path.read_bytes(), invalid, undecodable, width=len(header))
    skipped = {b.row for b in bad}
    total = data.num_rows + len(bad)
    numbers = pa.array([n for n in range(1, total + 1) if n not in skipped], type=pa.int64())
    return Extract(path=path, table=table, format="csv", encoding=encoding, data=data, bad_lines=tuple(bad),
                   row_numbers=numbers, redecoded=redecoded)


def _collect(into: list):
    def handler(row) -> str:
        into.append((row.number, row.text))
        return "skip"
    return handler


def _bad_lines(text: bytes, invalid: list[tuple[int | None, str]], undecodable: dict[int, str], *,
               width: int) -> list[BadLine]:
    """Each skipped record as a :class:`BadLine`: its physical line is where its text next starts a line
    (searched from a cursor that only moves forward), its row number the parser's record number less the header."""
    out, cursor, line = [], 0, 1  # line: the line on which ``cursor`` lies
    for record, row_text in invalid:
        needle = row_text.encode("utf-8")
        if cursor == 0 and text.startswith(needle):
            at = 0
        else:
            at = text.find(b"\n" + needle, max(cursor - 1, 0))
            at = at + 1 if at >= 0 else cursor
        line += text.count(b"\n", cursor, at)
        cursor = at + len(needle)
        here = line
        line += needle.count(b"\n")
        if row_text == _UNDECODABLE and here in undecodable:
            rule, fields = "undecodable_line", _fields(undecodable[here])
        else:
            rule, fields = "malformed_line", _fields(row_text)
        out.append(BadLine(rule=rule, line=here, row=(record or here) - 1, fields=tuple(fields), expected=width))
    return out


def _fields(text: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:  # e.g. a field beyond the csv module's size limit: split plainly (masking errs on the safe side)
        return text.split(",")


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
