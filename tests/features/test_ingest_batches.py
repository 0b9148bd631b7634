"""Ingest reads an extract in batches: the same drop read in tiny batches loads, quarantines and deduplicates
exactly what it does read whole, including duplicates whose two rows fall in different batches."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.settings import Settings
from features import readers
from features.ingest import ingest
from features.sources import SOURCES

synth = pytest.importorskip("synth")
BATCH = 7
KEPT = ("loaded", "quarantined", "repaired", "deduplicated", "changes", "corrupt", "refused")


def _warehouse(settings: Settings) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        out = {}
        for name in SOURCES:
            df = con.execute(f'SELECT * EXCLUDE (_ingest_id) FROM "{name}"').df()
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
        q = con.execute("SELECT table_name, rule, detail, source_file, row_number, original, row_hash "
                        "FROM quarantine").df()
        out["quarantine"] = q.sort_values(["table_name", "row_number", "rule"]).reset_index(drop=True)
        return out
    finally:
        con.close()


def _straddling_duplicates(drop) -> int:
    """Exact duplicate rows (placed right after their originals) whose two rows fall in different batches."""
    n = 0
    for path in drop.glob("*.parquet"):
        df = pq.read_table(path).to_pandas().astype(str)
        same = (df.iloc[1:].to_numpy() == df.iloc[:-1].to_numpy()).all(axis=1)
        n += int(sum(1 for i in same.nonzero()[0] if (i + 1) % BATCH == 0))
    return n


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty")
    synth.generate(out, entities=250, seed=11, dirty_rate=0.05)
    return out


def test_an_extract_read_in_tiny_batches_ingests_as_when_read_whole(drop, tmp_path, monkeypatch):
    whole = Settings.from_env(tmp_path / "whole")
    one = ingest(whole, drop)
    monkeypatch.setattr(readers, "BATCH_ROWS", BATCH)
    monkeypatch.setattr(readers, "_BLOCK", 4096)  # CSV blocks of a few rows: every block is a batch
    extract = readers.read_extract(drop / "inspections.parquet", "inspections")
    assert sum(1 for _ in extract.batches()) > 10
    batched = Settings.from_env(tmp_path / "batched")
    many = ingest(batched, drop)
    assert _straddling_duplicates(drop) > 0
    for key in KEPT:
        assert one[key] == many[key], key
    assert sum(one["deduplicated"].values()) > 0 and sum(sum(q.values()) for q in one["quarantined"].values()) > 0
    assert one["quarantined"]["licences"]["malformed_line"] > 0  # lines set aside: row numbers skip them
    files = {f["file"]: {k: v for k, v in f.items() if k != "seconds"} for f in one["files"]}
    assert files == {f["file"]: {k: v for k, v in f.items() if k != "seconds"} for f in many["files"]}
    a, b = _warehouse(whole), _warehouse(batched)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert len(a["quarantine"]) > 0


def test_a_csv_set_aside_line_keeps_the_row_numbers_of_the_rows_after_it(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    path = tmp_path / "relations.csv"
    path.write_text("relation_id,uscc\nR1,a\nR2,b,extra\nR3,c\nR4,d\nR5\nR6,f\n", encoding="utf-8")
    extract = readers.read_extract(path, "relations")
    assert [b.row for b in extract.bad_lines] == [2, 5]
    numbers = []
    start = 0
    for batch in extract.batches():
        numbers += extract.numbers(start, batch.num_rows).to_pylist()
        start += batch.num_rows
    assert numbers == [1, 3, 4, 6]
    assert extract.data.column("relation_id").to_pylist() == ["R1", "R3", "R4", "R6"]
