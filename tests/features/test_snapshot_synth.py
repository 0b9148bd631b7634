"""Snapshots on a small simulated district (synth + ingest): spine, attribution and leakage on realistic data."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from features.catalog import DIMENSIONS, all_features
from features.sources import SOURCES

synth = pytest.importorskip("synth")
ENTITIES, SEED = 600, 23
AS_OF = date(2023, 7, 1)


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    from core.settings import Settings
    from features import opinions
    from features.ingest import ingest
    from features.warehouse import connect

    root = tmp_path_factory.mktemp("fdistrict")
    synth.generate(root / "drop", entities=ENTITIES, seed=SEED)
    settings = Settings.from_env(root / "home")
    ingest(settings, root / "drop")
    con = connect(settings)
    clf = opinions.current(settings, con)
    yield con, clf, root
    con.close()


@pytest.mark.slow
def test_snapshot_has_one_row_per_active_entity_and_counts_only_matched_items(district):
    from features.snapshot import build_snapshot

    con, clf, _ = district
    snap = build_snapshot(con, as_of=AS_OF, classifier=clf)
    ent = con.table("entities").df()
    ts = pd.Timestamp(AS_OF)
    gone = ent["status"].isin(["deregistered", "revoked"]) & (ent["status_date"].fillna(ent["established"]) < ts)
    active = ent[(ent["established"] <= ts) & (ent["known_date"] <= ts) & ~gone]
    assert sorted(snap.frame["uscc"]) == sorted(active["uscc"])
    op = con.table("opinions").df()
    links = con.table("opinion_mentions").df().merge(op, on="opinion_id", suffixes=("", "_item"))
    seen = links[links["uscc"].isin(active["uscc"]) & (links["published_date"] < ts) & (links["known_date"] < ts)
                 & (links["published_date"] >= ts - pd.Timedelta(days=365))].drop_duplicates(["opinion_id", "uscc"])
    assert snap.frame["opinion_item_count_365d"].sum() == len(seen)  # an item counts for every firm it names
    assert seen["mentioned_names"].notna().any() and (seen["uscc"] != seen["uscc_item"]).any()
    assert op.loc[op["match_method"] == "unmatched", "uscc"].isna().all()  # name-only items stay unattributed
    for dim in DIMENSIONS:  # every dimension varies across the district
        cols = [f.name for f in all_features() if f.dimension == dim]
        assert (snap.frame[cols].nunique() > 1).any(), dim
    assert snap.frame["abnormal_list_current_flag"].sum() > 0 and snap.frame["penalty_in_effect_count"].sum() > 0


@pytest.mark.slow
def test_snapshot_equals_one_built_from_only_the_records_known_before_as_of(district):
    """Leakage on realistic data: dropping every row dated or known on/after as_of changes no value."""
    from features.snapshot import build_snapshot

    con, clf, root = district
    full = build_snapshot(con, as_of=AS_OF, classifier=clf).frame
    past = duckdb.connect(str(root / "past.duckdb"))
    from features.warehouse import create_source_tables

    create_source_tables(past)
    past.close()
    con.execute(f"ATTACH '{root / 'past.duckdb'}' AS past")
    try:
        for name, table in SOURCES.items():
            event = table.event_date
            keep = (f"(\"{event}\" IS NULL OR \"{event}\" < DATE '{AS_OF}') AND "
                    f"(known_date IS NULL OR known_date < DATE '{AS_OF}')")
            if name == "entities":
                keep = f"established <= DATE '{AS_OF}' AND known_date <= DATE '{AS_OF}'"
            con.execute(f'INSERT INTO past."{name}" SELECT * FROM "{name}" WHERE {keep}')
        con.execute(f"INSERT INTO past.repairs SELECT * FROM repairs WHERE repaired_date <= DATE '{AS_OF}'")
        con.execute("CREATE TABLE past.opinion_scores AS SELECT * FROM opinion_scores")
        con.execute("CREATE TABLE past.opinion_mentions AS SELECT * FROM opinion_mentions "
                    "WHERE opinion_id IN (SELECT opinion_id FROM past.opinions)")  # made at ingest, like the scores
    finally:
        con.execute("DETACH past")
    past = duckdb.connect(str(root / "past.duckdb"))
    try:
        dropped = sum(con.table(n).shape[0] for n in SOURCES) - sum(past.table(n).shape[0] for n in SOURCES)
        assert dropped > 0
        truncated = build_snapshot(past, as_of=AS_OF, classifier=clf).frame
    finally:
        past.close()
    pd.testing.assert_frame_equal(truncated, full)
