"""Masking of personal data in everything ingest echoes: messages, run summaries and quarantined lines.

Personal columns (``features.sources``) are pseudonymised or dropped before validation, so a row that
reaches the quarantine carries none. What remains is data that escaped its column: a line with too many
or too few fields, an ID number typed into an address, a header that is really a data row. Three nets
catch it, and each replaces the value by a label saying what was there (``[masked:phone]``):

- ID-card numbers (18 digits with a birth date, or the older 15) and phone numbers, by pattern, in every
  text echoed (the same patterns run in Python and in DuckDB's RE2: ASCII word boundaries);
- in a malformed line of a table with personal columns, every field that could be one of them under
  either alignment of the fields to the header (from its start or from its end);
- and there, any field shaped like a Chinese personal name.

A field that was a person's ID number becomes ``[person_key:P…]``, the pseudonym the warehouse holds, so
the data steward can still tell which person a quarantined line was about.
"""

from __future__ import annotations

import re

from features.normalise import pseudonymise_many
from features.sources import Table

ID_NUMBER = (r"\b(?:[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
             r"|[1-9][0-9]{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3})\b")
PHONE = r"\b(?:86[- ]?)?(?:1[3-9][0-9]{9}|1[3-9][0-9][- ][0-9]{4}[- ][0-9]{4}|0[0-9]{2,3}-[0-9]{7,8})\b"
PATTERNS = {"id_number": ID_NUMBER, "phone": PHONE}  # label -> pattern, applied in this order
_COMPILED = {label: re.compile(p, re.ASCII) for label, p in PATTERNS.items()}
_PERSON_NAME = re.compile(r"^[\u3400-\u9fff][\u3400-\u9fff·•]{1,5}$")  # 2-6 Han characters (a middle dot allowed)
_DATA_CELL = re.compile(r"[0-9]{4}|[0-9A-Z]{18}")  # years, dates, amounts, credit codes, ID and phone numbers
CUT = 200  # characters of an over-long value kept when it is echoed


def mask_text(text: str) -> str:
    """``text`` with ID-card and phone numbers replaced by ``[masked:id_number]`` / ``[masked:phone]``."""
    for label, pattern in _COMPILED.items():
        text = pattern.sub(f"[masked:{label}]", text)
    return text


def mask_sql(expr: str) -> str:
    """SQL applying :func:`mask_text` to the text expression ``expr`` (DuckDB, RE2)."""
    for label, pattern in PATTERNS.items():
        expr = f"regexp_replace({expr}, '{pattern}', '[masked:{label}]', 'g')"
    return expr


def cut(text: str, *, limit: int = CUT) -> str:
    """``text`` shortened to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}…[{len(text):,} characters]"


def mask_fields(fields: list[str], header: list[str], table: Table, *, key: bytes) -> list[str]:
    """The fields of a malformed line, safe to store: see the module docstring for what is replaced."""
    personal = set(table.personal)
    if not personal:
        return [cut(mask_text(f)) for f in fields]
    at = {i for i, name in enumerate(header) if name in personal}
    keys = {i for i, name in enumerate(header) if name in table.key}  # kept where they are: they locate the row
    shift = len(fields) - len(header)
    id_like = [f for f in fields if _COMPILED["id_number"].search(f)]
    pseudonyms = dict(zip(id_like, pseudonymise_many(id_like, key=key), strict=True))
    out = []
    for i, value in enumerate(fields):
        if value in pseudonyms and _COMPILED["id_number"].fullmatch(value.strip()):
            out.append(f"[person_key:{pseudonyms[value]}]")
        elif i in at or (i - shift in at and i not in keys) or _PERSON_NAME.match(value.strip()):
            out.append("[masked:personal]" if value.strip() else "")
        else:
            out.append(cut(mask_text(value)))
    return out


def safe_names(names: list[str], table: Table) -> list[str]:
    """Column names found in a header, safe to echo: masked and cut; when the header looks like a data row (a
    cell holds a number, a date, a credit or ID code) every name outside the contract is shown by position."""
    known = {c.name for c in table.columns} | {c.zh for c in table.columns}
    data_like = any(_DATA_CELL.search(str(n)) for n in names if n not in known)
    return [n if n in known else f"[column {i}]" if data_like else cut(mask_text(str(n)), limit=60)
            for i, n in enumerate(names, 1)]
