"""``generate`` writes the district chunk by chunk: with many small chunks its extracts, faults and report are
those of the same history held whole and written at once (the records of a chunk depend on its number, so a
different chunk size is a different district; what must not matter is that the chunks are streamed)."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from features.sources import SOURCES
from synth import district as d
from synth import generate
from synth import report as rpt

SEED, ENTITIES = 11, 1000
START, END = date(2016, 1, 1), date(2025, 12, 31)


@pytest.mark.parametrize("rate", [0.0, 0.05])
def test_a_district_streamed_in_small_chunks_equals_its_history_written_whole(tmp_path, monkeypatch, rate):
    monkeypatch.setattr(d, "CHUNK", 700)
    streamed = generate(tmp_path / "streamed", entities=ENTITIES, seed=SEED, dirty_rate=rate)
    hist = d._build(entities=ENTITIES, seed=SEED, start=START, end=END, latent_path=None)
    assert hist.pop.n > 3 * d.CHUNK  # several chunks
    tables = d.view(hist, END)
    whole = d._report_base(hist.pop, hist.frame, seed=SEED, entities=ENTITIES, out=tmp_path / "whole",
                           dirty_rate=rate, until=None, kind="district")
    (tmp_path / "whole").mkdir()
    d._finish(tmp_path / "whole", tables, whole, seed=SEED, dirty_rate=rate, began=0.0)
    assert streamed["files"] == whole["files"] and list(streamed["files"]) == list(whole["files"])
    for name, file in whole["files"].items():
        assert (tmp_path / "streamed" / file).read_bytes() == (tmp_path / "whole" / file).read_bytes(), name
    assert streamed["counts"] == whole["counts"] and sum(whole["counts"].values()) > 10_000
    assert streamed["faults_by_table"] == whole["faults_by_table"]
    assert (sum(streamed["faults"].values()) > 0) == (rate > 0)
    # the report: counted chunk by chunk, the same as over the whole history (read after the view, as before)
    as_ofs = (np.datetime64("2024-01-01", "D"), np.datetime64("2022-01-01", "D"))
    tally = rpt.Tally.of(hist.pop, hist.tables, as_ofs)
    assert streamed["calibration"] == rpt.calibration(hist.pop, tally, entities=ENTITIES, start=START, end=END)
    assert streamed["learnability"] == rpt.learnability(hist.pop, tally, hist.probes, test_as_of=date(2024, 1, 1),
                                                        train_as_of=date(2022, 1, 1), seed=SEED)
    # a large district fits the quick model on a seeded sample of enterprises (here: any district over 100)
    monkeypatch.setattr(rpt, "FIT_ROWS", 100)
    sampled = [rpt.learnability(hist.pop, tally, hist.probes, test_as_of=date(2024, 1, 1),
                                train_as_of=date(2022, 1, 1), seed=s)["observed_auc"] for s in (SEED, SEED, SEED + 1)]
    assert sampled[0] == sampled[1] and 0.5 < sampled[0] < 1 and sampled[2] != sampled[0]
    labelled = d.labelled_opinions(tables["opinions"], tmp_path / "labelled.parquet", seed=SEED)
    assert labelled["items"] == streamed["labelled_opinions"]["items"] > 0
    assert (tmp_path / "labelled.parquet").read_bytes() == (tmp_path / "streamed" / d.LABELLED_OPINIONS).read_bytes()
    assert streamed["matching"] == d._matching(tables["opinions"])
    assert not list((tmp_path / "streamed").glob(".synth-chunks-*"))  # the scratch folder is gone
    assert set(SOURCES) == set(json.loads((tmp_path / "streamed" / "synth_report.json").read_text())["counts"])
