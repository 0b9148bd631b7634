"""Dirt for ``--dirty-rate``: realistic faults injected into the extracts, each class counted exactly.

Fault classes (the contract with ingest): duplicate_rows, bad_check_character, gbk_encoding,
missing_required_date, impossible_date, amount_in_wan, name_only_opinion, malformed_line. Within one table
the rows touched by different classes are disjoint, so every count is exact. A malformed line is a CSV row
written with one field too many (a stray note carrying a phone number, which ingest must not echo): the
rows are only marked here (column ``MALFORMED``) and broken when the CSV is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


# the column whose present values make a fault's pool of rows (other faults draw from every untouched row)
POOL_COLUMN = {"amount_in_wan": "fine_amount", "name_only_opinion": "uscc"}


def pool_columns(name: str) -> list[str]:
    """Columns of table ``name`` whose missing values ``plan`` needs (``pools``)."""
    return [POOL_COLUMN[f] for f in PLAN.get(name, ()) if f in POOL_COLUMN]


@dataclass
class TableFaults:
    """The faults of one table: rows (positions in the clean table) per class, with the draws they need."""

    table: str
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # fault -> sorted rows, in the order applied
    draws: dict[str, np.ndarray] = field(default_factory=dict)  # fault -> a value per row (shifts, dates, ...)
    duplicates: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    gbk_rows: int = 0

    def counts(self) -> dict[str, int]:
        got = {f: len(r) for f, r in self.rows.items()}
        if len(self.duplicates):
            got["duplicate_rows"] = len(self.duplicates)
        if self.gbk_rows:
            got["gbk_encoding"] = self.gbk_rows
        return got

    def apply(self, df: pd.DataFrame, offset: int = 0) -> pd.DataFrame:
        """The dirty version of the clean rows ``offset .. offset + len(df)`` of the table."""
        df = df.reset_index(drop=True).copy()
        n = len(df)
        for fault, rows in self.rows.items():
            inside = (rows >= offset) & (rows < offset + n)
            local, draws = rows[inside] - offset, self.draws[fault][inside]
            if fault == "bad_check_character":
                codes = df["uscc"].to_numpy(dtype=object)
                codes[local] = [_bad_code(codes[r], s) for r, s in zip(local, draws, strict=True)]
                df["uscc"] = codes
            elif fault in ("missing_required_date", "impossible_date"):
                col = DATE_COLUMN[self.table]
                df[col] = df[col].astype(object)
                df.loc[local, col] = None if fault == "missing_required_date" else list(draws)
            elif fault == "amount_in_wan":
                vals = df["fine_amount"].to_numpy(dtype=object)
                text = np.array([None if v != v else f"{v:.0f}" for v in vals], dtype=object)
                text[local] = [_wan(float(vals[r]), w) for r, w in zip(local, draws, strict=True)]
                df["fine_amount"] = text
            elif fault == "name_only_opinion":
                df["uscc"] = df["uscc"].astype(object)
                df.loc[local, "uscc"] = None
            elif fault == "malformed_line":  # only marked: the CSV writer breaks the line
                df[MALFORMED] = np.isin(np.arange(offset, offset + n), rows)
        # exact duplicates of clean rows, placed right after their originals
        if len(self.duplicates):
            dup = self.duplicates[(self.duplicates >= offset) & (self.duplicates < offset + n)] - offset
            idx = np.sort(np.concatenate([np.arange(n), dup]), kind="stable")
            df = df.iloc[idx].reset_index(drop=True)
        return df


def plan(sizes: dict[str, int], *, rate: float, seed: int, text_dates: set[str],
         pools: dict[str, dict[str, np.ndarray]]) -> dict[str, TableFaults]:
    """Which rows of each clean table (``sizes``: rows per table) get which fault, drawn before any row is
    seen so that the tables can then be made dirty block by block (``TableFaults.apply``).

    ``pools`` holds, per table, whether each row has a value in the ``pool_columns`` of that table.
    ``text_dates`` names the tables delivered as text (CSV): their impossible dates are calendar
    nonsense such as 2021-02-30; Parquet tables get dates after any plausible as-of instead.
    """
    rng = np.random.default_rng([seed, 900])
    out = {}
    for name in sorted(sizes):
        n = sizes[name]
        tf = TableFaults(name)
        avail = rng.permutation(n)  # rows no fault has touched yet
        for fault in PLAN.get(name, ()):
            if fault == "malformed_line" and name not in text_dates:  # only a text file has lines to break
                continue
            pool = avail
            if fault in POOL_COLUMN:
                pool = pool[pools[name][POOL_COLUMN[fault]][pool]]
            k = min(_count(rate, n), len(pool))
            rows = np.sort(pool[:k])
            avail = avail[~np.isin(avail, rows)]
            if not k:
                continue
            tf.rows[fault] = rows
            draws = np.full(k, None, dtype=object)
            if fault == "bad_check_character":
                draws = rng.integers(0, 30, k)
            elif fault == "impossible_date" and name in text_dates:
                # days that do not exist: 30/31 February, 31 April/June/September/November
                years, months = rng.integers(2016, 2026, k), rng.choice([2, 4, 6, 9, 11], k)
                days = np.where(months == 2, rng.integers(30, 32, k), 31)
                draws = np.array([f"{y}-{m:02d}-{d}" for y, m, d in zip(years, months, days, strict=True)],
                                 dtype=object)
            elif fault == "impossible_date":
                draws = np.empty(k, dtype=object)
                draws[:] = [np.datetime64(f"{y}-0{m}-1{d}") for y, m, d in zip(
                    rng.integers(2095, 2100, k), rng.integers(1, 10, k), rng.integers(0, 10, k), strict=True)]
            elif fault == "amount_in_wan":
                draws = rng.random(k) < 0.7
            tf.draws[fault] = draws
        k = min(_count(rate, n), len(avail))
        if k:
            tf.duplicates = np.sort(avail[:k])
        if name == GBK_TABLE and rate > 0:
            tf.gbk_rows = n + len(tf.duplicates)
        out[name] = tf
    return out


def inject(tables: dict[str, pd.DataFrame], *, rate: float, seed: int,
           text_dates: set[str]) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, int]]]:
    """Inject faults into copies of ``tables`` (contract columns only), whole tables at once (see ``plan``).

    Returns:
        the dirty tables and ``{table: {fault_class: rows}}``.
    """
    pools = {name: {c: df[c].notna().to_numpy() for c in pool_columns(name)} for name, df in tables.items()}
    faults = plan({name: len(df) for name, df in tables.items()}, rate=rate, seed=seed, text_dates=text_dates,
                  pools=pools)
    out = {name: faults[name].apply(tables[name]) for name in sorted(tables)}
    return out, {name: got for name in sorted(tables) if (got := faults[name].counts())}


def totals(by_table: dict[str, dict[str, int]]) -> dict[str, int]:
    """Rows per fault class over all tables."""
    out = {c: 0 for c in FAULT_CLASSES}
    for got in by_table.values():
        for c, k in got.items():
            out[c] += k
    return out
