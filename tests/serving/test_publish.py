"""Publication: every active entity scored with the real model, history kept, re-runs idempotent, audited."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest
import sqlalchemy as sa

from core.audit import entries
from core.errors import UserError
from core.opdb import engine
from serving.publish import publish, summary_lines


def _count(settings, sql: str, **params) -> int:
    with engine(settings).connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_publish_scores_every_entity_and_reports_tier_counts_and_migration(db_settings, toy, snap):
    model, frame = toy
    older, newer = snap(frame, 1), snap(frame, 0)
    first = publish(db_settings, as_of=older.as_of, actor="test", model=model, snapshot=older)
    assert first["migration"] is None and first["entity_count"] == len(older.frame)
    assert sum(first["tier_counts"].values()) == len(older.frame)
    second = publish(db_settings, as_of=newer.as_of, actor="test", model=model, snapshot=newer)
    mig = second["migration"]
    assert mig["previous_publication_id"] == first["publication_id"]
    assert sum(sum(r.values()) for r in mig["matrix"].values()) == len(newer.frame)  # same entities
    expected = model.score(newer.frame)
    assert second["tier_counts"] == {t: int((expected["tier"] == t).sum()) for t in "ABCD"}
    for a in "ABCD":  # column sums of the matrix are the new tier counts
        assert sum(mig["matrix"][b][a] for b in "ABCD") == second["tier_counts"][a]
    lines = "\n".join(summary_lines(second))
    assert first["publication_id"] in lines and "信用风险低" in lines
    with engine(db_settings).connect() as conn:
        audit = entries(conn, action="publish", subject=second["publication_id"])
    assert audit[0]["versions"]["model_version"] == "7" and audit[0]["versions"]["snapshot_id"] == newer.snapshot_id


def test_republishing_the_same_as_of_model_and_snapshot_does_not_duplicate(db_settings, toy, snap):
    model, frame = toy
    s = snap(frame, 0)
    first = publish(db_settings, as_of=s.as_of, actor="test", model=model, snapshot=s)
    again = publish(db_settings, as_of=s.as_of, actor="test", model=model, snapshot=s)
    assert again["already_published"] and again["publication_id"] == first["publication_id"]
    assert _count(db_settings, "SELECT COUNT(*) FROM published_scores") == len(s.frame)
    assert _count(db_settings, "SELECT COUNT(*) FROM publications") == 1


def test_an_interrupted_publication_is_completed_by_the_rerun(db_settings, toy, snap):
    model, frame = toy
    s = snap(frame, 0)
    first = publish(db_settings, as_of=s.as_of, actor="test", model=model, snapshot=s)
    with engine(db_settings).begin() as conn:  # as if the run died after claiming and writing half
        conn.execute(sa.text("UPDATE publications SET status = 'publishing'"))
        conn.execute(sa.text("DELETE FROM published_scores WHERE uscc IN "
                             "(SELECT uscc FROM published_scores ORDER BY uscc LIMIT 50)"))
    again = publish(db_settings, as_of=s.as_of, actor="test", model=model, snapshot=s)
    assert not again["already_published"] and again["status"] == "published"
    assert again["tier_counts"] == first["tier_counts"]
    assert _count(db_settings, "SELECT COUNT(*) FROM published_scores") == len(s.frame)


def test_a_snapshot_without_the_model_features_is_refused(settings, toy, snap):
    model, frame = toy
    s = snap(frame, 0)
    broken = snap.make(s.snapshot_id, s.as_of, s.frame.drop(columns=["penalty_count_365d"]))
    with pytest.raises(UserError, match="penalty_count_365d"):
        publish(settings, as_of=s.as_of, actor="test", model=model, snapshot=broken)
    with pytest.raises(UserError, match="as_of"):
        publish(settings, as_of=date(2001, 1, 1), actor="test", model=model, snapshot=s)


def test_publish_end_to_end_with_a_real_snapshot_and_a_model_on_the_real_features(settings):
    """features.snapshot.build_snapshot on a small warehouse, a ScoringModel trained on its feature columns."""
    from core.uscc import complete
    from features.catalog import all_features
    from features.snapshot import build_snapshot
    from features.warehouse import connect
    from training.dataset import feature_spec, from_frame
    from training.train import train

    con = connect(settings)
    for i in range(40):
        con.execute("INSERT INTO entities (uscc, name, entity_type, industry_code, town_code, established, status, "
                    "known_date) VALUES (?, ?, ?, '6210', ?, DATE '2015-01-01', ?, DATE '2015-01-01')",
                    [complete(f"91350100{i:09d}"), f"企业{i}", "individual" if i % 3 else "limited_company",
                     f"T0{i % 4}", "active" if i < 36 else "revoked"])
    as_of = date(2024, 1, 1)
    real = build_snapshot(con, as_of=as_of)
    con.close()
    assert len(real.frame) == 36  # active entities only
    rng = np.random.default_rng(5)
    periods = []
    for k in range(8):  # a labelled training table with the snapshot's columns, eight quarters
        part = real.frame.copy()
        part["as_of"] = date(2022 + k // 4, 1 + 3 * (k % 4), 1)
        part["label"] = (rng.random(len(part)) < 0.3).astype(int)
        periods.append(part)
    import pandas as pd

    table = pd.concat(periods, ignore_index=True)
    specs = [feature_spec(f) for f in all_features()]
    model = train(from_frame(table, id_col="uscc", time_col="as_of", label_col="label", features=specs),
                  num_boost_round=5, params={"min_data_in_leaf": 5})
    model.meta["version"] = "1"
    result = publish(settings, as_of=as_of, actor="test", model=model, snapshot=real)
    assert result["entity_count"] == 36 and result["snapshot_id"] == real.snapshot_id
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as check:
        assert check.execute("SELECT COUNT(*) FROM feature_snapshots WHERE snapshot_id = ?",
                             [real.snapshot_id]).fetchone()[0] == 1
    assert _count(settings, "SELECT COUNT(DISTINCT town_code) FROM published_scores") == 4
