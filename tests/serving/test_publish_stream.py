"""Publication streamed batch by batch from a stored snapshot equals the publication of the whole frame at once."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

synth = pytest.importorskip("synth")
AS_OF = date(2023, 7, 1)


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    from core.settings import Settings
    from features import opinions
    from features.catalog import all_features
    from features.ingest import ingest
    from features.snapshot import build_snapshot
    from features.warehouse import connect
    from training.dataset import feature_spec, from_frame
    from training.train import train

    root = tmp_path_factory.mktemp("pstream")
    synth.generate(root / "drop", entities=600, seed=23)
    settings = Settings.from_env(root / "home")
    ingest(settings, root / "drop")
    con = connect(settings)
    try:
        snap = build_snapshot(con, as_of=AS_OF, classifier=opinions.current(settings, con))
    finally:
        con.close()
    parts = []
    for k in range(4):
        part = snap.frame.copy()
        part["as_of"] = date(2021 + k // 2, 1 + 6 * (k % 2), 1)
        part["label"] = (part["uscc"].map(hash) % (3 + k) == 0).astype(int)
        parts.append(part)
    specs = [feature_spec(f) for f in all_features()]
    model = train(from_frame(pd.concat(parts, ignore_index=True), id_col="uscc", time_col="as_of",
                             label_col="label", features=specs), num_boost_round=10, params={"min_data_in_leaf": 5})
    model.meta["version"] = "3"
    return settings, model, snap.snapshot_id, root


def _lazy(settings, sid, monkeypatch):
    """The stored snapshot loaded lazily (never fetched whole), as for a large district."""
    from features import snapshot as fsnap
    from features.warehouse import connect

    monkeypatch.setattr(fsnap, "EAGER_ROWS", 0)
    con = connect(settings)
    try:
        return fsnap.load_snapshot(con, sid)
    finally:
        con.close()


def _published(settings, pub_id):
    from core.opdb import engine

    with engine(settings).connect() as conn:
        scores = pd.DataFrame(conn.execute(sa.text(
            "SELECT uscc, probability, tier, reasons, entity_type, town_code FROM published_scores "
            "WHERE publication_id = :p ORDER BY uscc"), {"p": pub_id}).all())
        left = pd.DataFrame(conn.execute(sa.text(
            "SELECT uscc, status, status_date FROM unpublished_entities WHERE publication_id = :p ORDER BY uscc"),
            {"p": pub_id}).all())
    return scores, left


def test_streamed_publication_equals_the_whole_frame_scored_at_once(district, monkeypatch):
    from features import snapshot as fsnap
    from features.reason_records import penalties_with_sanction, reason_records
    from features.warehouse import connect
    from serving.publish import publish
    from serving.reasons import finalise
    from serving.triggers import triggers

    settings, model, sid, root = district
    # the reference: the whole frame, the records of every entity in one dict (the publication before streaming)
    con = connect(settings)
    try:
        whole = fsnap.load_snapshot(con, sid)
        records = reason_records(con, as_of=AS_OF)
        hits = penalties_with_sanction(con, [t.sanction for t in triggers() if t.sanction])
    finally:
        con.close()
    frame = whole.frame
    scores = model.score(frame)
    expected = finalise(scores, frame, records=records, sanction_hits=hits)
    named = [rec for rs in expected.reasons for r in rs for rec in r["records"]]
    assert len(named) > 100 and any(r.kind == "affiliate" for d in records.values() for rs in d.values() for r in rs)

    # streamed: the stored snapshot is not fetched, 37 rows a batch, into its own operational DB
    lazy = _lazy(settings, sid, monkeypatch)
    assert lazy.stored and lazy._frame is None and lazy.entities == len(frame)
    streamed = dataclasses.replace(settings, db_url=f"sqlite:///{root / 'streamed.db'}")
    result = publish(streamed, as_of=AS_OF, actor="test", model=model, snapshot=lazy, batch_rows=37)
    assert lazy._frame is None  # scored from record batches, never materialised
    got, left = _published(streamed, result["publication_id"])

    want = pd.DataFrame({"uscc": scores["uscc"].astype(str), "tier": expected.tiers,
                         "reasons": [json.dumps(list(r), ensure_ascii=False) for r in expected.reasons]}
                        ).sort_values("uscc").reset_index(drop=True)
    assert result["entity_count"] == len(frame) == len(got)
    assert got["uscc"].tolist() == want["uscc"].tolist()
    assert got["tier"].tolist() == want["tier"].tolist()
    assert got["reasons"].tolist() == want["reasons"].tolist()
    assert result["tier_counts"] == {t: int((want["tier"] == t).sum()) for t in "ABCD"}
    assert result["trigger_counts"] == expected.fired.counts()

    # the whole frame given (not stored): the same rows and the same entities left out
    whole_settings = dataclasses.replace(settings, db_url=f"sqlite:///{root / 'whole.db'}")
    plain = type("Snap", (), {"snapshot_id": sid, "as_of": AS_OF, "frame": frame})()
    again = publish(whole_settings, as_of=AS_OF, actor="test", model=model, snapshot=plain)
    got2, left2 = _published(whole_settings, again["publication_id"])
    assert got2.equals(got)
    assert len(left) and left.equals(left2)


def test_worker_processes_publish_the_same_rows_as_one_process(district, monkeypatch):
    from serving.publish import publish

    settings, model, sid, root = district
    lazy = _lazy(settings, sid, monkeypatch)
    results, published = [], []
    for workers in (1, 2):
        s = dataclasses.replace(settings, db_url=f"sqlite:///{root / f'workers{workers}.db'}")
        results.append(publish(s, as_of=AS_OF, actor="test", model=model, snapshot=lazy, batch_rows=53,
                               workers=workers))
        published.append(_published(s, results[-1]["publication_id"]))
    (one, left_one), (two, left_two) = published
    assert len(one) == results[0]["entity_count"] > 53 * 4  # several ranges, shared by the two workers
    assert two.equals(one) and left_two.equals(left_one) and len(left_one)
    for key in ("entity_count", "tier_counts", "trigger_counts"):
        assert results[1][key] == results[0][key]
    assert not list((settings.warehouse_path.parent / "duckdb-tmp").glob("publish-*"))  # the exports are removed


def test_worker_processes_publish_precomputed_scores_from_their_files(district, monkeypatch, tmp_path):
    """Scores computed elsewhere (the Spark executors' Parquet files) published by two worker processes: the same
    rows as scoring in one process."""
    from serving import publish_workers
    from serving.publish import _batches, publish
    from tests.serving.conftest import write_scores

    settings, model, sid, root = district
    lazy = _lazy(settings, sid, monkeypatch)
    active = pd.concat(list(_batches(lazy, 1_000)), ignore_index=True)
    folder = write_scores(model.score(active), tmp_path / "scores", files=2)  # two files of consecutive code ranges
    given, real = [], publish_workers.reasoned_batches

    def spy(*args, **kwargs):
        given.append(kwargs.get("scores"))
        return real(*args, **kwargs)

    monkeypatch.setattr(publish_workers, "reasoned_batches", spy)
    got = []
    for name, kwargs in (("here", {"workers": 1}), ("files", {"workers": 2, "scores": folder})):
        s = dataclasses.replace(settings, db_url=f"sqlite:///{root / f'precomputed-{name}.db'}")
        result = publish(s, as_of=AS_OF, actor="test", model=model, snapshot=lazy, batch_rows=53, **kwargs)
        got.append((result, *_published(s, result["publication_id"])))
    (here, rows_here, left_here), (files, rows_files, left_files) = got
    assert len(rows_here) == here["entity_count"] > 53 * 4  # several ranges, shared by the two workers
    assert rows_files.equals(rows_here) and left_files.equals(left_here)
    assert files["tier_counts"] == here["tier_counts"] and files["trigger_counts"] == here["trigger_counts"]
    assert given == [folder]  # the files went to the worker processes (the first run scored in this process)
