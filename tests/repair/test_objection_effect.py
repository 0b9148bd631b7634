"""End to end on a simulated district: an upheld objection voids a penalty, the next snapshot no longer sees it,
and the next publication gives the entity a lower-risk tier; the correction is shared with the platform."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core.cli import main
from core.opdb import engine
from features.snapshot import compute_features
from features.warehouse import connect
from repair import objections, workflow
from serving.publish import PUBLISHED_SCORES, publish

DOCS = {"objection": "OBJ-1", "evidence": "EV-1"}
AS_OF, NEXT = date(2025, 6, 1), date(2025, 7, 1)


def _penalty_model():
    """A real one-feature LightGBM model: each penalty in effect raises the risk (most entities have none)."""
    from features.catalog import all_features
    from training.dataset import feature_spec, from_frame
    from training.train import train

    spec = [feature_spec(f) for f in all_features() if f.name == "penalty_in_effect_count"]
    rng = np.random.default_rng(20260102)
    n = 6000
    count = rng.choice(4, n, p=[0.70, 0.22, 0.06, 0.02])
    frame = pd.DataFrame({
        "uscc": [f"E{i:05d}" for i in range(n)],
        "as_of": pd.to_datetime(rng.choice(pd.date_range("2021-01-01", periods=8, freq="QS"), n)),
        "penalty_in_effect_count": count.astype(float),
        "y": (rng.random(n) < 0.01 + 0.15 * count).astype(int),
    })
    ds = from_frame(frame, id_col="uscc", time_col="as_of", label_col="y", features=spec)
    return train(ds, params={"min_data_in_leaf": 20, "num_threads": 1}, num_boost_round=20)


def _tiers(settings, publication_id):
    with engine(settings).connect() as conn:
        rows = conn.execute(sa.select(PUBLISHED_SCORES.c.uscc, PUBLISHED_SCORES.c.tier).where(
            PUBLISHED_SCORES.c.publication_id == publication_id)).all()
    return dict(rows)


@pytest.mark.slow  # ~30 s: generating and ingesting a 600-entity district dominates
def test_voided_penalty_leaves_the_next_snapshot_and_lowers_the_tier(settings, tmp_path, capsys):
    district = pytest.importorskip("synth.district")
    from features.ingest import ingest

    drop = tmp_path / "drop"
    district.generate(drop, entities=600, seed=20260101)
    ingest(settings, drop)
    model = _penalty_model()
    first = publish(settings, as_of=AS_OF, actor="planner", model=model)
    con = connect(settings)
    try:
        frame = compute_features(con, as_of=AS_OF).set_index("uscc")["penalty_in_effect_count"]
        one = sorted(frame[frame == 1].index)
        assert one, "the simulated district should hold an entity with exactly one penalty in effect"
        uscc = one[0]
        (pid,) = [r[0] for r in con.execute("SELECT penalty_id FROM _penalties_in_effect WHERE uscc = ?",
                                            [uscc]).fetchall()]
    finally:
        con.close()
    tiers = _tiers(settings, first["publication_id"])
    clean = {tiers[u] for u in frame[frame == 0].index if u in tiers}
    assert len(clean) == 1 and tiers[uscc] not in clean, "the model must tell one penalty from none"

    case = objections.file(settings, uscc=uscc, record_kind="penalty", record_id=pid, actor="officer",
                           documents=DOCS, grounds="处罚决定已被撤销", on=date(2025, 6, 3))
    workflow.transition(settings, case.case_id, "accept", actor="officer", on=date(2025, 6, 4))
    workflow.transition(settings, case.case_id, "uphold", actor="officer", reason="处罚决定已被复议撤销",
                        on=date(2025, 6, 10))
    workflow.transition(settings, case.case_id, "void", actor="officer", on=date(2025, 6, 11))
    assert workflow.sync_warehouse(settings).corrections == 1  # the batch step brings it to the warehouse

    con = connect(settings)
    try:
        before = compute_features(con, as_of=AS_OF, uscc=uscc)["penalty_in_effect_count"].iloc[0]
        after = compute_features(con, as_of=NEXT, uscc=uscc)["penalty_in_effect_count"].iloc[0]
    finally:
        con.close()
    assert (before, after) == (1, 0)  # point in time: the past snapshot keeps it, the next one does not
    second = publish(settings, as_of=NEXT, actor="planner", model=model)
    assert _tiers(settings, second["publication_id"])[uscc] in clean

    out_dir = tmp_path / "share"
    assert main(["repair", "export-shared", "--to", str(out_dir), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["records"] == 1 and exported["messages"] == ["record_voided"]
    (line,) = (out_dir / exported["path"].rsplit("/", 1)[1]).read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert (record["uscc"], record["record_kind"], record["record_id"], record["effective_on"]) == (
        uscc, "penalty", pid, "2025-06-11")
    assert (out_dir / "credit-share-schema.json").exists()
    assert main(["repair", "export-shared", "--to", str(out_dir), "--json"]) == 0  # nothing new the second time
    assert json.loads(capsys.readouterr().out)["records"] == 0
