"""Monitoring by aggregates (feature PSI in DuckDB, jumpers over the publications' columnar copies) equals the in-memory
figures."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from core.opdb import engine
from cycle.monitor import feature_psi, feature_psi_sql, jumpers, stored_jumpers
from cycle.run import run_cycle
from features.snapshot import load_snapshot
from features.warehouse import connect


def test_feature_psi_and_jumpers_by_aggregates_equal_the_frame_figures(district, tmp_path):
    settings = district.home(tmp_path)
    first = run_cycle(settings, as_of=date(2025, 1, 1), actor="test", retrain="never", rules_file=district.rules_file)
    second = run_cycle(settings, as_of=date(2025, 2, 1), drop=district.drop("2025-01"), actor="test",
                       retrain="never", rules_file=district.rules_file)
    before, after = first["published"], second["published"]
    con = connect(settings)
    try:
        prev, cur = (load_snapshot(con, p["snapshot_id"]).frame for p in (before, after))
        by_sql = feature_psi_sql(con, previous_id=before["snapshot_id"], current_id=after["snapshot_id"])
    finally:
        con.close()
    by_frame = feature_psi(prev, cur)
    assert by_sql == by_frame and len(by_sql) > 50 and any(v > 0 for v in by_sql.values())
    with engine(settings).connect() as conn:
        rows = {p["publication_id"]: pd.DataFrame(conn.execute(sa.text(
            "SELECT uscc, probability, tier, reasons FROM published_scores WHERE publication_id = :p ORDER BY uscc"),
            {"p": p["publication_id"]}).all()) for p in (before, after)}
        for jump in (1, 2):
            want = jumpers(rows[before["publication_id"]], rows[after["publication_id"]], jump=jump, limit=20)
            got = stored_jumpers(settings, conn, previous_id=before["publication_id"], current_id=after["publication_id"],
                              jump=jump, limit=20)
            assert got == want
            assert got["count"] > 0 or jump > 1  # one-tier moves happen between two months
    assert second["continuity"]["active_not_published"] == 0 and second["continuity"]["published"] > 400
