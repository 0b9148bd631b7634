"""Scores computed elsewhere, as Parquet files in uscc order: publication reads them one batch of codes at a time
(never the district), publishes what scoring in-process publishes, and refuses missing or duplicated codes."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from core.errors import UserError
from core.opdb import engine
from serving import precomputed
from serving.publish import publish
from tests.serving.conftest import write_scores

BATCH = 50


def _relabelled(model, version: str):
    return type(model)(booster_text=model.booster_text, meta={**model.meta, "version": version})


def _published(settings, pub_id: str) -> list[tuple]:
    with engine(settings).connect() as conn:
        return conn.execute(sa.text("SELECT uscc, probability, tier, reasons FROM published_scores "
                                    "WHERE publication_id = :p ORDER BY uscc"), {"p": pub_id}).all()


def test_publication_reads_the_precomputed_files_one_batch_at_a_time(settings, toy, snap, tmp_path, monkeypatch):
    model, frame = toy
    s = snap(frame, 0)
    assert len(s.frame) > 4 * BATCH  # several batches
    folder = write_scores(model.score(s.frame), tmp_path / "scores")
    reads = []

    def spy(con, keys, *, reasons):
        got = read(con, keys, reasons=reasons)
        reads.append(len(got))
        return got

    read = precomputed.read
    monkeypatch.setattr(precomputed, "read", spy)
    by_files = publish(settings, as_of=s.as_of, actor="test", model=_relabelled(model, "7-files"), snapshot=s,
                       scores=folder, batch_rows=BATCH)
    assert len(reads) == -(-len(s.frame) // BATCH)  # one read per batch (no warehouse: no first pass)
    assert max(reads) <= BATCH and sum(reads) == len(s.frame)
    here = publish(settings, as_of=s.as_of, actor="test", model=model, snapshot=s, batch_rows=BATCH)
    assert by_files["tier_counts"] == here["tier_counts"] and by_files["entity_count"] == len(s.frame)
    assert _published(settings, by_files["publication_id"]) == _published(settings, here["publication_id"])


def test_an_active_entity_without_a_precomputed_score_is_refused(settings, toy, snap, tmp_path):
    model, frame = toy
    s = snap(frame, 0)
    folder = write_scores(model.score(s.frame).iloc[7:], tmp_path / "scores")  # the first batch's first 7 have none
    with pytest.raises(UserError, match="precomputed score for every active entity, 7 have none"):
        publish(settings, as_of=s.as_of, actor="test", model=model, snapshot=s, scores=folder, batch_rows=BATCH)


def test_a_code_scored_twice_is_refused(settings, toy, snap, tmp_path):
    model, frame = toy
    s = snap(frame, 0)
    scores = model.score(s.frame)
    folder = write_scores(pd.concat([scores, scores.iloc[:1]]), tmp_path / "scores")
    with pytest.raises(UserError, match="duplicated credit codes"):
        publish(settings, as_of=s.as_of, actor="test", model=model, snapshot=s, scores=folder, batch_rows=BATCH)
