"""Snapshots: catalog completeness, storage and reload, deterministic ids, spines, the CLI command."""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd
import pytest

from core import rules
from core.cli import main
from core.errors import UserError
from features import catalog
from features.catalog import DIMENSIONS, all_features
from features.snapshot import DESCRIPTIVE, SQL_DIR, build_spine, load_snapshot, spine_dates
from tests.features.conftest import code

A, B = code(1), code(2)


def test_every_snapshot_column_is_declared_and_every_declaration_is_a_column(wh):
    wh.entity(A)
    frame = wh.snapshot(date(2024, 1, 1)).reset_index()
    declared = [f.name for f in all_features()]
    assert list(frame.columns) == ["uscc", "as_of", *DESCRIPTIVE, *declared]


def test_catalog_has_five_meaningful_features_per_dimension_with_metadata():
    features = all_features()
    windows = set(rules.load("features")["windows"])
    for dim in DIMENSIONS:
        assert len([f for f in features if f.dimension == dim]) >= 5, dim
    for f in features:
        assert f.zh and f.en and f.source and f.window and f.unit, f.name
        assert re.search(r"[\u4e00-\u9fff]", f.zh), f.name
        tag = re.search(r"_(\d+d)$", f.name)
        if tag:  # a window in the name is a window of the rules table and of the declaration
            assert tag.group(1) in windows and f.window == tag.group(1), f.name
        if f.kind == "categorical":
            assert f.direction == 0, f.name
    for module in catalog.DIMENSION_MODULES.values():
        assert (SQL_DIR / __import__(module, fromlist=["SQL"]).SQL).is_file()


def test_snapshot_is_stored_and_loads_back_with_a_deterministic_id(wh):
    from features.snapshot import build_snapshot

    wh.entity(A)
    wh.entity(B, entity_type="individual", registered_capital=None)
    first = build_snapshot(wh.con, as_of=date(2024, 1, 1))
    again = build_snapshot(wh.con, as_of=date(2024, 1, 1))
    assert again.snapshot_id == first.snapshot_id and first.entities == 2
    loaded = load_snapshot(wh.con, first.snapshot_id)
    pd.testing.assert_frame_equal(loaded.frame, first.frame)
    assert loaded.as_of == date(2024, 1, 1)
    other_day = build_snapshot(wh.con, as_of=date(2024, 4, 1))
    wh.entity(code(3))
    changed = build_snapshot(wh.con, as_of=date(2024, 1, 1))
    assert len({first.snapshot_id, other_day.snapshot_id, changed.snapshot_id}) == 3
    rows = wh.con.execute("SELECT COUNT(*) FROM feature_snapshots").fetchone()[0]
    assert rows == 3
    with pytest.raises(UserError, match="no snapshot"):
        load_snapshot(wh.con, "snap-missing")


def test_spine_dates_are_first_days_of_months_or_quarters():
    assert spine_dates(date(2023, 11, 15), date(2024, 7, 1)) == [date(2024, 1, 1), date(2024, 4, 1), date(2024, 7, 1)]
    assert spine_dates(date(2024, 1, 1), date(2024, 3, 31), "monthly") == [
        date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    with pytest.raises(UserError, match="freq"):
        spine_dates(date(2024, 1, 1), date(2024, 3, 1), "weekly")


def test_spine_builds_one_snapshot_per_date_with_entities_active_then(wh):
    wh.entity(A, established=date(2015, 1, 1))
    wh.entity(B, established=date(2024, 2, 1))
    snaps = build_spine(wh.con, start=date(2024, 1, 1), end=date(2024, 4, 1))
    assert [s.as_of for s in snaps] == [date(2024, 1, 1), date(2024, 4, 1)]
    assert [s.entities for s in snaps] == [1, 2]


def test_features_command_builds_and_exports_a_snapshot(settings, tmp_path, capsys):
    from features.warehouse import connect
    from tests.features.conftest import Warehouse

    con = connect(settings)
    Warehouse(con).entity(A)
    Warehouse(con).entity(B, established=date(2025, 1, 1))
    con.close()
    out = tmp_path / "snap.parquet"
    assert main(["features", "--home", str(settings.home), "--as-of", "2024-07-15", "--export", str(out),
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2024-07-15" and data["entities"] == 1
    assert data["features"] == len(all_features()) and data["snapshot_id"].startswith("snap-2024-07-15-")
    assert pd.read_parquet(out)["uscc"].tolist() == [A]
    with pytest.raises(SystemExit) as exc:
        main(["features", "--home", str(settings.home), "--as-of", "2024-13-01"])
    assert exc.value.code == 2 and "expected a date as YYYY-MM-DD" in capsys.readouterr().err
