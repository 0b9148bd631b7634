"""The population's text is composed a slice of entities at a time: the slices never show in the result."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core import uscc
from synth import entity_text as et
from synth import names as nm
from synth import text_store as ts
from synth.params import Frame
from synth.population import build

FRAME = Frame(date(2016, 1, 1), date(2025, 12, 31))


def _python_unique(rng: np.random.Generator, name: np.ndarray) -> np.ndarray:
    """The registry's rule on Python strings, all at once (what ``entity_text._unique`` must equal)."""
    pool = np.array(list(nm.BRANDS), dtype=object)
    extra = 0
    while True:
        dup = pd.Series(name).duplicated().to_numpy()
        if not dup.any():
            return name
        rows = np.flatnonzero(dup)
        cut = [max(len(s) - 4 - extra % 3, 2) for s in name[rows]]
        add = pool[rng.integers(0, len(pool), len(rows))]
        name[rows] = np.array([s[:c] + a + s[c:] for s, c, a in zip(name[rows], cut, add, strict=True)], dtype=object)
        extra += 1


def test_namesakes_get_the_registry_s_extra_character_as_if_all_names_were_python_strings(monkeypatch):
    monkeypatch.setattr(et, "SLICE", 37)  # many slices of duplicates
    rng = np.random.default_rng(3)
    names = np.array(["青岚山水茶业有限公司", "青岚山水茶业有限公司", "黔林泉店", "青岚区张记饭店"], dtype=object)
    names = names[rng.integers(0, len(names), 2000)]
    book = et._Codebook()
    ids = np.concatenate([book.codes(pa.array(names[lo:lo + 500], type=ts.TEXT)) for lo in range(0, len(names), 500)])
    got = et._unique(np.random.default_rng(9), ids, book).to_pylist()
    want = _python_unique(np.random.default_rng(9), names.copy()).tolist()
    assert got == want and len(set(got)) == len(got)


def test_the_population_does_not_depend_on_the_text_slices(monkeypatch):
    whole = build(FRAME, entities=1000, seed=4)
    monkeypatch.setattr(et, "SLICE", 97)
    sliced = build(FRAME, entities=1000, seed=4)
    assert whole.n > 10 * 97
    assert whole.uscc.equals(sliced.uscc)
    for col in ("name", "address"):
        assert getattr(whole, col).slice(0, whole.n).equals(getattr(sliced, col).slice(0, sliced.n)), col
    np.testing.assert_array_equal(whole.town, sliced.town)
    codes = whole.uscc_of(np.arange(whole.n))
    assert all(uscc.is_valid(c) for c in codes[:200]) and len(set(codes)) == whole.n
    assert pd.Index(whole.names_of(np.arange(whole.n))).is_unique


@pytest.mark.parametrize("slice_rows", [3, 1000])
def test_name_set_says_exactly_which_names_it_holds(monkeypatch, slice_rows):
    monkeypatch.setattr(ts, "HASH_ROWS", slice_rows)
    held = ts.NameSet(ts.TextColumn(pa.array(["甲有限公司", "乙店", "丙专业合作社", "乙店分公司"], type=ts.TEXT)))
    assert "乙店" in held and "丙专业合作社" in held and "乙店分公司" in held
    assert "乙" not in held and "丁店" not in held and "" not in held


def test_a_text_column_moved_to_disk_reads_back_the_same_slices_and_values(tmp_path, monkeypatch):
    monkeypatch.setattr(ts, "SPILL_ROWS", 7)
    values = pa.array([f"名称{i}" for i in range(100)], type=ts.TEXT)
    column = ts.TextColumn(values)
    column.spill(tmp_path / "names.arrow")
    assert column.slice(0, 100).equals(values) and column.slice(13, 29).equals(values.slice(13, 16))
    assert len(column.slice(40, 40)) == 0 and len(column) == 100
    index = np.array([99, 3, 3, 50, 0, 64])
    assert column.take(index).to_pylist() == [f"名称{i}" for i in index]
    assert "名称64" in ts.NameSet(column) and "名称100" not in ts.NameSet(column)


def test_names_and_addresses_written_as_they_are_made_read_back_as_held_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(et, "SLICE", 97)
    monkeypatch.setattr(ts, "SPILL_ROWS", 40)  # batches that do not line up with the slices
    held = build(FRAME, entities=1000, seed=4)
    written = build(FRAME, entities=1000, seed=4, text_dir=tmp_path)
    assert (tmp_path / "names.arrow").exists() and (tmp_path / "addresses.arrow").exists()
    for col in ("name", "address"):
        a, b = getattr(held, col), getattr(written, col)
        assert len(a) == len(b) == held.n
        assert a.slice(0, held.n).to_pylist() == b.slice(0, held.n).to_pylist(), col
        assert a.slice(95, 205).to_pylist() == b.slice(95, 205).to_pylist(), col
    index = np.array([held.n - 1, 0, 41, 41, 500])
    assert held.names_of(index).tolist() == written.names_of(index).tolist()
