"""Dirt for ``--dirty-rate``: realistic faults injected into the extracts, each class counted exactly.

Fault classes (the contract with ingest): duplicate_rows, bad_check_character, gbk_encoding,
missing_required_date, impossible_date, amount_in_wan, name_only_opinion, malformed_line. Within one table
the rows touched by different classes are disjoint, so every count is exact. A malformed line is a CSV row
written with one field too many (a stray note carrying a phone number, which ingest must not echo): the
rows are only marked here (column ``MALFORMED``) and broken when the CSV is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core import uscc

FAULT_CLASSES = ("duplicate_rows", "bad_check_character", "gbk_encoding", "missing_required_date",
                 "impossible_date", "amount_in_wan", "name_only_opinion", "malformed_line")
MALFORMED = "_malformed"  # marker column: write this row as a malformed CSV line
MALFORMED_NOTE = ",备注：联系电话 13800000000"  # the stray field appended to a malformed line
GBK_TABLE = "opinions"
# table -> fault classes it receives (besides duplicate_rows, which every table receives)
PLAN: dict[str, tuple[str, ...]] = {
    "licences": ("bad_check_character", "missing_required_date", "impossible_date", "malformed_line"),
    "changes": ("bad_check_character", "missing_required_date"),
    "annual_reports": ("bad_check_character",),
    "penalties": ("bad_check_character", "missing_required_date", "amount_in_wan"),
    "inspections": ("bad_check_character", "missing_required_date", "impossible_date"),
    "complaints": ("bad_check_character",),
    "opinions": ("name_only_opinion",),
}
DATE_COLUMN = {"licences": "issued", "changes": "change_date", "penalties": "decided_date",
               "inspections": "inspection_date"}


def _count(rate: float, rows: int) -> int:
    return min(rows, max(1, int(round(rate * rows)))) if rate > 0 and rows else 0


def _bad_code(code: str, shift: int) -> str:
    good = code[17]
    alphabet = uscc.ALPHABET
    return code[:17] + alphabet[(alphabet.index(good) + 1 + shift % 30) % 31]


def _wan(value: float, as_wan: bool) -> str:
    if as_wan:
        return f"{value / 10000:.4f}".rstrip("0").rstrip(".") + "万元"
    return f"{value:.0f}元"


def inject(tables: dict[str, pd.DataFrame], *, rate: float, seed: int,
           text_dates: set[str]) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, int]]]:
    """Inject faults into copies of ``tables`` (contract columns only).

    ``text_dates`` names the tables delivered as text (CSV): their impossible dates are calendar
    nonsense such as 2021-02-30; Parquet tables get dates after any plausible as-of instead.

    Returns:
        the dirty tables and ``{table: {fault_class: rows}}``.
    """
    rng = np.random.default_rng([seed, 900])
    out, counts = {}, {}
    for name in sorted(tables):
        df = tables[name].reset_index(drop=True).copy()
        n = len(df)
        got: dict[str, int] = {}
        avail = rng.permutation(n)  # rows no fault has touched yet
        for fault in PLAN.get(name, ()):
            if fault == "malformed_line" and name not in text_dates:  # only a text file has lines to break
                continue
            pool = avail
            if fault == "amount_in_wan":
                pool = pool[df["fine_amount"].notna().to_numpy()[pool]]
            elif fault == "name_only_opinion":
                pool = pool[df["uscc"].notna().to_numpy()[pool]]
            k = min(_count(rate, n), len(pool))
            rows = np.sort(pool[:k])
            avail = avail[~np.isin(avail, rows)]
            if not k:
                continue
            got[fault] = k
            if fault == "bad_check_character":
                codes = df["uscc"].to_numpy(dtype=object)
                shifts = rng.integers(0, 30, k)
                codes[rows] = [_bad_code(codes[r], s) for r, s in zip(rows, shifts, strict=True)]
                df["uscc"] = codes
            elif fault == "missing_required_date":
                col = DATE_COLUMN[name]
                df[col] = df[col].astype(object)
                df.loc[rows, col] = None
            elif fault == "impossible_date":
                col = DATE_COLUMN[name]
                df[col] = df[col].astype(object)
                if name in text_dates:
                    # days that do not exist: 30/31 February, 31 April/June/September/November
                    years, months = rng.integers(2016, 2026, k), rng.choice([2, 4, 6, 9, 11], k)
                    days = np.where(months == 2, rng.integers(30, 32, k), 31)
                    df.loc[rows, col] = [f"{y}-{m:02d}-{d}" for y, m, d in zip(years, months, days, strict=True)]
                else:
                    df.loc[rows, col] = [np.datetime64(f"{y}-0{m}-1{d}") for y, m, d in zip(
                        rng.integers(2095, 2100, k), rng.integers(1, 10, k), rng.integers(0, 10, k), strict=True)]
            elif fault == "amount_in_wan":
                vals = df["fine_amount"].to_numpy(dtype=object)
                text = np.array([None if v != v else f"{v:.0f}" for v in vals], dtype=object)
                as_wan = rng.random(k) < 0.7
                text[rows] = [_wan(float(vals[r]), w) for r, w in zip(rows, as_wan, strict=True)]
                df["fine_amount"] = text
            elif fault == "name_only_opinion":
                df["uscc"] = df["uscc"].astype(object)
                df.loc[rows, "uscc"] = None
            elif fault == "malformed_line":  # only marked: the CSV writer breaks the line
                df[MALFORMED] = np.isin(np.arange(n), rows)
        # exact duplicates of clean rows, placed right after their originals
        k = min(_count(rate, n), len(avail))
        if k:
            dup = np.sort(avail[:k])
            idx = np.sort(np.concatenate([np.arange(n), dup]), kind="stable")
            df = df.iloc[idx].reset_index(drop=True)
            got["duplicate_rows"] = k
        if name == GBK_TABLE and rate > 0:
            got["gbk_encoding"] = len(df)
        out[name] = df
        if got:
            counts[name] = got
    return out, counts


def totals(by_table: dict[str, dict[str, int]]) -> dict[str, int]:
    """Rows per fault class over all tables."""
    out = {c: 0 for c in FAULT_CLASSES}
    for got in by_table.values():
        for c, k in got.items():
            out[c] += k
    return out
