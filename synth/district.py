"""Generate the simulated district: the full history once, deterministically, then views of it by date.

``generate`` writes the extracts known by ``until`` (default: the end of the frame) plus the hidden
ground truth; ``emit_drop`` writes one month's drop (new rows, corrected rows, status changes) as
the difference between the views at the end of that month and at the end of the month before.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import UserError
from core.progress import say
from features.sources import PENALTY_DOMAINS, SOURCES
from synth import faults as flt
from synth import records as rec
from synth import report as rpt
from synth import xlsx
from synth.params import DAY, Frame, district, sigmoid
from synth.population import EXIT_FORCED, Population, build
from synth.world import simulate

GENERATOR_VERSION = "synth-2026.2"  # .2: items naming two firms, the labelled opinion set
LABELLED_OPINIONS = Path("labelled") / "opinion_targets.parquet"
CHUNK = 60_000
WRITE_ROWS = 1_000_000  # rows per Parquet row group
WRITE_BYTES = 128 * 2**20  # at most this many Arrow bytes are buffered per Parquet table before a row group
TEXT_ROWS = 200_000  # rows per CSV write
GROUND_TRUTH_ROWS = 1024 * 1024  # rows per row group of ground_truth/entities.parquet (Parquet's default)
# labels with a handful of values, held as categories (never reset or corrected by views)
CATEGORIES = {"kind", "result", "relation_type", "item", "licence_type", "reason", "source", "_sentiment", "category"}
FORMATS = {"licences": "csv", "complaints": "xlsx"}  # every other table is Parquet
CORRECTED = ("penalties", "annual_reports", "inspections")  # tables whose records are corrected later
ARROW = {"str": pa.string(), "uscc": pa.string(), "enum": pa.string(), "list": pa.string(), "int": pa.int64(),
         "float": pa.float64(), "money": pa.float64(), "date": pa.date32(), "bool": pa.bool_()}
# lifecycle columns: (date column, columns blanked while that date is after the view date, reset values)
LIFECYCLE = {
    "entities": ("status_date", ["status_date"], {"status": "active"}),
    "licences": ("status_date", ["status_date"], {"status": "valid"}),
    "abnormal_list": ("removed_date", ["removed_date", "removal_reason"], {}),
    "serious_list": ("removed_date", ["removed_date", "removal_reason"], {}),
    "dept_lists": ("removed_date", ["removed_date", "removal_reason"], {}),
    "complaints": ("handled_date", ["handled_date", "upheld"], {}),
    "penalties": [("fine_paid_date", ["fine_paid_date"], {}),
                  ("published_date", ["published_date", "publicity_end"], {})],
    "relations": ("end_date", ["end_date"], {}),
    "commitments": ("status_date", ["status_date"], {"status": "in_force"}),
    "sampling_results": ("followup_date", ["followup_date"], {"followup_status": "handling"}),
    "annual_reports": ("filed_date", ["filed_date", "employees", "social_insurance_staff", "revenue", "assets",
                                      "liabilities", "tax", "profit"], {}),
}


@dataclass
class History:
    """The whole simulated history with internal columns, and the corrections issued later."""

    frame: Frame
    seed: int
    entities: int
    pop: Population
    tables: dict[str, pd.DataFrame]
    corrections: dict[str, pd.DataFrame]
    probes: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0


def _check(entities: int, seed: int, dirty_rate: float, start: date, end: date) -> Frame:
    if not isinstance(entities, int) or entities < 200:
        raise UserError(f"expected at least 200 entities, got {entities!r}")
    if not 0.0 <= dirty_rate <= 0.5:
        raise UserError(f"expected a dirty rate between 0 and 0.5, got {dirty_rate!r}")
    if not isinstance(seed, int) or seed < 0:
        raise UserError(f"expected a non-negative integer seed, got {seed!r}")
    if end <= start:
        raise UserError(f"expected end after start, got start={start} end={end}")
    return Frame(start, end)


# ------------------------------------------------------------------------------------------------- history
def _heads(pop: Population) -> np.ndarray:
    """Per group: the earliest-established company (the group's holding company), else -1."""
    company = np.isin(pop.entity_type, ["limited_company", "joint_stock", "foreign_invested"]) & pop.in_group
    heads = np.full(int(pop.group.max()) + 1, -1, dtype=np.int64)
    idx = np.flatnonzero(company)
    idx = idx[np.lexsort((idx, pop.established[idx]))]
    g = pop.group[idx]
    first = np.unique(g, return_index=True)[1]
    heads[g[first]] = idx[first]
    return heads


def _latent_table(pop: Population, world, frame: Frame) -> pa.Table:
    """Ground truth rows from each entity's first month to its exit month (it exists until the exit date)."""
    rows = world.alive.copy()
    exit_m = frame.month_of(pop.exit_date[world.lo:world.hi])
    last = np.flatnonzero((exit_m < frame.months) & (exit_m >= frame.month_of(pop.established[world.lo:world.hi])))
    rows[last, exit_m[last]] = True
    flat = np.flatnonzero(rows)
    i, t = np.divmod(flat, frame.months)
    dom = world.domain.ravel()[flat]
    return pa.table({
        "uscc": pa.DictionaryArray.from_arrays(pa.array(i.astype(np.int32)), pop.uscc.slice(world.lo, world.hi - world.lo)),
        "month": pa.array(frame.month_start(t), type=pa.date32()),
        "propensity": pa.array(world.propensity.ravel()[flat], type=pa.float32()),
        "violating": pa.array(world.violating.ravel()[flat]),
        "domain": pa.DictionaryArray.from_arrays(pa.array(dom, mask=dom < 0).cast(pa.int8()),
                                                 pa.array(list(PENALTY_DOMAINS))),
        "dormant": pa.array(world.dormant.ravel()[flat]),
        "risk_12m": pa.array(world.risk.ravel()[flat], type=pa.float32()),
    })


class _LatentWriter:
    """Writes the ground-truth chunks in order on one background thread (Parquet encoding overlaps the next chunk)."""

    def __init__(self, path: Path | None, pop: Population, frame: Frame) -> None:
        self.path, self.pop, self.frame = path, pop, frame
        self.writer: pq.ParquetWriter | None = None
        self.pool = ThreadPoolExecutor(max_workers=1) if path is not None else None
        self.pending = None

    def _write(self, world) -> None:
        table = _latent_table(self.pop, world, self.frame)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def submit(self, world) -> None:
        if self.pool is None:
            return
        self.wait()
        self.pending = self.pool.submit(self._write, world)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            if self.writer is not None:
                self.writer.close()


def _probes(pop: Population, frame: Frame) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """The learnability as-ofs' month index and, per entity, the world's state there (filled chunk by chunk)."""
    end = frame.end
    probe_dates = {date(end.year - 1, 1, 1), date(end.year - 3, 1, 1)}
    probe_t = {d.isoformat(): int(frame.month_of(np.array([np.datetime64(d, "D") - DAY]))[0]) for d in probe_dates}
    probes = {k: np.zeros(pop.n, dtype=np.float32) for k in probe_t}
    probes.update({f"{k}/dormant": np.zeros(pop.n, dtype=bool) for k in probe_t})
    probes.update({f"{k}/risk_12m": np.zeros(pop.n, dtype=np.float32) for k in probe_t})
    return probe_t, probes


def _chunks(pop: Population, frame: Frame, *, seed: int, latent_path: Path | None,
            probes: dict[str, np.ndarray], probe_t: dict[str, int]) -> Iterator[dict[str, pd.DataFrame]]:
    """The history's records chunk by chunk of ``CHUNK`` entities (rows known only after the frame left out);
    the ground truth goes to ``latent_path`` and the world's state at the probes into ``probes`` on the way."""
    heads = _heads(pop)
    writer = _LatentWriter(latent_path, pop, frame)
    n_chunks = (pop.n + CHUNK - 1) // CHUNK
    try:
        for c, lo in enumerate(range(0, pop.n, CHUNK)):
            hi = min(lo + CHUNK, pop.n)
            world = simulate(pop, frame, lo=lo, hi=hi, seed=seed, chunk=c)
            for key, t in probe_t.items():
                if 0 <= t < frame.months:
                    probes[key][lo:hi] = world.propensity[:, t]
                    probes[f"{key}/dormant"][lo:hi] = world.dormant[:, t]
                if 0 <= t + 1 < frame.months:  # the risk row of the month starting on the probe date
                    probes[f"{key}/risk_12m"][lo:hi] = world.risk[:, t + 1]
            writer.submit(world)
            parts = {}
            for name, df in rec.chunk_records(pop, world, frame, seed=seed, chunk=c, heads=heads,
                                              all_names=pop.name_set).items():
                appear = df["_appear"] if "_appear" in df else df["known_date"]
                later = appear.to_numpy("datetime64[D]") > frame.d_end  # known only after the frame: never seen
                parts[name] = df[~later] if later.any() else df
            del world
            say(f"  world and records: chunk {c + 1}/{n_chunks}")
            yield parts
    finally:
        writer.close()


def _with_appear(df: pd.DataFrame) -> pd.DataFrame:
    if "_appear" not in df:
        df["_appear"] = df["known_date"]
    return df


def _build(*, entities: int, seed: int, start: date, end: date, latent_path: Path | None) -> History:
    """The whole history in memory (monthly drops compare two views of it; ``generate`` streams instead)."""
    began = time.perf_counter()
    frame = Frame(start, end)
    pop = build(frame, entities=entities, seed=seed)
    say(f"  population: {pop.n:,} entities")
    probe_t, probes = _probes(pop, frame)
    parts: dict[str, list[pd.DataFrame]] = {}
    for chunk in _chunks(pop, frame, seed=seed, latent_path=latent_path, probes=probes, probe_t=probe_t):
        for name, df in chunk.items():
            parts.setdefault(name, []).append(df)
    say("  joining chunks")
    tables = {name: _compact(pd.concat(parts.pop(name), ignore_index=True)) for name in list(parts)}
    tables["entities"] = _entities(pop, frame)
    for df in tables.values():
        _with_appear(df)
    corrections = _corrections(lambda name: [tables[name]], frame, seed=seed)
    return History(frame=frame, seed=seed, entities=entities, pop=pop, tables=tables, corrections=corrections,
                   probes=probes, seconds=time.perf_counter() - began)


def _compact(df: pd.DataFrame) -> pd.DataFrame:
    """Less memory for the same values: text in object columns as ``str``, repetitive labels as categories."""
    for col in df.columns:
        s = df[col]
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
            df[col] = s.astype("str")
        elif col in CATEGORIES:
            df[col] = s.astype("category")
    return df


@lru_cache(maxsize=1)
def _cached(entities: int, seed: int, start: date, end: date) -> History:
    return _build(entities=entities, seed=seed, start=start, end=end, latent_path=None)


def _entities(pop: Population, frame: Frame, lo: int = 0, hi: int | None = None) -> pd.DataFrame:
    """The registry rows of entities ``lo .. hi`` (default: all)."""
    hi = pop.n if hi is None else hi
    towns = district()["town"]
    r = slice(lo, hi)
    exit_date = pop.exit_date[r]
    status = np.where(~np.isnat(exit_date), np.where(pop.is_ent[r] & (pop.exit_kind[r] == EXIT_FORCED), "revoked",
                                                     "deregistered"), "active").astype(object)
    industries = district()["industry"]
    parent = np.where(pop.parent[r] >= 0, pop.uscc_of(np.maximum(pop.parent[r], 0)), None).astype(object)
    name, address = pop.text(lo, hi)
    return pd.DataFrame({
        "uscc": pop.uscc_of(np.arange(lo, hi)), "name": name, "entity_type": pop.entity_type[r],
        "industry_code": np.array([i["code"] for i in industries], dtype=object)[pop.industry[r]],
        "town_code": np.array([t["code"] for t in towns], dtype=object)[pop.town[r]],
        "address": address, "registered_capital": pop.capital[r], "established": pop.established[r],
        "status": status, "status_date": exit_date, "is_foreign_invested": pop.foreign[r],
        "parent_uscc": parent, "known_date": pop.established[r], "_ent": np.arange(lo, hi),
    }, index=pd.RangeIndex(hi - lo))


def _corrections(parts: Callable[[str], Iterable[pd.DataFrame]], frame: Frame, *,
                 seed: int) -> dict[str, pd.DataFrame]:
    """Later versions of a few records: same key, later known_date, changed values. ``parts(name)`` gives the
    history's rows of a table in order, whole or in chunks (the same draws either way)."""
    rng = np.random.default_rng([seed, 700])
    share = district()["records"]["correction_share"]
    out = {}
    for name in CORRECTED:
        picked = []
        for df in parts(name):
            pick = rng.random(len(df)) < share
            if name == "annual_reports":
                pick &= df["filed_date"].notna().to_numpy()
            picked.append(df[pick])
        c = picked[0].copy() if len(picked) == 1 else pd.concat(picked, ignore_index=True)
        known = c["_appear"].to_numpy("datetime64[D]")
        if name == "annual_reports":
            known = np.maximum(known, c["filed_date"].to_numpy("datetime64[D]"))
        c["known_date"] = known + rng.integers(20, 180, len(c)) * DAY
        c = c[c["known_date"].to_numpy("datetime64[D]") <= frame.d_end]
        if name == "penalties":
            has = c["fine_amount"].notna()
            c.loc[has, "fine_amount"] = np.round(c.loc[has, "fine_amount"] * rng.uniform(0.5, 1.5, int(has.sum()))
                                                 / 100.0) * 100.0
            other = ~has.to_numpy() & (c["domain"] != "registration").to_numpy()
            c.loc[other, "domain"] = rng.choice(["other", "consumer_rights", "quality"], int(other.sum()))
        elif name == "annual_reports":
            for col in ("revenue", "profit", "tax"):
                c[col] = np.round(c[col] * rng.uniform(0.8, 1.25, len(c)))
        else:
            c["items"] = c["items"].where(c["items"].str.contains(";"), c["items"] + ";annual_report_public_info")
            c.loc[c["items"].str.contains(";"), "items"] = c["items"].str.split(";").str[0]
        c["_appear"] = c["known_date"]
        out[name] = c
    return out


# ---------------------------------------------------------------------------------------------------- views
def _key(df: pd.DataFrame, key: tuple[str, ...]) -> pd.Index:
    if len(key) == 1:
        return pd.Index(df[key[0]])
    return pd.MultiIndex.from_arrays([df[k] for k in key])


def view(hist: History, until: date) -> dict[str, pd.DataFrame]:
    """Every table as the bureau knew it at the end of ``until``: contract columns plus ``_ent``."""
    u = np.datetime64(until, "D")
    corrections = _known_corrections(hist.corrections, u)
    return {name: _view_table(name, hist.tables[name], corrections.get(name), u) for name in SOURCES}


def _known_corrections(corrections: dict[str, pd.DataFrame], u: np.datetime64) -> dict[str, pd.DataFrame]:
    return {name: c[c["_appear"].to_numpy("datetime64[D]") <= u] for name, c in corrections.items()}


def _view_table(name: str, df: pd.DataFrame, corr: pd.DataFrame | None, u: np.datetime64) -> pd.DataFrame:
    """One table's rows (all of them or one chunk's) as known at the end of ``u``, with the corrections
    ``corr`` known by then applied (a correction whose record is not among the rows is left out)."""
    table = SOURCES[name]
    # copy-on-write: the history is never modified through a view
    known = df["_appear"].to_numpy("datetime64[D]") <= u
    if not known.all():
        df = df[known]
    if corr is not None and len(corr):
        pos = _key(df, table.key).get_indexer(_key(corr, table.key))
        ok = np.flatnonzero(pos >= 0)
        rows = pos[ok]
        for col in table.names:  # only the columns a correction changed
            new = corr[col].iloc[ok].reset_index(drop=True)
            if df[col].iloc[rows].reset_index(drop=True).equals(new):
                continue
            vals = df[col].copy()
            vals.iloc[rows] = new.to_numpy()
            df[col] = vals
    stages = LIFECYCLE.get(name, [])
    for col, blank, reset in stages if isinstance(stages, list) else [stages]:
        later = df[col].to_numpy("datetime64[D]") > u
        if later.any():
            for b in blank:
                if df[b].dtype == bool:
                    df[b] = df[b].astype("boolean")
                df.loc[later, b] = None
            for k, v in reset.items():
                df.loc[later, k] = v
            if name == "annual_reports":
                df.loc[later, "known_date"] = df.loc[later, "_appear"]
    extra = ["_ent", "_other", "_sentiment"] if name == "opinions" else ["_ent"]
    return df[[*table.names, *extra]].reset_index(drop=True)


def _changed(new: pd.DataFrame, old: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Rows of ``new`` that ``old`` does not hold identically."""
    h_new = pd.util.hash_pandas_object(new[cols].astype(str), index=False).to_numpy()
    h_old = pd.util.hash_pandas_object(old[cols].astype(str), index=False).to_numpy()
    return new[~np.isin(h_new, h_old)].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------- writing
def _has_text(s: pd.Series) -> bool:
    """Whether a numeric column carries text (dirt such as amounts written in 万元)."""
    if pd.api.types.is_numeric_dtype(s.dtype):
        return False
    return pd.api.types.infer_dtype(s, skipna=True) not in ("floating", "integer", "mixed-integer-float", "empty")


def _strings(s: pd.Series) -> pa.Array:
    """Text values as an Arrow string array (missing stays missing)."""
    try:
        return pa.array(s, type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # values that are not text: write their text form
        return pa.array([None if v is None or v != v else str(v) for v in s], type=pa.string())


def _arrow(df: pd.DataFrame, name: str, *, text: set[str] | None = None) -> pa.Table:
    """Contract columns as an Arrow table; ``text`` names numeric columns carrying text (default: detect)."""
    table = SOURCES[name]
    cols = {}
    for c in table.columns:
        s = df[c.name]
        typ = ARROW[c.kind]
        if c.kind == "date":
            vals = pd.to_datetime(s, errors="coerce").to_numpy("datetime64[D]")
            cols[c.name] = pa.array(vals, type=pa.date32(), mask=np.isnat(vals))
        elif c.kind in ("money", "float") and (c.name in text if text is not None else _has_text(s)):
            cols[c.name] = _strings(s.map(lambda v: v if v is None or isinstance(v, str) or v != v else str(v)))
        elif c.kind == "int":
            cols[c.name] = pa.array(pd.array(s, dtype="Int64"), type=pa.int64())
        elif c.kind == "bool":
            cols[c.name] = pa.array(pd.array(s, dtype="boolean"), type=pa.bool_())
        elif c.kind in ("money", "float"):
            cols[c.name] = pa.array(pd.to_numeric(s).to_numpy(np.float64), type=typ, from_pandas=True)
        else:
            cols[c.name] = _strings(s)
    return pa.table(cols)


def _text(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Contract columns as text for CSV/Excel: ISO dates, true/false, plain numbers, empty for missing."""
    out = {}
    for c in SOURCES[name].columns:
        s = df[c.name]
        missing = s.isna().to_numpy()
        vals = np.full(len(s), None, dtype=object)
        if c.kind == "date" and s.dtype != object:
            iso = np.datetime_as_string(s.to_numpy("datetime64[D]"), unit="D").astype(object)
            vals[~missing] = iso[~missing]
        elif c.kind == "date":  # dirt: text dates and dates mixed
            vals = np.array([v if isinstance(v, str) or v is None else
                             (None if pd.isna(v) else pd.Timestamp(v).date().isoformat()) for v in s], dtype=object)
        elif c.kind == "bool":
            vals[~missing] = np.where(s[~missing].astype(bool).to_numpy(), "true", "false")
        elif c.kind == "int":
            vals[~missing] = pd.to_numeric(s[~missing]).to_numpy(np.int64).astype(str).astype(object)
        elif c.kind in ("money", "float") and _has_text(s):
            vals = np.array([v if isinstance(v, str) else (None if pd.isna(v) else f"{v:g}" if abs(v) < 1e15
                                                           else str(v)) for v in s], dtype=object)
        elif c.kind in ("money", "float"):
            num = pd.to_numeric(s[~missing]).to_numpy(np.float64)
            small = np.abs(num) < 1e15
            vals[np.flatnonzero(~missing)[small]] = np.char.mod("%g", num[small]).astype(object)
            vals[np.flatnonzero(~missing)[~small]] = num[~small].astype(str).astype(object)
        else:
            vals[~missing] = s[~missing].astype(str).to_numpy(dtype=object)
        out[c.name] = pd.Series(vals, dtype=object)
    return pd.DataFrame(out)


class _Extracts:
    """One extract per table, written block by block (``add``): Parquet in row groups of at most
    ``WRITE_ROWS`` rows or ``WRITE_BYTES`` bytes, CSV in slices of ``TEXT_ROWS`` rows, the workbook by the
    streaming sheet writer. ``text`` names the numeric columns of a Parquet table that carry text (dirt: amounts
    written in 万元); ``rows_hint`` bounds the rows per table (only the workbook's ZIP64 choice uses it)."""

    def __init__(self, out: Path, names: list[str], *, gbk: bool, text: dict[str, set[str]] | None = None,
                 rows_hint: dict[str, int] | None = None) -> None:
        self.out, self.gbk, self.text = out, gbk, dict(text or {})
        self.rows_hint = rows_hint or {}
        self.files: dict[str, str] = {}
        self.rows: dict[str, int] = {}
        self.handles: dict[str, object] = {}
        self.buffers: dict[str, list[pa.Table]] = {}
        for name in names:
            fmt = "csv" if (gbk and name == flt.GBK_TABLE) else FORMATS.get(name, "parquet")
            for old in out.glob(f"{name}.*"):
                old.unlink()
            self.files[name] = f"{name}.{fmt}"
            self.rows[name] = 0

    def add(self, name: str, df: pd.DataFrame) -> None:
        path = self.out / self.files[name]
        first = name not in self.handles
        if path.suffix == ".parquet":
            if first:
                found = {c.name for c in SOURCES[name].columns if c.kind in ("money", "float") and _has_text(df[c.name])}
                self.text[name] = self.text.get(name, set()) | found
                self.handles[name] = pq.ParquetWriter(path, _arrow(df.iloc[:0], name, text=self.text[name]).schema)
                self.buffers[name] = []
            else:
                late = {c.name for c in SOURCES[name].columns if c.kind in ("money", "float")
                        and c.name not in self.text[name] and _has_text(df[c.name])}
                if late:
                    raise RuntimeError(f"expected numeric {sorted(late)} in {name} (its schema is written already), "
                                       "got text in a later block")
            buf = self.buffers[name]
            for lo in range(0, len(df), WRITE_ROWS):
                buf.append(_arrow(df.iloc[lo:lo + WRITE_ROWS], name, text=self.text[name]))
            if first and not len(df):
                buf.append(_arrow(df, name, text=self.text[name]))
            self._flush(name, final=False)
        elif path.suffix == ".csv":
            if first:
                encoding = "gbk" if self.gbk and name == flt.GBK_TABLE else "utf-8"
                self.handles[name] = path.open("w", encoding=encoding, newline="")
            fh = self.handles[name]
            broken = df[flt.MALFORMED].to_numpy(bool) if flt.MALFORMED in df else np.zeros(len(df), bool)
            for lo in range(0, max(len(df), 1 if first else 0), TEXT_ROWS):  # in slices: text objects are large
                header = first and not lo
                text = _text(df.iloc[lo:lo + TEXT_ROWS], name).to_csv(header=header, index=False, lineterminator="\n")
                fh.write(_break_lines(text, broken[lo:lo + TEXT_ROWS], header=header))
        else:
            if first:
                self.handles[name] = xlsx.SheetWriter(path, sheet=name, rows_hint=self.rows_hint.get(name))
            self.handles[name].add(_text(df, name))
        self.rows[name] += len(df)

    def _flush(self, name: str, *, final: bool) -> None:
        """Write the buffered rows of a Parquet table as row groups once they fill one (all of them at the end)."""
        buf = self.buffers[name]
        size = sum(t.nbytes for t in buf)
        if not buf or not (final or sum(t.num_rows for t in buf) >= WRITE_ROWS or size >= WRITE_BYTES):
            return
        table = pa.concat_tables(buf)
        buf.clear()
        writer = self.handles[name]
        while table.num_rows > WRITE_ROWS:
            writer.write_table(table.slice(0, WRITE_ROWS).combine_chunks())
            table = table.slice(WRITE_ROWS)
        if final or size >= WRITE_BYTES or table.num_rows == WRITE_ROWS:
            writer.write_table(table.combine_chunks())
        else:
            buf.append(table)

    def close(self) -> dict[str, str]:
        for name, handle in self.handles.items():
            if isinstance(handle, pq.ParquetWriter):
                self._flush(name, final=True)
            handle.close()
        self.handles.clear()
        return self.files

    def abort(self) -> None:
        for handle in self.handles.values():
            with contextlib.suppress(Exception):  # already failing: keep the first error
                handle.close()
        self.handles.clear()


def _break_lines(text: str, rows: np.ndarray, *, header: bool) -> str:
    """CSV ``text`` with the lines of the marked ``rows`` given one field too many (dirt: ``malformed_line``)."""
    if not rows.any():
        return text
    lines = text.split("\n")
    if len(lines) != len(rows) + header + 1:
        raise RuntimeError(f"expected {len(rows)} CSV lines to break, got {len(lines) - header - 1}: a value spans lines")
    for i in np.flatnonzero(rows):
        lines[i + header] += flt.MALFORMED_NOTE
    return "\n".join(lines)


def _ground_truth(pop: Population, folder: Path) -> None:
    """The entities' hidden truth, written a row group (``GROUND_TRUTH_ROWS``) at a time."""
    industries = district()["industry"]
    industry_codes = np.array([i["code"] for i in industries])
    exit_names = np.array(["none", "voluntary", "forced"], dtype=object)
    writer = None
    try:
        for lo in range(0, max(pop.n, 1), GROUND_TRUTH_ROWS):
            r = slice(lo, min(lo + GROUND_TRUTH_ROWS, pop.n))
            group = pop.group[r]
            table = pa.table({
                "uscc": pop.uscc.slice(r.start, r.stop - r.start),
                "entity_type": pa.array(pop.entity_type[r].astype(str)),
                "industry_code": pa.array(industry_codes[pop.industry[r]]),
                "size_band": pa.array(np.array(["micro", "small", "medium", "large"])[pop.size[r]]),
                "base_propensity": pa.array(sigmoid(pop.base_logit[r] + pop.group_effect[group]).astype(np.float32)),
                "base_logit": pa.array(pop.base_logit[r].astype(np.float32)),
                "group_id": pa.array(group.astype(np.int64)),
                "group_size": pa.array(pop.group_size[r].astype(np.int64)),
                "group_effect": pa.array(pop.group_effect[group].astype(np.float32)),
                "established": pa.array(pop.established[r], type=pa.date32()),
                "exit_date": pa.array(pop.exit_date[r], type=pa.date32(), mask=np.isnat(pop.exit_date[r])),
                "exit_kind": pa.array(exit_names[pop.exit_kind[r]].astype(str)),
                "dormant_from": pa.array(pop.dormant_from[r], type=pa.date32(), mask=np.isnat(pop.dormant_from[r])),
            })
            if writer is None:
                writer = pq.ParquetWriter(folder / "entities.parquet", table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


# ---------------------------------------------------------------------------------------------- public steps
def generate(out_dir: str | Path, *, entities: int = 34000, seed: int = 20260101, dirty_rate: float = 0.0,
             start: date = date(2016, 1, 1), end: date = date(2025, 12, 31), until: date | None = None) -> dict:
    """Write a simulated district: one extract per source table, the hidden ground truth and a report.

    The district is made and written chunk by chunk of ``CHUNK`` entities: each chunk's history is kept on
    disk (a scratch folder inside ``out_dir``, removed at the end) until the corrections, which draw over
    whole tables, are known; the chunk is then read back, viewed and appended to every extract. Memory holds
    one chunk, the population and a few arrays per entity, not the district's records.

    Args:
        out_dir: folder for the extracts (created); ``ground_truth/`` inside it holds the hidden truth.
        entities: market entities at the end of 2020 (the reference district has 34,067).
        seed: every random draw derives from it; the same seed gives the same Parquet content.
        dirty_rate: share of rows per affected table receiving each fault class (0 = clean).
        start, end: the simulated window.
        until: write only what the bureau knew by this date (default ``end``).

    Returns:
        the report also written to ``synth_report.json``.
    """
    frame = _check(entities, seed, dirty_rate, start, end)
    if until is not None and not start <= until <= end:
        raise UserError(f"expected --until between {start} and {end}, got {until}")
    began = time.perf_counter()
    out = Path(out_dir)
    truth = out / "ground_truth"
    truth.mkdir(parents=True, exist_ok=True)
    u = np.datetime64(until or end, "D")
    as_ofs = (_d(date(end.year - 1, 1, 1)), _d(date(end.year - 3, 1, 1))) if end.year - 1 >= start.year + 3 else ()
    with tempfile.TemporaryDirectory(prefix=".synth-chunks-", dir=out) as scratch:
        pop = build(frame, entities=entities, seed=seed, text_dir=Path(scratch))  # names, addresses: on disk
        say(f"  population: {pop.n:,} entities")
        probe_t, probes = _probes(pop, frame)
        spill = _Spill(Path(scratch))
        unknown = dict.fromkeys(SOURCES, 0)  # history rows not known by u (their table's view copies its rows)
        rows = dict.fromkeys(SOURCES, 0)
        for c, chunk in enumerate(_chunks(pop, frame, seed=seed, latent_path=truth / "latent_monthly.parquet",
                                          probes=probes, probe_t=probe_t)):
            for name, df in chunk.items():
                df = _with_appear(_compact(df))
                unknown[name] += int((df["_appear"].to_numpy("datetime64[D]") > u).sum())
                rows[name] += len(df)
                spill.put(c, name, df)
            del chunk, df
        unknown["entities"], rows["entities"] = int((pop.established > u).sum()), pop.n
        _ground_truth(pop, truth)
        n_chunks = spill.chunks
        corrections = _known_corrections(_corrections(lambda name: (spill.get(c, name) for c in range(n_chunks)),
                                                      frame, seed=seed), u)
        for name in list(corrections):  # each chunk's corrections wait on disk with its rows
            spill.put_by_chunk(f"corrected-{name}", corrections.pop(name), n_chunks)
        say("  views, report and extracts, chunk by chunk")
        tally, opinions = rpt.Tally(pop, as_ofs), _Opinions(seed)
        names = sorted(SOURCES) if dirty_rate > 0 else list(SOURCES)
        extracts = None if dirty_rate > 0 else _Extracts(out, names, gbk=False, rows_hint=rows)
        pools: dict[str, dict[str, list[np.ndarray]]] = {n: {col: [] for col in flt.pool_columns(n)} for n in names}
        try:
            for c in range(n_chunks):
                lo, hi = c * CHUNK, min((c + 1) * CHUNK, pop.n)
                history = {name: spill.get(c, name) for name in SOURCES if name != "entities"}
                history["entities"] = _with_appear(_entities(pop, frame, lo, hi))
                # the view of a table whose rows are all known applies its corrections and blanks to the history
                # itself, which the report then reads: kept so, so that the report does not depend on chunking
                corrections = {name: spill.get(c, f"corrected-{name}") for name in CORRECTED}
                views = {name: _view_table(name, history[name].copy(deep=False) if unknown[name] else history[name],
                                           corrections.get(name), u) for name in SOURCES}
                del corrections
                tally.add(history)
                del history
                opinions.add(views["opinions"])
                for name in names:
                    clean = views.pop(name)[SOURCES[name].names]
                    if extracts is not None:
                        extracts.add(name, clean)
                        continue
                    for col, parts in pools[name].items():
                        parts.append(clean[col].notna().to_numpy())
                    spill.put(c, f"view-{name}", clean)
                say(f"  views and extracts: chunk {c + 1}/{n_chunks}")
            say("  report: calibration and learnability")
            report = _report_base(pop, frame, seed=seed, entities=entities, out=out, dirty_rate=dirty_rate,
                                  until=until, kind="district")
            report["calibration"] = rpt.calibration(pop, tally, entities=entities, start=start, end=end)
            if as_ofs:
                report["learnability"] = rpt.learnability(pop, tally, probes, test_as_of=date(end.year - 1, 1, 1),
                                                          train_as_of=date(end.year - 3, 1, 1), seed=seed)
            report["matching"] = opinions.matching()
            report["labelled_opinions"] = opinions.write(out / LABELLED_OPINIONS)
            faults: dict[str, flt.TableFaults] = {}
            if extracts is None:
                say("  writing extracts with faults")
                faults = flt.plan(spill.sizes("view-"), rate=dirty_rate, seed=seed * 1_000_000,
                                  text_dates=_text_tables(dirty_rate),
                                  pools={n: {col: np.concatenate(p) for col, p in cols.items()}
                                         for n, cols in pools.items()})
                extracts = _Extracts(out, names, gbk=True, text=_fault_text(faults), rows_hint=rows)
                offset = dict.fromkeys(names, 0)
                for c in range(n_chunks):
                    for name in names:
                        clean = spill.get(c, f"view-{name}")
                        extracts.add(name, faults[name].apply(clean, offset[name]))
                        offset[name] += len(clean)
            files = extracts.close()
        except BaseException:
            if extracts is not None:
                extracts.abort()
            raise
    _close_report(out, report, files, extracts.rows, faults, dirty_rate=dirty_rate, began=began)
    return report


def _d(x: date) -> np.datetime64:
    return np.datetime64(x, "D")


class _Spill:
    """Chunks of tables kept on disk (pickled: every dtype and value comes back as it was)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.chunks, self.rows = folder, 0, {}

    def put(self, chunk: int, name: str, df: pd.DataFrame) -> None:
        with (self.folder / f"{chunk:06d}-{name}.pkl").open("wb") as fh:
            pickle.dump(df, fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.chunks = max(self.chunks, chunk + 1)
        self.rows[name] = self.rows.get(name, 0) + len(df)

    def put_by_chunk(self, name: str, df: pd.DataFrame, chunks: int) -> None:
        """Put the rows of ``df`` about each chunk's entities (``_ent``) with that chunk, in their order."""
        chunk = df["_ent"].to_numpy() // CHUNK
        order = np.argsort(chunk, kind="stable")
        bounds = np.searchsorted(chunk[order], np.arange(chunks + 1))
        for c in range(chunks):
            self.put(c, name, df.iloc[order[bounds[c]:bounds[c + 1]]])

    def get(self, chunk: int, name: str) -> pd.DataFrame:
        with (self.folder / f"{chunk:06d}-{name}.pkl").open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 — our own scratch files, written above

    def sizes(self, prefix: str) -> dict[str, int]:
        """Rows per table over every chunk put under ``prefix`` + table name."""
        return {k[len(prefix):]: v for k, v in self.rows.items() if k.startswith(prefix)}


class _Opinions:
    """What the report says of the viewed opinion items, and the labelled set drawn from them, chunk by chunk
    (one random stream over the items in order: the same draws as over the whole table)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 700])
        self.items: list[pd.DataFrame] = []
        self.name_only = self.other = self.two_firm = self.negative = 0

    def add(self, opinions: pd.DataFrame) -> None:
        no_code = opinions["uscc"].isna().to_numpy()
        other = opinions["_other"].astype(bool).to_numpy()
        self.name_only += int((no_code & ~other).sum())
        self.other += int((no_code & other).sum())
        cfg = district()["records"]
        two = opinions["mentioned_names"].notna().to_numpy()
        share = np.where(two, cfg["opinion_labelled_two_firm_share"], cfg["opinion_labelled_share"])
        items = opinions[self.rng.random(len(opinions)) < share]
        negative = (items["_sentiment"] == "negative").to_numpy()
        entities = np.where(items["mentioned_names"].notna(), items["mentioned_names"], items["company_name"])
        self.items.append(pd.DataFrame({
            "opinion_id": items["opinion_id"].to_numpy(), "title": items["title"].to_numpy(),
            "text": items["text"].to_numpy(), "entities": entities,
            "targets": np.where(negative, items["company_name"], ""),
            "label": items["_sentiment"].astype(str).to_numpy()}))
        self.two_firm += int(items["mentioned_names"].notna().sum())
        self.negative += int(negative.sum())

    def matching(self) -> dict:
        """What ingest should find when it matches clean opinion items without a code by name."""
        return {"name_only_clean": self.name_only, "similar_name_other_company": self.other,
                "note": "clean items without a code: name_only_clean name a district entity exactly (match by name); "
                        "similar_name_other_company name an outside company (no match). Dirt adds name_only_opinion."}

    def write(self, path: Path) -> dict:
        """Write the labelled set (``labelled_opinions``); returns its counts."""
        frame = self.items[0] if len(self.items) == 1 else pd.concat(self.items, ignore_index=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        return {"path": str(path), "items": int(len(frame)), "two_firm_items": self.two_firm,
                "negative": self.negative}


def labelled_opinions(opinions: pd.DataFrame, path: Path, *, seed: int) -> dict:
    """Write the analysts' labelled opinion set: a seeded sample of items with the enterprises each names
    (``entities``), those it is negative about (``targets``) and its sentiment (``label``), for
    ``credit-risk opinions train --entities-col entities --targets-col targets``. Returns its counts."""
    acc = _Opinions(seed)
    acc.add(opinions)
    return acc.write(path)


def emit_drop(out_dir: str | Path, *, month: str | date, entities: int = 34000, seed: int = 20260101,
              dirty_rate: float = 0.0, start: date = date(2016, 1, 1), end: date = date(2025, 12, 31)) -> dict:
    """Write one month's drop for the district of ``(entities, seed)``: rows first known, corrected or
    changed in status during ``month`` (``YYYY-MM``), consistent with ``generate(..., until=...)``.

    Args:
        out_dir: folder for the drop's extracts and its ``synth_report.json``.
        month: the month whose news the drop carries.

    Returns:
        the drop report (counts per table, faults).
    """
    _check(entities, seed, dirty_rate, start, end)
    first = _month(month)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if first < start or last > end:
        raise UserError(f"expected a month between {start:%Y-%m} and {end:%Y-%m}, got {first:%Y-%m}")
    began = time.perf_counter()
    hist = _cached(entities, seed, start, end)
    new, old = view(hist, last), view(hist, first - timedelta(days=1))
    tables = {name: _changed(new[name], old[name], SOURCES[name].names) for name in SOURCES}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = _report_base(hist.pop, hist.frame, seed=hist.seed, entities=hist.entities, out=out,
                          dirty_rate=dirty_rate, until=last, kind="drop")
    report["month"] = f"{first:%Y-%m}"
    report["new_entities"] = int((tables["entities"]["established"].to_numpy("datetime64[D]")
                                  >= np.datetime64(first, "D")).sum())
    report["matching"] = _matching(tables["opinions"])
    _finish(out, tables, report, seed=seed, dirty_rate=dirty_rate, began=began)
    return report


def _month(month: str | date) -> date:
    if isinstance(month, date):
        return month.replace(day=1)
    try:
        y, m = str(month).split("-")
        return date(int(y), int(m), 1)
    except ValueError:
        raise UserError(f"expected a month as YYYY-MM, got {month!r}") from None


def _matching(opinions: pd.DataFrame) -> dict:
    """What ingest should find when it matches clean opinion items without a code by name."""
    acc = _Opinions(0)
    acc.add(opinions)
    return acc.matching()


def _report_base(pop: Population, frame: Frame, *, seed: int, entities: int, out: Path, dirty_rate: float,
                 until: date | None, kind: str) -> dict:
    return {
        "kind": kind, "generator": GENERATOR_VERSION, "seed": seed, "entities": entities,
        "entities_total": pop.n, "dirty_rate": dirty_rate, "start": frame.start.isoformat(),
        "end": frame.end.isoformat(), "until": until.isoformat() if until else None, "out": str(out),
        "district_version": district()["meta"]["version"],
    }


def _text_tables(dirty_rate: float) -> set[str]:
    """Tables delivered as text (their impossible dates are calendar nonsense)."""
    return {n for n, f in FORMATS.items() if f in ("csv", "xlsx")} | ({flt.GBK_TABLE} if dirty_rate else set())


def _fault_text(faults: dict[str, flt.TableFaults]) -> dict[str, set[str]]:
    """Numeric Parquet columns the faults turn into text (amounts written in 万元)."""
    return {"penalties": {"fine_amount"}} if "amount_in_wan" in faults.get("penalties", flt.TableFaults("")).rows else {}


def _finish(out: Path, tables: dict[str, pd.DataFrame], report: dict, *, seed: int, dirty_rate: float,
            began: float) -> None:
    """Write whole tables held in memory (a monthly drop) as extracts, with faults when ``dirty_rate``."""
    say("  writing extracts")
    clean = {name: df[SOURCES[name].names] for name, df in tables.items()}
    faults: dict[str, flt.TableFaults] = {}
    if dirty_rate > 0:
        month = int(str(report.get("month") or "0").replace("-", ""))
        pools = {name: {c: df[c].notna().to_numpy() for c in flt.pool_columns(name)} for name, df in clean.items()}
        faults = flt.plan({name: len(df) for name, df in clean.items()}, rate=dirty_rate,
                          seed=seed * 1_000_000 + month, text_dates=_text_tables(dirty_rate), pools=pools)
    names = sorted(clean) if dirty_rate > 0 else list(clean)
    extracts = _Extracts(out, names, gbk=dirty_rate > 0, text=_fault_text(faults),
                         rows_hint={name: len(df) for name, df in clean.items()})
    try:
        for name in names:
            extracts.add(name, faults[name].apply(clean[name]) if faults else clean[name])
        files = extracts.close()
    except BaseException:
        extracts.abort()
        raise
    _close_report(out, report, files, extracts.rows, faults, dirty_rate=dirty_rate, began=began)


def _close_report(out: Path, report: dict, files: dict[str, str], rows: dict[str, int],
                  faults: dict[str, flt.TableFaults], *, dirty_rate: float, began: float) -> None:
    by_table = {name: got for name in sorted(faults) if (got := faults[name].counts())}
    report["files"] = files
    report["counts"] = {name: int(rows[name]) for name in SOURCES}
    report["faults"] = flt.totals(by_table)
    report["faults_by_table"] = by_table
    report["encodings"] = {name: ("gbk" if dirty_rate > 0 and name == flt.GBK_TABLE else "utf-8")
                           for name, f in report["files"].items() if f.endswith(".csv")}
    report["seconds"] = round(time.perf_counter() - began, 2)
    (out / "synth_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str),
                                           encoding="utf-8")


__all__ = ["generate", "emit_drop", "view", "History"]
