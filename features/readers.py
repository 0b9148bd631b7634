"""Readers for source extracts: Parquet, CSV (UTF-8 or GBK) and Excel, each read as an Arrow table."""

from __future__ import annotations

import codecs
import csv
import io
import mmap
import os
import re
import tempfile
import weakref
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa

from core.errors import NotFound
from features import masking
from features.sources import SOURCES

FORMATS = {".parquet": "parquet", ".csv": "csv", ".xlsx": "xlsx"}
IGNORED_FOLDERS = ("ground_truth",)  # hidden truth written by synth: never read by production code
_CHUNK = 1 << 20
BATCH_ROWS = 200_000  # rows per batch read from an extract (what memory holds of a table at a time)
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


@dataclass(eq=False)
class Extract:
    """One source file as opened: which table it holds, how it was encoded, its header, and its rows, read in
    batches of at most ``BATCH_ROWS`` (``batches``: each call reads the file again) so that memory holds one
    batch, not the table. A CSV's lines that are no row are found when the file is opened (``bad_lines``)."""

    path: Path
    table: str
    format: str  # parquet | csv | xlsx
    encoding: str | None  # utf-8 | gbk | mixed (lines of both) for CSV; None otherwise
    columns: tuple[str, ...]  # the header as read
    read: Callable[[], Iterator[pa.Table]] = field(repr=False)  # the rows in order, in tables of the header's columns
    data_rows: int | None = None  # rows ``batches`` yields (None: counted on first need)
    bad_lines: tuple[BadLine, ...] = ()
    redecoded: int = 0  # CSV lines decoded as GB18030 because they were not UTF-8
    scratch: tuple[Path, ...] = ()  # files made while opening (a CSV re-encoded as UTF-8), removed by ``close``

    def __post_init__(self) -> None:
        skipped = np.array(sorted(b.row for b in self.bad_lines), dtype=np.int64)
        self._gaps = skipped - np.arange(len(skipped), dtype=np.int64)  # rank after which each set-aside row lies
        if self.scratch:
            weakref.finalize(self, _remove, self.scratch)

    def batches(self) -> Iterator[pa.Table]:
        """The data rows in order, at least one (maybe empty) table; a read failure is a :class:`CorruptFile`."""
        any_batch = False
        try:
            for batch in self.read():
                any_batch = True
                yield batch
        except CorruptFile:
            raise
        except Exception as exc:  # any reader failure means the file is unusable as delivered
            raise CorruptFile(f"{self.path.name}: cannot read as {self.format}: {_reason(exc)}") from None
        if not any_batch:
            yield pa.table({name: pa.array([], type=pa.string()) for name in self.columns})

    @property
    def rows(self) -> int:
        """Rows of the file as ingest counts them: data rows and lines set aside."""
        if self.data_rows is None:
            self.data_rows = sum(b.num_rows for b in self.batches())
        return self.data_rows + len(self.bad_lines)

    @property
    def data(self) -> pa.Table:
        """Every data row at once (small files and tests; ingest reads ``batches``)."""
        return pa.concat_tables(list(self.batches()))

    def numbers(self, start: int, count: int) -> pa.Array:
        """The 1-based data row numbers in the file (header not counted) of the data rows ``start .. start + count``
        (0-based, in reading order): 1, 2, 3, … skipping the numbers of the lines set aside."""
        rank = np.arange(start + 1, start + count + 1, dtype=np.int64)
        return pa.array(rank + np.searchsorted(self._gaps, rank, side="right"))

    @property
    def row_numbers(self) -> pa.Array | None:
        """Data row number of each data row when lines were set aside (else None: 1, 2, 3, …)."""
        return self.numbers(0, self.rows - len(self.bad_lines)) if self.bad_lines else None

    def close(self) -> None:
        _remove(self.scratch)


def _remove(paths: tuple[Path, ...]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


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
    """Open one extract; raise :class:`CorruptFile` saying what is wrong when it cannot be read.

    Its rows are read batch by batch later (:meth:`Extract.batches`). A CSV is decoded line by line (UTF-8,
    else GB18030) and parsed once here to find the lines that are no row (returned as :class:`BadLine`).
    Messages never quote the file's content.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CorruptFile(f"{path.name}: expected a .parquet, .csv or .xlsx file, got {path.suffix!r}")
    try:
        if fmt == "parquet":
            return _open_parquet(path, table)
        if fmt == "csv":
            return _read_csv(path, table)
        return _open_xlsx(path, table)
    except CorruptFile:
        raise
    except Exception as exc:  # any reader failure means the file is unusable as delivered
        raise CorruptFile(f"{path.name}: cannot read as {fmt}: {_reason(exc)}") from None


def _rebatch(parts: Iterable[pa.RecordBatch | pa.Table], rows: int) -> Iterator[pa.Table]:
    """The rows of ``parts`` in tables of about ``rows`` rows (the parsers' blocks are small)."""
    held: list = []
    n = 0
    for part in parts:
        held.append(part if isinstance(part, pa.Table) else pa.Table.from_batches([part]))
        n += part.num_rows
        if n >= rows:
            yield pa.concat_tables(held)
            held, n = [], 0
    if held:
        yield pa.concat_tables(held)


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


def _open_parquet(path: Path, table: str) -> Extract:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path)
    columns, rows = tuple(meta.schema_arrow.names), meta.metadata.num_rows

    def read() -> Iterator[pa.Table]:
        with pq.ParquetFile(path) as file:
            empty = True
            for batch in file.iter_batches(batch_size=BATCH_ROWS):
                empty = False
                yield pa.Table.from_batches([batch])
            if empty:
                yield file.schema_arrow.empty_table()

    return Extract(path=path, table=table, format="parquet", encoding=None, columns=columns, read=read,
                   data_rows=rows)


_UNDECODABLE = "\x00undecodable\x00"  # stands in for a line of unknown bytes: one field, so the parser flags it


def _decode_lines(path: Path, target: Path) -> tuple[str, int, dict[int, str]]:
    """Each line of ``path`` as UTF-8, else GB18030, written to ``target`` as UTF-8 (line by line: memory holds
    one line); a line that is neither is replaced by a marker line.

    Returns the encoding (``gbk`` when no line needed UTF-8 beyond ASCII and every line decoded, else ``mixed``),
    the number of lines re-decoded, and ``{line number: lossy text}`` of the lines that decode as neither.
    """
    redecoded, utf8_text, undecodable = 0, False, {}
    with path.open("rb") as src, target.open("wb") as out:
        for number, line in enumerate(src, 1):  # each line keeps its b"\n" (the last one may have none)
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
            out.write(text.encode("utf-8"))
    encoding = "mixed" if utf8_text or undecodable else "gbk"
    return encoding, redecoded, undecodable


def _read_csv(path: Path, table: str) -> Extract:
    if _decodes(path, "utf-8-sig"):  # the common case: the parser reads the file itself
        source, encoding, redecoded, undecodable, scratch = path, "utf-8", 0, {}, ()
    else:
        handle, name = tempfile.mkstemp(prefix="credit-risk-csv-", suffix=".csv")
        os.close(handle)
        source = Path(name)
        scratch = (source,)
        try:
            encoding, redecoded, undecodable = _decode_lines(path, source)
        except BaseException:
            _remove(scratch)
            raise
    try:
        with source.open("r", encoding="utf-8-sig", errors="ignore", newline="") as fh:
            header = next(csv.reader(fh), None)
        if not header or (source != path and 1 in undecodable):
            raise CorruptFile(f"{path.name}: expected a header row, got "
                              f"{'an empty file' if not header else 'a first line that is neither UTF-8 nor GBK'}")
        size = source.stat().st_size
        invalid: list[tuple[int | None, str]] = []
        block, rows = _BLOCK, 0
        while True:  # once through to find the lines that are no row (the parser numbers them on one thread)
            invalid.clear()
            try:
                rows = sum(b.num_rows for b in _csv_blocks(source, header, block, threads=False, invalid=invalid))
                break
            except pa.ArrowInvalid as exc:  # a row longer than a block: read in one block (the limits rule judges it)
                if "straddl" not in str(exc) or block > size or block == _MAX_BLOCK:
                    raise
                block = min(size + 1, _MAX_BLOCK)
        bad: list[BadLine] = []
        if invalid:
            with source.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as text:
                bad = _bad_lines(text, invalid, undecodable, width=len(header))

        def read() -> Iterator[pa.Table]:
            yield from _rebatch(_csv_blocks(source, header, block, threads=True, invalid=[]), BATCH_ROWS)

        return Extract(path=path, table=table, format="csv", encoding=encoding, columns=tuple(header), read=read,
                       data_rows=rows, bad_lines=tuple(bad), redecoded=redecoded, scratch=scratch)
    except BaseException:
        _remove(scratch)
        raise


def _csv_blocks(source: Path, header: list[str], block: int, *, threads: bool,
                invalid: list) -> Iterator[pa.RecordBatch]:
    """The CSV's rows block by block, every column as text; rows with another field count are skipped (and
    listed in ``invalid`` with their record number when read on one thread)."""
    from pyarrow import csv as pacsv

    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(encoding="utf8", use_threads=threads, block_size=block),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=_collect(invalid)),
        convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                             strings_can_be_null=False),
    )
    try:
        yield from reader
    finally:
        reader.close()


def _collect(into: list):
    def handler(row) -> str:
        into.append((row.number, row.text))
        return "skip"
    return handler


def _bad_lines(text, invalid: list[tuple[int | None, str]], undecodable: dict[int, str], *,
               width: int) -> list[BadLine]:
    """Each skipped record as a :class:`BadLine`: its physical line is where its text next starts a line
    (searched from a cursor that only moves forward), its row number the parser's record number less the header."""
    out, cursor, line = [], 0, 1  # line: the line on which ``cursor`` lies
    for record, row_text in invalid:
        needle = row_text.encode("utf-8")
        if cursor == 0 and text[:len(needle)] == needle:
            at = 0
        else:
            at = text.find(b"\n" + needle, max(cursor - 1, 0))
            at = at + 1 if at >= 0 else cursor
        line += _newlines(text, cursor, at)
        cursor = at + len(needle)
        here = line
        line += needle.count(b"\n")
        if row_text == _UNDECODABLE and here in undecodable:
            rule, fields = "undecodable_line", _fields(undecodable[here])
        else:
            rule, fields = "malformed_line", _fields(row_text)
        out.append(BadLine(rule=rule, line=here, row=(record or here) - 1, fields=tuple(fields), expected=width))
    return out


def _newlines(text, start: int, stop: int) -> int:
    """Line breaks in ``text[start:stop]`` (bytes or a memory map), counted a slice at a time."""
    return sum(text[lo:min(lo + _CHUNK * 16, stop)].count(b"\n") for lo in range(start, stop, _CHUNK * 16))


def _fields(text: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:  # e.g. a field beyond the csv module's size limit: split plainly (masking errs on the safe side)
        return text.split(",")


def _open_xlsx(path: Path, table: str) -> Extract:
    """The first worksheet as text columns, read by streaming its XML row by row (much faster than openpyxl's
    cell objects); date-formatted numeric cells become ISO dates. Rows with no value are left out."""
    rows = _xlsx_rows(path)
    try:
        header = next(rows, None)
    finally:
        rows.close()
    if header is None:
        raise CorruptFile(f"{path.name}: expected a header row, got an empty worksheet")
    names = tuple(header.get(i) or f"column_{i + 1}" for i in range(max(header) + 1)) if header else ()

    def read() -> Iterator[pa.Table]:
        body: list[dict[int, str]] = []
        rows = _xlsx_rows(path)
        next(rows, None)
        for row in rows:
            if any(v not in ("", None) for v in row.values()):
                body.append(row)
                if len(body) >= BATCH_ROWS:
                    yield _xlsx_table(body, names)
                    body = []
        if body:
            yield _xlsx_table(body, names)

    return Extract(path=path, table=table, format="xlsx", encoding=None, columns=names, read=read)


def _xlsx_table(body: list[dict[int, str]], names: tuple[str, ...]) -> pa.Table:
    return pa.table({name: pa.array([r.get(i) for r in body], type=pa.string()) for i, name in enumerate(names)})


def _xlsx_rows(path: Path) -> Iterator[dict[int, str]]:
    """The first worksheet's rows in order, each as ``{column index: text}``."""
    with zipfile.ZipFile(path) as book:
        shared = _shared_strings(book)
        date_styles = _date_styles(book)
        row_tag, cell_tag, text_tag = _NS + "row", _NS + "c", _NS + "t"
        columns: dict[str, int] = {}  # cell reference letters -> column index
        parent = None  # sheetData: each row is removed from it once read, so memory holds one row
        with book.open(_first_sheet(book)) as fh:
            for event, el in ElementTree.iterparse(fh, events=("start", "end")):
                if event == "start":
                    if el.tag == _NS + "sheetData":
                        parent = el
                    continue
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
                el.clear()
                if parent is not None and len(parent) and parent[-1] is el:
                    parent.remove(el)
                yield row


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
