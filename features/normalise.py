"""Normalisation at ingest: personal columns pseudonymised or dropped, and SQL that parses raw text to typed values."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core import rules, uscc
from features.sources import PERSON_KEY_COLUMN, Table

# Personal columns that become a keyed pseudonym; every other personal column is dropped.
PSEUDONYMISED = {"person_id_number": PERSON_KEY_COLUMN}
TRIM_CHARS = " \t\r\n\u3000\ufeff"
TRUE_TEXT = ("true", "t", "1", "1.0", "yes", "y", "是")
FALSE_TEXT = ("false", "f", "0", "0.0", "no", "n", "否")
NULL_TEXT = ("nan", "none", "null", "nat", "<na>")  # how writers spell a missing value (any case)
_NULL_SPELLINGS = pa.array(sorted({""} | {v for t in NULL_TEXT for v in (t, t.upper(), t.capitalize())}
                                  | {"NaN", "NaT", "<NA>"}))
LIST_SEPARATORS = r"\s*[;；,，、]\s*"


def protect_personal(data: pa.Table, table: Table, *, key: bytes) -> pa.Table:
    """Replace personal columns before anything else sees them: ID numbers by their pseudonym, names dropped."""
    for column in table.personal:
        if column not in data.column_names:
            continue
        idx = data.column_names.index(column)
        target = PSEUDONYMISED.get(column)
        if target is None:
            data = data.remove_column(idx)
            continue
        values = pc.cast(data.column(column), pa.string())
        uniques = pc.unique(values)
        mapped = pa.array(pseudonymise_many(uniques.to_pylist(), key=key), type=pa.string())
        positions = pc.index_in(values, value_set=uniques)
        keys = pc.take(mapped, positions)
        data = data.set_column(idx, target, keys)
    return data


def pseudonymise_many(values: list, *, key: bytes) -> list[str | None]:
    """:func:`core.pseudonym.pseudonymise` of many values (same pseudonyms), without building an HMAC per value."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    out: list[str | None] = []
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            out.append(None)
            continue
        text = str(value).strip().upper()
        if not text:
            out.append(None)
            continue
        h = inner.copy()
        h.update(text.encode("utf-8"))
        o = outer.copy()
        o.update(h.digest())
        out.append("P" + o.hexdigest()[:20])
    return out


def as_text(data: pa.Table, *, kinds: dict[str, str] | None = None) -> pa.Table:
    """Every column as trimmed text, null when empty or spelled as a missing value ("nan", "None", "NULL", ...).

    Typed columns (Parquet) are written as text the parsers read back: dates ``YYYY-MM-DD``, numbers as digits;
    except that a column whose contract kind (``kinds``: column -> kind) its type already holds exactly stays
    typed (see :func:`keeps_type`), which spares a text round trip: the parsed values are the same.
    """
    kinds = kinds or {}
    columns = []
    for name in data.column_names:
        col = data.column(name)
        if pa.types.is_dictionary(col.type):  # e.g. a pandas categorical written to Parquet
            col = pc.cast(col, col.type.value_type)
        kind = col.type
        if pa.types.is_timestamp(kind):
            col = pc.cast(pc.cast(col, pa.timestamp(kind.unit)), pa.date32())
        elif pa.types.is_date64(kind):
            col = pc.cast(col, pa.date32())
        elif pa.types.is_floating(kind):
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, kind), col)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind) or pa.types.is_binary(kind):
            col = pc.utf8_trim(pc.cast(col, pa.string()), characters=TRIM_CHARS)
            col = pc.if_else(pc.is_in(col, value_set=_NULL_SPELLINGS), pa.scalar(None, pa.string()), col)
        elif not keeps_type(kinds.get(name, "str"), col.type):
            col = pc.cast(col, pa.string())
        columns.append(col)
    return pa.table(columns, names=data.column_names)


def keeps_type(kind: str, arrow_type: pa.DataType) -> bool:
    """True when values of ``arrow_type`` go into a column of contract ``kind`` without a text round trip:
    integers and 64-bit floats for numbers and amounts, dates for dates, booleans for yes/no."""
    if kind in ("int", "float", "money"):
        return pa.types.is_integer(arrow_type) or arrow_type == pa.float64()
    if kind == "date":
        return arrow_type == pa.date32()
    if kind == "bool":
        return pa.types.is_boolean(arrow_type)
    return False


def money_units() -> dict[str, float]:
    """Units accepted in money columns and their multiplier to yuan (rules table ``ingest``)."""
    return {unit: float(mult) for unit, mult in rules.load("ingest")["money"]["units"].items()}


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_list(values) -> str:
    return "[" + ", ".join(_sql_str(v) for v in values) + "]"


def money_pattern() -> str:
    """Regular expression for an amount written as text: digits (commas allowed) and an optional unit."""
    units = sorted(money_units(), key=len, reverse=True)
    return r"^([-+]?(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+))\s*(" + "|".join(units) + ")?$"


def parse_expr(kind: str, raw: str, *, typed: bool = False, aliases: tuple[tuple[str, str], ...] = ()) -> str:
    """SQL (first step) turning the raw text ``raw`` into a value; :func:`finish_expr` makes it the column's type.

    ``typed``: ``raw`` already holds values of the kind (see :func:`keeps_type`), not text.
    ``aliases``: (other spelling, code) pairs of an enum column, replaced by their code.
    """
    if kind == "enum" and aliases:
        return f"CASE {raw} " + " ".join(f"WHEN {_sql_str(a)} THEN {_sql_str(c)}" for a, c in aliases) + f" ELSE {raw} END"
    if kind in ("str", "uscc", "enum"):
        return raw
    if typed:
        return {"int": f"CAST({raw} AS DOUBLE)", "float": f"CAST({raw} AS DOUBLE)",
                "money": f"CAST({raw} AS DOUBLE)", "date": f"CAST({raw} AS DATE)", "bool": raw}[kind]
    if kind == "list":
        return f"regexp_replace({raw}, '{LIST_SEPARATORS}', ';', 'g')"
    if kind in ("int", "float"):
        return f"TRY_CAST({raw} AS DOUBLE)"
    if kind == "money":
        pattern = _sql_str(money_pattern())
        case = " ".join(f"WHEN {_sql_str(u)} THEN {m!r}" for u, m in money_units().items())
        amount = f"TRY_CAST(replace(regexp_extract({raw}, {pattern}, 1), ',', '') AS DOUBLE)"
        return (f"CASE WHEN TRY_CAST({raw} AS DOUBLE) IS NOT NULL THEN TRY_CAST({raw} AS DOUBLE) "
                f"WHEN {raw} IS NOT NULL THEN "
                f"{amount} * (CASE regexp_extract({raw}, {pattern}, 2) {case} ELSE 1.0 END) END")
    if kind == "date":
        formats = _sql_list(rules.load("ingest")["dates"]["formats"])
        return f"CAST(try_strptime({raw}, {formats}) AS DATE)"
    if kind == "bool":
        return (f"CASE WHEN lower({raw}) IN {tuple(TRUE_TEXT)} THEN TRUE "
                f"WHEN lower({raw}) IN {tuple(FALSE_TEXT)} THEN FALSE END")
    raise ValueError(f"expected a column kind of the source contract, got {kind!r}")


def finish_expr(kind: str, value: str) -> str:
    """SQL (second step): integers must be whole, numbers finite; NULL otherwise."""
    if kind == "int":
        return f"CASE WHEN {value} = floor({value}) THEN CAST({value} AS BIGINT) END"
    if kind in ("float", "money"):
        return f"CASE WHEN isfinite({value}) THEN {value} END"
    return value


def unit_given_expr(raw: str) -> str:
    """SQL: TRUE when a money value was written as text with a unit (e.g. "12.5万元", "125000元")."""
    units = "|".join(sorted(money_units(), key=len, reverse=True))
    return (f"CASE WHEN {raw} IS NOT NULL AND TRY_CAST({raw} AS DOUBLE) IS NULL "
            f"THEN regexp_matches({raw}, '({units})$') ELSE FALSE END")


_VALUE = np.full(256, -1, dtype=np.int8)
_VALUE[np.frombuffer(uscc.ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(len(uscc.ALPHABET))


def check_indices(values: pa.Array | pa.ChunkedArray, *, trimmed: bool = False) -> pa.Array:
    """Vectorised :func:`core.uscc.check_character`: for each (trimmed) value, the position in the code alphabet
    of the check character it should carry; null when the value is not 18 characters of the alphabet.

    Computed once per distinct code (codes repeat across a table's rows), then mapped back; ``trimmed=True``
    skips trimming values that are already trimmed (:func:`as_text`).
    """
    text = pc.cast(values, pa.string())
    if not trimmed:
        text = pc.utf8_trim(text, characters=TRIM_CHARS)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks() if text.num_chunks else pa.array([], type=pa.string())
    encoded = pc.dictionary_encode(text)  # one hash pass: the distinct codes and each row's index into them
    dictionary, indices = encoded.dictionary, encoded.indices
    return pc.take(_check_indices(dictionary), indices)


def _check_indices(text: pa.Array) -> pa.Array:
    n = len(text)
    if n == 0:
        return pa.array([], type=pa.int8())
    ok = pc.fill_null(pc.equal(pc.binary_length(text), uscc.LENGTH), False)
    if not pc.all(ok).as_py():  # odd lengths or nulls: put a filler there so every row is 18 bytes
        text = pc.if_else(ok, text, pa.scalar("0" * uscc.LENGTH))
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset: text.offset + n + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[0] + n * uscc.LENGTH]
    values_ = _VALUE[data].reshape(n, uscc.LENGTH)
    total = values_[:, :-1].astype(np.int32) @ np.asarray(uscc.WEIGHTS, dtype=np.int32)
    index = (31 - total % 31) % 31
    valid = ok.to_numpy(zero_copy_only=False) & (values_.min(axis=1) >= 0)
    return pa.array(index.astype(np.int8), mask=~valid)


def with_check_indices(data: pa.Table, table: Table) -> pa.Table:
    """Append ``_x_<column>`` (see :func:`check_indices`) for every credit-code column of ``data`` (trimmed text,
    as :func:`as_text` returns it)."""
    for column in table.columns:
        if column.kind == "uscc" and column.name in data.column_names:
            data = data.append_column(f"_x_{column.name}", check_indices(data.column(column.name), trimmed=True))
    return data


def row_numbers(data: pa.Table, *, numbers: pa.Array | None = None) -> pa.Table:
    """Append ``_row``: the 1-based data row number in the file (header not counted); ``numbers`` when the reader
    set lines aside (their numbers are skipped), else 1, 2, 3, …"""
    if numbers is None:
        numbers = pa.array(np.arange(1, data.num_rows + 1, dtype=np.int64))
    return data.append_column("_row", numbers)
