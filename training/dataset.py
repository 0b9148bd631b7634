"""Training datasets: features + labels + a temporal train/valid/test split, from the warehouse or a table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import rules
from core.errors import UserError
from features.catalog import DIMENSIONS, FEATURE_SET
from features.warehouse import has_table

SPLITS = ("train", "valid", "test")
SPLIT_COL = "_split"
DESCRIPTIVE = ("entity_type", "industry_code", "town_code", "size_band")


@dataclass
class Dataset:
    """Rows (id, time, label, features, split) plus the feature declarations the model needs."""

    frame: pd.DataFrame
    features: list[dict[str, Any]]
    id_col: str = "uscc"
    time_col: str = "as_of"
    label_col: str = "label"
    dimensions: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(DIMENSIONS))
    feature_set: str | None = FEATURE_SET
    label_info: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    split: SplitInfo | None = None

    def part(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return self.frame[self.frame[SPLIT_COL] == name]

    @property
    def slice_cols(self) -> list[str]:
        return [c for c in DESCRIPTIVE if c in self.frame.columns]

    def window(self) -> dict[str, Any]:
        """The time span of each slice (ISO strings) and row/event counts."""
        out: dict[str, Any] = {"time_col": self.time_col,
                               "split": self.split.to_dict() if self.split is not None else None}
        for s in SPLITS:
            part = self.part(s)
            times = part[self.time_col]
            out[s] = {"start": _iso(times.min()), "end": _iso(times.max()), "rows": int(len(part)),
                      "events": int(part[self.label_col].sum())}
        return out


def _iso(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else (value.item() if hasattr(value, "item") else value)


def feature_spec(feature) -> dict[str, Any]:
    """A catalog Feature as the plain dict a model bundle stores (with how a missing value is read)."""
    spec = {"name": feature.name, "dimension": feature.dimension, "direction": int(feature.direction),
            "kind": feature.kind, "unit": feature.unit, "zh": feature.zh, "en": feature.en}
    if feature.missing_as is not None:
        spec["missing_as"] = float(feature.missing_as)
    return spec


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def with_categories(specs: list[dict[str, Any]], frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Fill the category list of categorical features from the training rows (sorted, as strings)."""
    out = []
    for f in specs:
        f = dict(f)
        if f.get("kind") == "categorical":
            values = frame[f["name"]].dropna().astype(str).unique().tolist()
            f["categories"] = sorted(values)
        out.append(f)
    return out


def _split_shares(times: pd.Series, share: float) -> set:
    """The newest distinct time values holding at least ``share`` of the rows."""
    counts = times.value_counts().sort_index(ascending=False)
    need, acc, keep = share * len(times), 0, set()
    for t, n in counts.items():
        if acc >= need and keep:
            break
        keep.add(t)
        acc += n
    return keep


@dataclass(frozen=True)
class SplitInfo:
    """How the rows were split, for the report: the method and, in words, which rows went where."""

    method: str  # given | carved_valid | time | spine
    zh: str
    en: str
    split_col: str | None = None
    valid_share: float | None = None
    embargo_months: int | None = None  # rows this many months apart at least (snapshot spines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# split-column values a table may use, case-insensitive
_SPLIT_WORDS = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "val": "valid",
                "test": "test", "testing": "test"}


def _split_config() -> dict[str, Any]:
    return rules.load("labels").get("split", {})


def temporal_split(frame: pd.DataFrame, *, time_col: str, split_col: str | None = None,
                   embargo_months: int | None = None, test_share: float | None = None,
                   valid_share: float | None = None) -> tuple[pd.Series, SplitInfo]:
    """Assign ``train`` / ``valid`` / ``test`` rows and say how.

    - A ``split_col`` holding train, valid and test (any case; also training/validation/testing) is used
      as given. One holding only train and test keeps test and carves valid from the newest train rows
      (``valid_share`` of them, by time). Any other shape (blank cells, unknown words, no test or no
      train rows) is refused, naming what was found.
    - Without a split column and with ``embargo_months`` (snapshot spines): test = the newest time, valid =
      the newest time at least the embargo before it, train = times at least the embargo before valid.
    - Otherwise the newest rows holding ``test_share`` are test and the newest of the rest holding
      ``valid_share`` are valid.
    """
    cfg = _split_config()
    valid_share = valid_share if valid_share is not None else float(cfg.get("table_valid_share", 0.2))
    times = frame[time_col]
    if split_col:
        return _split_from_column(frame[split_col], times, split_col=split_col, valid_share=valid_share)
    out = pd.Series("train", index=frame.index, dtype=object)
    if embargo_months:
        return _spine_split(times, embargo_months), SplitInfo(
            "spine", zh=f"按快照日期切分：测试集为最新快照，验证集与训练集之间各隔 {embargo_months} 个月标签期",
            en=f"by snapshot date: test = the newest as_of, valid and train each {embargo_months} months "
               f"(one label window) earlier", embargo_months=embargo_months)
    test_share = test_share if test_share is not None else float(cfg.get("table_test_share", 0.2))
    out[times.isin(_split_shares(times, test_share))] = "test"
    rest = out != "test"
    out[rest & times.isin(_split_shares(times[rest], valid_share))] = "valid"
    return out, SplitInfo("time", zh=f"按时间切分：最新 {test_share:.0%} 为测试集，其余最新 {valid_share:.0%} 为验证集",
                          en=f"by time: the newest {test_share:.0%} of rows are test, the newest "
                             f"{valid_share:.0%} of the rest valid", valid_share=valid_share)


def _split_from_column(col: pd.Series, times: pd.Series, *, split_col: str,
                       valid_share: float) -> tuple[pd.Series, SplitInfo]:
    text = col.astype("string").str.strip().str.lower()
    blank = text.isna() | (text == "")
    found = sorted(set(text[~blank].dropna()))
    expected = "train/valid/test, or train/test (valid is then carved from the newest train rows)"
    if blank.any():
        raise UserError(f"split column {split_col!r}: expected {expected} in every row, got {int(blank.sum())} "
                        f"blank row(s) beside {found}")
    unknown = [v for v in found if v not in _SPLIT_WORDS]
    if unknown:
        raise UserError(f"split column {split_col!r}: expected {expected}, got unknown value(s) {unknown[:5]}")
    out = text.map(_SPLIT_WORDS).astype(object)
    kinds = set(out)
    if kinds == {"train", "valid", "test"}:
        return out, SplitInfo("given", zh=f"按列 {split_col} 给定的训练/验证/测试集",
                              en=f"train, valid and test as given by column {split_col!r}", split_col=split_col)
    if kinds != {"train", "test"}:
        raise UserError(f"split column {split_col!r}: expected {expected}, got only {sorted(kinds)}")
    train = out == "train"
    newest = _split_shares(times[train], valid_share)
    if len(newest) >= times[train].nunique():
        raise UserError(f"split column {split_col!r}: the train rows span one time value "
                        f"({times[train].iloc[0]!r}), so no validation slice can be carved from their newest rows; "
                        f"expected train rows over several times, or a 'valid' value in the column")
    out[train & times.isin(newest)] = "valid"
    return out, SplitInfo("carved_valid",
                          zh=f"测试集按列 {split_col} 给定；验证集取训练行中最新的 {valid_share:.0%}（按时间）",
                          en=f"test as given by column {split_col!r}; valid = the newest {valid_share:.0%} of the "
                             f"train rows by time", split_col=split_col, valid_share=valid_share)


def _spine_split(times: pd.Series, embargo_months: int) -> pd.Series:
    distinct = sorted(pd.unique(times))
    if len(distinct) < 3:
        raise UserError(f"expected at least 3 as_of dates with complete labels for a temporal split, "
                        f"got {len(distinct)}")
    off = pd.DateOffset(months=embargo_months)
    test_t = distinct[-1]
    valid_candidates = [t for t in distinct if pd.Timestamp(t) + off <= pd.Timestamp(test_t)]
    if not valid_candidates:
        raise UserError(f"no as_of date lies {embargo_months} months before the test as_of "
                        f"{pd.Timestamp(test_t).date()}; expected a longer spine")
    valid_t = valid_candidates[-1]
    train_ts = {t for t in distinct if pd.Timestamp(t) + off <= pd.Timestamp(valid_t)}
    if not train_ts:
        raise UserError(f"no as_of date lies {embargo_months} months before the valid as_of {valid_t}; "
                        f"expected a longer spine")
    out = pd.Series("unused", index=times.index, dtype=object)
    out[times == test_t] = "test"
    out[times == valid_t] = "valid"
    out[times.isin(train_ts)] = "train"
    return out


def from_frame(frame: pd.DataFrame, *, id_col: str, time_col: str, label_col: str,
               features: list[dict[str, Any]] | None = None, split_col: str | None = None,
               embargo_months: int | None = None, dimensions: dict[str, tuple[str, str]] | None = None,
               feature_set: str | None = None, label_info: dict[str, Any] | None = None,
               source: dict[str, Any] | None = None) -> Dataset:
    """A split dataset from a labelled frame; without ``features`` every other column is a feature.

    Inferred features are categorical when their column is not numeric, carry no monotone
    constraint, and form their own reason dimension.
    """
    need = [c for c in (id_col, time_col, label_col, split_col) if c]
    absent = [c for c in need if c not in frame.columns]
    if absent:
        raise UserError(f"expected columns {need} in the table, missing {absent}; got {list(frame.columns)[:20]}")
    y = pd.to_numeric(frame[label_col], errors="coerce")
    if y.isna().any() or not set(y.unique()) <= {0, 1}:
        raise UserError(f"label column {label_col!r} must hold 0/1 (or true/false) in every row, "
                        f"got values {sorted(map(str, frame[label_col].unique()))[:5]}")
    frame = frame.copy()
    frame[label_col] = y.astype(int)
    dims = dict(dimensions or DIMENSIONS)
    if features is None:
        skip = set(need) | {SPLIT_COL}
        features = []
        for c in frame.columns:
            if c in skip:
                continue
            kind = "categorical" if _is_categorical(frame[c]) else "numeric"
            features.append({"name": c, "dimension": c, "direction": 0, "kind": kind, "unit": "",
                             "zh": c, "en": c})
            dims.setdefault(c, (c, c))
        feature_set = feature_set or "table"
    if not features:
        raise UserError("expected at least one feature column besides id, time, label and split, got none")
    frame[SPLIT_COL], split_info = temporal_split(frame, time_col=time_col, split_col=split_col,
                                                  embargo_months=embargo_months)
    frame = frame[frame[SPLIT_COL] != "unused"].reset_index(drop=True)
    for s in SPLITS:
        if not (frame[SPLIT_COL] == s).any():
            raise UserError(f"the split ({split_info.en}) left no {s} rows; expected rows in train, valid and test")
    specs = with_categories(features, frame[frame[SPLIT_COL] == "train"])
    return Dataset(frame=frame, features=specs, id_col=id_col, time_col=time_col, label_col=label_col,
                   dimensions=dims, feature_set=feature_set, label_info=label_info or {"column": label_col},
                   source=source or {"kind": "frame"}, split=split_info)


def from_table(path: str | Path, *, id_col: str, time_col: str, label_col: str,
               split_col: str | None = None) -> Dataset:
    """Bring-your-own labelled table (Parquet or CSV): other columns are features, newest rows held out."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected a table file, got {path} which does not exist")
    frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    return from_frame(frame, id_col=id_col, time_col=time_col, label_col=label_col, split_col=split_col,
                      source={"kind": "table", "path": str(path.resolve()), "rows": int(len(frame))})


def spine_split_dates(dates: list[date], *, embargo_months: int) -> list[date]:
    """The as_of dates a temporal split with this embargo will use (others need no snapshot)."""
    dates = sorted(dates)
    if len(dates) < 3:
        return dates
    off = pd.DateOffset(months=embargo_months)
    valid = [d for d in dates if pd.Timestamp(d) + off <= pd.Timestamp(dates[-1])]
    if not valid:
        return dates
    return [d for d in dates if pd.Timestamp(d) + off <= pd.Timestamp(valid[-1])] + [valid[-1], dates[-1]]


def spine_snapshots(con, *, start: date, end: date, freq: str = "quarterly", embargo_months: int = 0) -> list:
    """Feature snapshots for the spine dates a split will use; a snapshot already stored for the same
    data fingerprint is loaded instead of rebuilt (features.snapshot does the building)."""
    from core import progress
    from features import snapshot as fs

    dates = fs.spine_dates(start, end, freq)
    if embargo_months:
        dates = spine_split_dates(dates, embargo_months=embargo_months)
    fp = fs.data_fingerprint(con)
    stored: set[str] = set()
    if has_table(con, fs.META_TABLE):
        stored = {r[0] for r in con.execute(f"SELECT snapshot_id FROM {fs.META_TABLE}").fetchall()}
    snaps = []
    for d in progress.track(dates, "snapshot", total=len(dates)):
        sid = fs.snapshot_id_for(d, fp)
        snaps.append(fs.load_snapshot(con, sid) if sid in stored else fs.build_snapshot(con, as_of=d, fingerprint=fp))
    return snaps


def from_warehouse(con, *, start: date, end: date, freq: str = "quarterly", data_end: date | None = None) -> Dataset:
    """Feature snapshots over a spine of as_of dates (engineer F's snapshots) with warehouse labels.

    Rows whose label window is incomplete are dropped; the split uses the embargo of labels.toml, and only
    the as_of dates the split uses are built.
    """
    from features.catalog import all_features
    from training import labels

    cfg = labels.definition()
    embargo = int(cfg.get("split", {}).get("embargo_months", 12))
    snaps = spine_snapshots(con, start=start, end=end, freq=freq, embargo_months=embargo)
    frame = pd.concat([s.frame for s in snaps], ignore_index=True)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    lab = labels.compute(con, frame[["uscc", "as_of"]], end=data_end)
    frame = frame.merge(lab[["uscc", "as_of", "label", "complete"]], on=["uscc", "as_of"], how="left")
    frame = frame[frame["complete"].fillna(False).astype(bool)].drop(columns="complete")
    present = [feature_spec(f) for f in all_features() if f.name in frame.columns]
    return from_frame(frame, id_col="uscc", time_col="as_of", label_col="label", features=present,
                      embargo_months=embargo, label_info=labels.info(), source={
                          "kind": "warehouse", "snapshots": [s.snapshot_id for s in snaps],
                          "spine": {"start": start.isoformat(), "end": end.isoformat(), "freq": freq},
                          "data_end": (data_end or labels.data_end(con) or end).isoformat()})


def default_spine(data_end: date, *, start: date | None = None, end: date | None = None,
                  years: int = 5) -> tuple[date, date]:
    """Spine bounds: ``end`` = the newest as_of with a complete label window, ``start`` = ``years`` before."""
    from training import labels

    months = int(labels.definition()["label"]["horizon_months"])
    end = end or (pd.Timestamp(data_end) - pd.DateOffset(months=months)).date()
    start = start or (pd.Timestamp(end) - pd.DateOffset(years=years)).date()
    return start, end
