"""Lists as people hold them: a CSV (UTF-8 or GBK) or Excel list of credit codes or enterprise names comes
back as the same list, in the same format, with tier, reasons, status and match notes appended.

Rows stream through in chunks (:data:`CHUNK_ROWS`), so memory stays bounded whatever the list's length.
Names are matched to codes where exactly one entity carries the (normalised) name
(:func:`features.name_match.normalise_names`). The one entry point is :func:`annotate_list`; the service's
upload endpoint, ``credit-risk lookup`` and the console's tier-list upload all call it.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa

from core.errors import UserError
from features.name_match import normalise_names
from serving.limits import MAX_LIST_ROWS

CHUNK_ROWS = 5_000
XLSX = "xlsx"
CSV = "csv"
MEDIA_TYPES = {CSV: "text/csv", XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CODE_HEADERS = ("uscc", "统一社会信用代码", "社会信用代码", "信用代码", "credit_code", "code", "代码")
NAME_HEADERS = ("name", "企业名称", "名称", "主体名称", "单位名称", "company_name", "enterprise_name")
APPENDED = ("matched_uscc", "outcome", "tier", "tier_zh", "reasons_zh", "entity_status", "last_tier",
            "publication_id", "match_note")
NOTES = {
    "by_name": "按名称匹配 matched by name",
    "ambiguous": "名称对应{n}个主体, 未匹配 {n} entities share this name: not matched",
    "no_name": "未找到该名称的主体 no entity of this name",
    "no_names": "无名称目录, 无法按名称匹配 no register of names to match against",
    "empty": "无代码或名称 neither code nor name",
    "normalised": "代码已规范(全角/小写/空格) code normalised (full-width, lower case, spaces)",
}


@dataclass(frozen=True)
class ListSummary:
    """What a list lookup did: rows by outcome, how names were matched, the format it kept."""

    rows: int
    outcomes: dict[str, int]
    matched_by_name: int
    fmt: str
    encoding: str | None
    code_column: str | None
    name_column: str | None
    notes: list[str] = field(default_factory=list)


# (codes) -> (one outcome JSON fragment per code, counts): serving.outcomes.CodeLookup.outcomes
Resolve = Callable[[list[str]], tuple[list[str], Counter]]
# (names) -> {name: (uscc or None, entities carrying the name)}
MatchNames = Callable[[list[str]], dict[str, tuple[str | None, int]]]


def sniff(head: bytes, filename: str | None = None) -> tuple[str, str | None]:
    """(format, encoding) of a list from its first bytes: Excel (a zip) or CSV in UTF-8 or GBK."""
    if head[:2] == b"PK":
        return XLSX, None
    if filename and filename.lower().endswith((".xls",)):
        raise UserError("file: expected .xlsx or .csv; legacy .xls is not read (save it as .xlsx)")
    if head.startswith(b"\xef\xbb\xbf"):
        return CSV, "utf-8-sig"
    try:
        head.decode("utf-8")
        return CSV, "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sample
            return CSV, "utf-8"
    try:
        head.decode("gb18030")
    except UnicodeDecodeError:
        raise UserError("file: expected a CSV in UTF-8 or GBK, or an .xlsx; the bytes are neither") from None
    return CSV, "gb18030"


def annotate_list(src: BinaryIO, dst: BinaryIO, *, resolve: Resolve, match_names: MatchNames | None,
                  filename: str | None = None, chunk_rows: int = CHUNK_ROWS) -> ListSummary:
    """Append tier, reasons, status and match notes to every row of the list in ``src``; write to ``dst``.

    Args:
        src: the list (binary, readable; CSV UTF-8/GBK or .xlsx).
        dst: where the annotated list goes, in the same format (and encoding).
        resolve: outcomes of credit codes (``CodeLookup.outcomes``).
        match_names: name → code matcher (:class:`WarehouseNames`), None when no register is at hand.
        filename: the original name, for a clearer error on legacy formats.
    Returns:
        counts by outcome and how the list was read.
    """
    head = src.read(65536)
    fmt, encoding = sniff(head, filename)
    src = _Rewound(head, src)
    delimiter = _delimiter(head, encoding)
    rows = _xlsx_rows(src) if fmt == XLSX else _csv_rows(src, encoding, delimiter)
    try:
        header = [("" if h is None else str(h)).strip() for h in next(rows)]
    except StopIteration:
        raise UserError("file: expected a header row and rows, got an empty list") from None
    code_col, name_col = _columns(header)
    writer = _XlsxWriter(dst) if fmt == XLSX else _CsvWriter(dst, encoding, delimiter)
    writer.row(header + list(APPENDED))
    outcomes: Counter = Counter()
    by_name = 0
    total = 0
    for chunk in _chunks(rows, chunk_rows):
        total += len(chunk)
        if total > MAX_LIST_ROWS:
            raise UserError(f"file: expected at most {MAX_LIST_ROWS:,} rows, got more")
        annotated, n = _annotate(chunk, len(header), code_col, name_col, resolve, match_names, outcomes)
        by_name += n
        for row in annotated:
            writer.row(row)
    writer.close()
    notes = [] if name_col is None or match_names is not None else [NOTES["no_names"]]
    return ListSummary(rows=total, outcomes=dict(outcomes), matched_by_name=by_name, fmt=fmt, encoding=encoding,
                       code_column=header[code_col] if code_col is not None else None,
                       name_column=header[name_col] if name_col is not None else None, notes=notes)


def _columns(header: list[str]) -> tuple[int | None, int | None]:
    low = [h.lower() for h in header]
    code = next((low.index(h) for h in CODE_HEADERS if h in low), None)
    name = next((low.index(h) for h in NAME_HEADERS if h in low), None)
    if code is None and name is None:
        raise UserError(f"header: expected a column of codes ({' / '.join(CODE_HEADERS[:3])}) or of names "
                        f"({' / '.join(NAME_HEADERS[:3])}), got {header[:10]}")
    return code, name


def _clean_code(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).replace(" ", "").replace("\u3000", "").upper()


def _annotate(chunk: list[list], width: int, code_col: int | None, name_col: int | None, resolve: Resolve,
              match_names: MatchNames | None, outcomes: Counter) -> tuple[list[list], int]:
    """The rows of one chunk with the appended columns."""
    cells = [[("" if v is None else str(v)) for v in row] + [""] * (width - len(row)) for row in chunk]
    codes: list[str | None] = []
    notes: list[list[str]] = []
    for row in cells:
        raw = row[code_col].strip() if code_col is not None else ""
        code = _clean_code(raw) if raw else None
        notes.append([NOTES["normalised"]] if code and code != raw else [])
        codes.append(code)
    wanted = sorted({cells[i][name_col].strip() for i, c in enumerate(codes)
                     if c is None and name_col is not None and cells[i][name_col].strip()})
    matched = match_names(wanted) if (wanted and match_names is not None) else {}
    by_name = 0
    special: dict[int, str] = {}
    for i, code in enumerate(codes):
        if code is not None:
            continue
        name = cells[i][name_col].strip() if name_col is not None else ""
        if not name:
            special[i] = "empty"
            notes[i].append(NOTES["empty"])
            continue
        if match_names is None:
            special[i] = "no_match"
            notes[i].append(NOTES["no_names"])
            continue
        uscc, n = matched.get(name, (None, 0))
        if uscc is not None:
            codes[i] = uscc
            by_name += 1
            notes[i].append(NOTES["by_name"])
        elif n > 1:
            special[i] = "ambiguous_name"
            notes[i].append(NOTES["ambiguous"].format(n=n))
        else:
            special[i] = "no_match"
            notes[i].append(NOTES["no_name"])
    looked = [i for i, c in enumerate(codes) if c is not None]
    fragments, counts = resolve([codes[i] for i in looked]) if looked else ([], Counter())
    outcomes.update(counts)
    outcomes.update(special.values())
    extra: dict[int, list[str]] = {i: ["", kind, "", "", "", "", "", "", ""] for i, kind in special.items()}
    for i, fragment in zip(looked, fragments, strict=True):
        extra[i] = _columns_of(json.loads(fragment), matched_code=codes[i])
    return [row + extra[i][:-1] + ["; ".join(notes[i] + ([extra[i][-1]] if extra[i][-1] else []))]
            for i, row in enumerate(cells)], by_name


def _columns_of(item: dict, *, matched_code: str | None) -> list[str]:
    """The appended cells of one outcome (see APPENDED), the last being its note."""
    status = item["status"]
    if status == "scored":
        reasons = "; ".join(f"{r.get('zh', r.get('dimension', ''))} {r['contribution']:+.2f}"
                            if isinstance(r.get("contribution"), int | float) else str(r.get("zh", ""))
                            for r in item.get("reasons") or [])
        return [matched_code or "", status, item["tier"], item["tier_zh"], reasons, "", "",
                item.get("publication_id") or "", ""]
    if status == "not_in_publication":
        st = item.get("entity_status_zh") or item.get("entity_status") or ""
        return [matched_code or "", status, "", "", "", st, item.get("last_tier") or "", item["publication_id"],
                item["message"]]
    return [matched_code or "", status, "", "", "", "", "", item.get("publication_id") or "", item["message"]]


def _chunks(rows: Iterator[list], size: int) -> Iterator[list[list]]:
    chunk: list[list] = []
    for row in rows:
        if not any(v not in (None, "") for v in row):
            continue  # blank lines are not entities
        chunk.append(list(row))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Rewound(io.RawIOBase):
    """A binary stream that yields the sniffed head again before the rest of the source."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _delimiter(head: bytes, encoding: str | None) -> str:
    first = head.split(b"\n", 1)[0].decode(encoding or "utf-8", errors="ignore")
    return "\t" if first.count("\t") > first.count(",") else ","


def _csv_rows(src, encoding: str | None, delimiter: str) -> Iterator[list]:
    text = io.TextIOWrapper(io.BufferedReader(src), encoding=encoding or "utf-8", newline="")
    try:
        yield from csv.reader(text, delimiter=delimiter)
    except UnicodeDecodeError:
        raise UserError(f"file: expected every line in {encoding}, found a line in another encoding") from None


def _xlsx_rows(src) -> Iterator[list]:
    from openpyxl import load_workbook

    data = io.BytesIO(io.BufferedReader(src).read())
    try:
        book = load_workbook(data, read_only=True, data_only=True)
    except Exception as exc:
        raise UserError(f"file: expected an .xlsx workbook, could not open it ({type(exc).__name__})") from None
    try:
        yield from (list(r) for r in book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()


class _CsvWriter:
    def __init__(self, dst: BinaryIO, encoding: str | None, delimiter: str) -> None:
        enc = "utf-8-sig" if encoding == "utf-8-sig" else (encoding or "utf-8")
        self._text = io.TextIOWrapper(dst, encoding=enc, errors="replace", newline="", write_through=False)
        self._csv = csv.writer(self._text, delimiter=delimiter)

    def row(self, values: list) -> None:
        self._csv.writerow(values)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()


class _XlsxWriter:
    def __init__(self, dst: BinaryIO) -> None:
        from openpyxl import Workbook

        self._dst = dst
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("lookup")

    def row(self, values: list) -> None:
        self._sheet.append(values)

    def close(self) -> None:
        self._book.save(self._dst)


class WarehouseNames:
    """Names → codes from the warehouse's register of entities (read-only), unique names only."""

    def __init__(self, con) -> None:
        self.con = con
        known = con.sql("SELECT uscc, name FROM entities WHERE name IS NOT NULL").to_arrow_table()
        known = known.append_column("norm", normalise_names(known["name"]))
        self._known = known
        con.register("_list_known_names", known)

    def __call__(self, names: list[str]) -> dict[str, tuple[str | None, int]]:
        wanted = pa.table({"given": pa.array(names, type=pa.string())})
        wanted = wanted.append_column("norm", normalise_names(wanted["given"]))
        self.con.register("_list_wanted_names", wanted)
        try:
            rows = self.con.execute(
                "SELECT w.given, min(k.uscc), count(DISTINCT k.uscc) FROM _list_wanted_names w "
                "JOIN _list_known_names k USING (norm) GROUP BY w.given").fetchall()
        finally:
            self.con.unregister("_list_wanted_names")
        return {g: (u if n == 1 else None, int(n)) for g, u, n in rows}


@contextmanager
def warehouse_names(settings) -> Iterator[WarehouseNames | None]:
    """The name matcher over the warehouse's entities (read-only), or None when there is no warehouse."""
    if not settings.warehouse_path.exists():
        yield None
        return
    from features.warehouse import connect

    con = connect(settings, read_only=True)
    try:
        yield WarehouseNames(con)
    finally:
        con.close()
