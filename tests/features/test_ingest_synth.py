"""Ingest of a small simulated district: clean loads without quarantine; every injected fault is caught and counted."""

import json
from datetime import date

import duckdb
import pytest

from features.ingest import ingest

synth = pytest.importorskip("synth")
ENTITIES, SEED = 250, 11
# fault class of synth -> where ingest counts it
QUARANTINE_RULES = {"bad_check_character": ("bad_check_character",),
                    "missing_required_date": ("missing_required_date",),
                    "impossible_date": ("impossible_date", "date_order")}
REPAIRS = {"amount_in_wan": "amount_in_wan", "gbk_encoding": "gbk_encoding"}


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """The same small district generated clean and at dirty rate 0.02, each ingested into its own home."""
    from core.settings import Settings

    root = tmp_path_factory.mktemp("district")
    out = {}
    for label, rate in (("clean", 0.0), ("dirty", 0.02)):
        report = synth.generate(root / label, entities=ENTITIES, seed=SEED, dirty_rate=rate)
        settings = Settings.from_env(root / f"home-{label}")
        out[label] = (report, ingest(settings, root / label), settings)
    return out


def _accounted(report, summary):
    for f in summary["files"]:
        assert f["status"] == "loaded", f
        assert f["loaded"] + sum(f["quarantined"].values()) + f["deduplicated"] == f["rows"] == \
            report["counts"][f["table"]], f


@pytest.mark.slow
def test_clean_district_ingests_with_zero_quarantined_rows(district):
    report, summary, _ = district["clean"]
    assert summary["quarantined"] == {}, json.dumps(summary["quarantined"])
    assert summary["corrupt"] == []
    assert {t: n for t, n in summary["loaded"].items() if n} == {t: n for t, n in report["counts"].items() if n}
    assert "ground_truth/" in summary["ignored"] and "synth_report.json" in summary["ignored"]
    _accounted(report, summary)


@pytest.mark.slow
def test_dirty_district_catches_and_counts_every_fault_class(district):
    report, summary, _ = district["dirty"]
    _, clean, _ = district["clean"]
    _accounted(report, summary)
    assert {c for c, n in report["faults"].items() if n} == set(report["faults"])  # every class was injected
    for table, faults in report["faults_by_table"].items():
        for fault, n in faults.items():
            if fault in QUARANTINE_RULES:
                got = sum(summary["quarantined"].get(table, {}).get(r, 0) for r in QUARANTINE_RULES[fault])
            elif fault in REPAIRS:
                got = summary["repaired"].get(table, {}).get(REPAIRS[fault], 0)
            elif fault == "duplicate_rows":
                got = summary["deduplicated"][table]
            else:  # name_only_opinion: matched by name or left unmatched, on top of the clean name-only items
                assert fault == "name_only_opinion"
                fixes, base = summary["repaired"][table], clean["repaired"].get(table, {})
                got = sum(fixes.get(k, 0) - base.get(k, 0) for k in ("name_exact", "name_unmatched"))
            assert got == n, (table, fault, got, n)
    caught = {rule for rules in summary["quarantined"].values() for rule in rules}
    assert caught <= {r for rules in QUARANTINE_RULES.values() for r in rules}


@pytest.mark.slow
def test_name_matching_finds_the_items_synth_made_resolvable(district):
    report, summary, _ = district["clean"]
    assert summary["repaired"]["opinions"].get("name_exact", 0) <= report["matching"]["name_only_clean"]
    assert summary["repaired"]["opinions"].get("name_exact", 0) >= 0.8 * report["matching"]["name_only_clean"]


@pytest.mark.slow
def test_reingesting_the_dirty_district_changes_nothing(district):
    report, _, settings = district["dirty"]
    again = ingest(settings, report["out"])
    assert all(c["new"] == 0 and c["revised"] == 0 for c in again["changes"].values())


@pytest.mark.slow
def test_monthly_drop_revises_rows_keeps_history_and_matches_a_full_extract(tmp_path):
    """Base extract to 31 Oct plus the November drop gives the same current rows as a full extract to 30 Nov."""
    from core.settings import Settings

    synth.generate(tmp_path / "base", entities=ENTITIES, seed=SEED, until=date(2025, 10, 31))
    synth.emit_drop(tmp_path / "nov", month="2025-11", entities=ENTITIES, seed=SEED)
    synth.generate(tmp_path / "full", entities=ENTITIES, seed=SEED, until=date(2025, 11, 30))
    monthly, full = Settings.from_env(tmp_path / "home-monthly"), Settings.from_env(tmp_path / "home-full")
    ingest(monthly, tmp_path / "base")
    drop = ingest(monthly, tmp_path / "nov")
    again = ingest(monthly, tmp_path / "nov")
    ingest(full, tmp_path / "full")
    assert drop["quarantined"] == {} and drop["as_of"] == "2025-11-30"
    revised = sum(c["revised"] for c in drop["changes"].values())
    assert revised > 0 and all(c["new"] == c["revised"] == 0 for c in again["changes"].values())
    with duckdb.connect(str(monthly.warehouse_path), read_only=True) as con:
        moved = sum(con.execute(f"SELECT count(*) FROM {t}_history WHERE _superseded_by = ?",
                                [drop["ingest_id"]]).fetchall()[0][0] for t in drop["changes"])
        current = {t: set(con.execute(f"SELECT _row_hash FROM {t}").fetchall()) for t in drop["changes"]}
    assert moved == revised
    with duckdb.connect(str(full.warehouse_path), read_only=True) as con:
        expected = {t: set(con.execute(f"SELECT _row_hash FROM {t}").fetchall()) for t in drop["changes"]}
    assert current == expected
