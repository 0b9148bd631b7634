"""The columnar copy of a publication: the stored rows' codes, tiers and probabilities, rebuilt when missing or
stale, never left behind by a failed run; the migration counted over it equals the one counted on the rows."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from core.errors import UserError
from core.opdb import engine
from serving import published_copy
from serving.publish import migration, publish
from tests.serving.conftest import write_scores


def _rows(settings, publication_id: str) -> pd.DataFrame:
    with engine(settings).connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(
            "SELECT uscc, tier, probability FROM published_scores WHERE publication_id = :p ORDER BY uscc"),
            {"p": publication_id}).all(), columns=["uscc", "tier", "probability"])


def _copy(settings, publication_id: str) -> pd.DataFrame:
    got = pq.read_table(published_copy.path(settings, publication_id)).to_pandas()
    return got.sort_values("uscc").reset_index(drop=True)


def _two_publications(settings, toy, snap):
    """An older publication and a newer one that lost 30 entities and gained none (older rows 30 more)."""
    model, frame = toy
    older, newer = snap(frame, 1), snap(frame, 0)
    newer = snap.make(newer.snapshot_id, newer.as_of, newer.frame.iloc[30:].reset_index(drop=True))
    first = publish(settings, as_of=older.as_of, actor="test", model=model, snapshot=older)
    second = publish(settings, as_of=newer.as_of, actor="test", model=model, snapshot=newer)
    return first, second


def test_the_copy_holds_the_published_rows_and_the_migration_counts_them(db_settings, toy, snap):
    first, second = _two_publications(db_settings, toy, snap)
    for pub in (first, second):
        pd.testing.assert_frame_equal(_copy(db_settings, pub["publication_id"]), _rows(db_settings, pub["publication_id"]))
    before, after = _rows(db_settings, first["publication_id"]), _rows(db_settings, second["publication_id"])
    both = before.merge(after, on="uscc", how="outer", suffixes=("_before", ""))
    mig = second["migration"]
    for (a, b), n in both.groupby(["tier_before", "tier"], dropna=False).size().items():
        if pd.isna(b):
            assert mig["gone"][a] == n
        elif pd.isna(a):
            assert mig["new"][b] == n
        else:
            assert mig["matrix"][a][b] == n
    assert sum(mig["gone"].values()) == 30 and sum(mig["new"].values()) == 0
    assert not list(published_copy.path(db_settings, "x").parent.glob(".*"))  # no temporary file left


def test_a_missing_or_stale_copy_is_rebuilt_from_the_operational_db(db_settings, toy, snap):
    first, second = _two_publications(db_settings, toy, snap)
    want = second["migration"]
    prev, cur = (published_copy.path(db_settings, p["publication_id"]) for p in (first, second))
    prev.unlink()
    pq.write_table(pq.read_table(cur).slice(0, 10), cur)  # a copy that does not hold the publication's rows
    with engine(db_settings).connect() as conn:
        got = migration(db_settings, conn, previous_id=first["publication_id"], current_id=second["publication_id"])
    assert got == want
    pd.testing.assert_frame_equal(_copy(db_settings, first["publication_id"]), _rows(db_settings, first["publication_id"]))
    assert pq.ParquetFile(cur).metadata.num_rows == second["entity_count"]


def test_a_failed_publication_leaves_no_copy(settings, toy, snap, tmp_path):
    model, frame = toy
    s = snap(frame, 0)
    # the entities of the last batch (in the snapshot's order) have no score: the run fails there
    scores = write_scores(model.score(s.frame).iloc[:-50], tmp_path / "scores")
    with pytest.raises(UserError, match="precomputed score for every active entity"):
        publish(settings, as_of=s.as_of, actor="test", model=model, snapshot=s, scores=scores, batch_rows=100)
    with engine(settings).connect() as conn:  # batches before the failure were stored (and teed into the copy)
        assert conn.execute(sa.text("SELECT COUNT(*) FROM published_scores")).scalar() >= 100
    folder = published_copy.path(settings, "x").parent
    assert not folder.exists() or not any(folder.iterdir())
