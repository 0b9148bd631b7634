"""Validation of a source extract against the contract, as one vectorised SQL pass (DuckDB).

Each row gets the first rule it breaks (or none) and a detail naming the column and the value.
Rules are checked column by column in contract order, then event ordering, then referential integrity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from core import rules, uscc
from features.normalise import finish_expr, parse_expr, unit_given_expr
from features.sources import Column, Table

# Quarantine rules: code -> (zh, en). The code is stored in quarantine.rule.
RULES: dict[str, tuple[str, str]] = {
    "missing_required": ("必填项为空", "a required value is empty"),
    "missing_required_date": ("必填日期为空", "a required date is empty"),
    "malformed_uscc": ("信用代码格式错误", "credit code is not 18 characters of the code alphabet"),
    "bad_check_character": ("信用代码校验位错误", "credit code fails its check character (GB 32100-2015)"),
    "impossible_date": ("日期不可能", "date does not exist, is before the earliest date or after the drop's as-of"),
    "date_order": ("日期先后矛盾", "an event dated before the event it follows (e.g. removed before listed)"),
    "bad_type": ("数据类型错误", "value is not a number / amount / yes-no as the column requires"),
    "bad_enum": ("取值不在代码表内", "value is not one of the column's allowed codes"),
    "out_of_range": ("数值超出范围", "number outside the column's allowed range"),
    "unknown_entity": ("主体不存在", "credit code not found among the market entities"),
    "duplicate_key": ("主键重复且内容不同", "same key as an earlier row of the file with different values"),
    "oversized_field": ("字段超长", "a value longer than the column's limit (rules table ingest, [limits])"),
    "malformed_line": ("行格式错误", "a CSV line whose field count differs from the header's (kept as a masked line)"),
    "undecodable_line": ("行编码无法识别", "a CSV line that is neither UTF-8 nor GBK/GB18030 (kept as a masked line)"),
}
# Repairs made instead of rejecting: code -> (zh, en), counted per table in the ingest summary.
FIXES: dict[str, tuple[str, str]] = {
    "gbk_encoding": ("GBK 编码已转换", "lines of a CSV delivered in GBK/GB18030 (whole file or some lines), decoded"),
    "amount_in_wan": ("金额单位已换算为元", "amount written as text with a unit (万元/元), converted to yuan"),
    "name_exact": ("按名称唯一匹配信用代码", "opinion item without a code matched to the one entity of that name"),
    "name_unmatched": ("名称无法唯一匹配", "opinion item without a code whose name matches no entity or several"),
    "name_rematched": ("新增主体后按名称补匹配", "earlier unmatched opinion item matched by name once new entities arrived"),
}
_KIND_WORD = {"int": "an integer", "float": "a number", "money": "an amount in yuan (number, or text like 12.5万元)",
              "bool": "yes/no (true/false, 1/0, 是/否)"}


@dataclass(frozen=True)
class Check:
    """One rule as SQL over the ``r_<column>`` (trimmed text) and ``p_<column>`` (parsed) columns."""

    rule: str
    condition: str
    detail: str


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _shown(raw: str) -> str:
    return f"'''' || left(CAST({raw} AS VARCHAR), 60) || ''''"


def _ident(name: str) -> str:
    return '"' + name + '"'


def _uscc_pattern() -> str:
    return "[" + re.escape(uscc.ALPHABET) + "]{" + str(uscc.LENGTH) + "}"


def field_limit(table: str, column: str) -> int:
    """Longest text value (characters) accepted in ``table.column``: the rules table's ``[limits]``."""
    limits = rules.load("ingest")["limits"]
    return int(limits["columns"].get(f"{table}.{column}", limits["default_chars"]))


def long_columns(data: pa.Table, table: Table) -> frozenset[str]:
    """Text columns of ``data`` holding a value longer in bytes than the column's limit in characters: the only ones
    that can break ``oversized_field`` (a character is at least a byte), found from Arrow's offsets at no cost."""
    def longest(col: pa.ChunkedArray) -> int:
        return pc.max(pc.binary_length(col)).as_py() or 0

    return frozenset(name for name in data.column_names if name in table.names and pa.types.is_string(
        data.column(name).type) and longest(data.column(name)) > field_limit(table.name, name))


def column_checks(table: Table, column: Column, *, as_of: date, long: bool = False) -> list[Check]:
    """The checks of one column, in the order they are applied (``long``: some value may exceed the column's
    length limit, see :func:`long_columns`)."""
    r, p = _ident(f"r_{column.name}"), _ident(f"p_{column.name}")
    name, kind = column.name, column.kind
    checks = []
    if long:
        limit = field_limit(table.name, name)
        # strlen (bytes, kept with the string) first: only values that long are counted in characters
        checks.append(Check("oversized_field", f"strlen({r}) > {limit} AND length({r}) > {limit}",
                            f"{_q(name + f': expected at most {limit:,} characters, got ')} "
                            f"|| format('{{:,}}', length({r}))"))
    if column.required:
        rule = "missing_required_date" if kind == "date" else "missing_required"
        checks.append(Check(rule, f"{r} IS NULL", _q(f"{name}: required value is empty")))
    if kind == "uscc":
        checks.append(Check("malformed_uscc", f"{r} IS NOT NULL AND NOT regexp_full_match({r}, {_q(_uscc_pattern())})",
                            f"{_q(name + ': expected 18 characters of 0-9 A-H J-N P-R T-U W-Y, got ')} || {_shown(r)}"))
        expected = _ident(f"x_{column.name}")  # the expected check character, computed once per row
        checks.append(Check("bad_check_character", f"{r} IS NOT NULL AND substr({r}, 18, 1) <> {expected}",
                            f"{_q(name + ' ')} || {r} || ' fails its check character (expected ' "
                            f"|| {expected} || ')'"))
    elif kind == "enum":
        allowed = "(" + ", ".join(_q(v) for v in column.values) + ")"
        checks.append(Check("bad_enum", f"{r} IS NOT NULL AND {p} NOT IN {allowed}",
                            f"{_q(name + ': expected one of ' + ', '.join(column.values) + '; got ')} || {_shown(r)}"))
    elif kind == "list":
        allowed = "[" + ", ".join(_q(v) for v in column.values) + "]"
        checks.append(Check("bad_enum", f"{r} IS NOT NULL AND NOT list_has_all({allowed}, string_split({p}, ';'))",
                            f"{_q(name + ': expected items from ' + ', '.join(column.values) + '; got ')} "
                            f"|| {_shown(r)}"))
    elif kind == "date":
        cfg = rules.load("ingest")["dates"]
        earliest: date = cfg["earliest"]
        checks.append(Check("impossible_date", f"{r} IS NOT NULL AND {p} IS NULL",
                            f"{_q(name + ': expected a real calendar date, got ')} || {_shown(r)}"))
        checks.append(Check("impossible_date", f"{p} < DATE '{earliest.isoformat()}'",
                            f"{_q(name + ': date ')} || {p} || {_q(' before ' + earliest.isoformat())}"))
        if f"{table.name}.{name}" not in cfg["may_be_future"]:
            checks.append(Check("impossible_date", f"{p} > DATE '{as_of.isoformat()}'",
                                f"{_q(name + ': date ')} || {p} || "
                                f"{_q(' after the drop as-of date ' + as_of.isoformat())}"))
    elif kind in _KIND_WORD:
        checks.append(Check("bad_type", f"{r} IS NOT NULL AND {p} IS NULL",
                            f"{_q(name + ': expected ' + _KIND_WORD[kind] + ', got ')} || {_shown(r)}"))
        bounds = rules.load("ingest")["ranges"].get(f"{table.name}.{name}", {})
        for side, op in (("min", "<"), ("max", ">")):
            if side not in bounds:
                continue
            limit = as_of.year if bounds[side] == "as_of_year" else bounds[side]
            word = "at least" if side == "min" else "at most"
            checks.append(Check("out_of_range", f"{p} {op} {limit!r}",
                                f"{_q(f'{name}: expected {word} {limit}, got ')} || {p}"))
    return checks


def row_checks(table: Table) -> list[Check]:
    """Event-ordering checks of a table (from the ``ingest`` rules table)."""
    out = []
    for pair in rules.load("ingest")["dates"]["order"]:
        if pair["table"] != table.name:
            continue
        later, earlier = pair["later"], pair["earlier"]
        pl, pe = _ident(f"p_{later}"), _ident(f"p_{earlier}")
        out.append(Check("date_order", f"{pl} < {pe}",
                         f"{_q(later + ' ')} || {pl} || {_q(' precedes ' + earlier + ' ')} || {pe}"))
    return out


def checked_sql(table: Table, columns: list[str], *, source: str, as_of: date, entities: str | None,
                typed: frozenset[str] | set[str] = frozenset(), long: frozenset[str] | set[str] = frozenset()) -> str:
    """SQL selecting, for every row of ``source``, ``_row``, the parsed ``p_<column>`` columns, ``_unit`` and
    ``_rule``/``_detail`` (NULL when the row passes).

    Args:
        table: the contract table.
        columns: the stored columns of ``source`` (contract columns, personal ones replaced).
        source: the rows as text (:func:`features.normalise.as_text`), with ``_row`` and, for each credit-code column ``c``,
            ``_x_c``: the alphabet position of its expected check character (:func:`features.normalise.check_indices`).
        as_of: no event date may lie after it.
        entities: a relation with the known credit codes (column ``uscc``), or None to skip that check.
        typed: columns of ``source`` holding typed values rather than text (:func:`features.normalise.keeps_type`).
        long: text columns of ``source`` with a value longer in bytes than the column's limit (:func:`long_columns`);
            only they are checked for ``oversized_field``.
    """
    kinds = {c.name: c.kind for c in table.columns}
    kind = {c: kinds.get(c, "str") for c in columns}
    aliases = {c.name: c.aliases for c in table.columns}
    raw = ", ".join(f"{_ident(c)} AS {_ident('r_' + c)}" for c in columns)
    values = ", ".join(f"{parse_expr(kind[c], _ident('r_' + c), typed=c in typed, aliases=aliases.get(c, ()))} "
                       f"AS {_ident('v_' + c)}" for c in columns)
    codes = [c for c in columns if kind[c] == "uscc"]
    passed = "".join(f", {_ident('_x_' + c)}" for c in codes)
    expected = "".join(f", substr({_q(uscc.ALPHABET)}, CAST({_ident('_x_' + c)} AS BIGINT) + 1, 1) AS {_ident('x_' + c)}"
                       for c in codes)
    parsed = ", ".join(f"{finish_expr(kind[c], _ident('v_' + c))} AS {_ident('p_' + c)}" for c in columns)
    money = [c for c in columns if kind[c] == "money" and c not in typed]  # typed amounts carry no unit
    unit = " OR ".join(unit_given_expr(_ident("r_" + c)) for c in money) or "FALSE"
    checks = [ch for c in table.columns if c.name in columns
              for ch in column_checks(table, c, as_of=as_of, long=c.name in long)]
    checks += row_checks(table)
    join = ""
    if entities and table.references_entities:
        join = f" LEFT JOIN (SELECT DISTINCT uscc AS _known FROM {entities}) _e ON _e._known = p.p_uscc"
        checks.append(Check("unknown_entity", "p.p_uscc IS NOT NULL AND _e._known IS NULL",
                            "'uscc: ' || p_uscc || ' not found in entities'"))
    first = " ".join(f"WHEN {ch.condition} THEN {i}" for i, ch in enumerate(checks, 1))
    rule_list = "[" + ", ".join(_q(ch.rule) for ch in checks) + "]"
    detail = " ".join(f"WHEN {i} THEN {ch.detail}" for i, ch in enumerate(checks, 1))
    keep = ", ".join(["_row"] + [_ident(f"p_{c}") for c in columns] + ["_unit"])
    return (
        f"SELECT {keep}, {rule_list}[_check] AS _rule, CASE _check {detail} END AS _detail FROM ("
        f"SELECT p.*, CASE {first} END AS _check FROM ("
        f"SELECT *, {parsed} FROM ("
        f"SELECT *, {values}{expected}, ({unit}) AS _unit FROM ("
        f"SELECT _row, {raw}{passed} FROM {source}) b) c) p{join}) q"
    )
