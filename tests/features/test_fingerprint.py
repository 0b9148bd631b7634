"""The incremental data fingerprint (features.fingerprints) equals the full scan after every kind of write, and a
build rescans only the tables written outside the project's writers."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from features import fingerprints
from features.ingest import ingest
from features.snapshot import build_snapshot, data_fingerprint, reference_fingerprint
from features.warehouse import connect
from tests.features.test_ingest import AS_OF, C1, C3, _drop, _entities, _penalties


@pytest.fixture
def rescans(monkeypatch):
    """The tables each data_fingerprint call hashed in full (appended per call)."""
    seen: list[set[str]] = []
    full = fingerprints.full_parts

    def spy(con, names):
        seen.append(set(names))
        return full(con, names)

    monkeypatch.setattr(fingerprints, "full_parts", spy)
    return seen


def _check(settings, rescans) -> tuple[str, set[str]]:
    """The fingerprint on a fresh connection (the last one closed: checkpointed), checked against the full scan;
    with the tables it rescanned."""
    con = connect(settings)
    try:
        fp = data_fingerprint(con)
        scanned = rescans[-1]
        assert fp == reference_fingerprint(con)
    finally:
        con.close()
    return fp, scanned


def test_incremental_fingerprint_changes_exactly_when_the_full_one_does(settings, tmp_path, rescans):
    opinions = pd.DataFrame({"opinion_id": ["O1"], "uscc": [C1], "published_date": ["2024-05-01"], "source": ["news"],
                             "title": ["山水餐饮被曝食品安全问题"], "vendor_sentiment": ["negative"], "reach": ["100"]})
    first = _drop(tmp_path / "d1", entities=(_entities(), "csv"), penalties=(_penalties(), "csv"),
                  opinions=(opinions, "csv"))
    ingest(settings, first, as_of=AS_OF)
    fp1, scanned = _check(settings, rescans)
    # ingest recorded every table it wrote; the empty ones (never written) are hashed once, then recorded
    assert not scanned & {"entities", "penalties", "opinions", "opinion_mentions"}
    fp1b, scanned = _check(settings, rescans)
    assert fp1b == fp1 and scanned == set()

    ingest(settings, first, as_of=AS_OF)  # the same drop again: nothing changes
    fp2, scanned = _check(settings, rescans)
    assert fp2 == fp1 and scanned == set()

    revised = _drop(tmp_path / "d2", penalties=(_penalties(fine_amount=["1.2万元", "3500"]), "csv"))
    ingest(settings, revised, as_of=AS_OF)  # one penalty revised: its old version goes to history
    fp3, scanned = _check(settings, rescans)
    assert fp3 != fp2 and scanned == set()

    added = _drop(tmp_path / "d3", penalties=(_penalties(penalty_id=["P3", "P4"]), "csv"))
    ingest(settings, added, as_of=AS_OF)  # a new drop
    fp4, scanned = _check(settings, rescans)
    assert fp4 != fp3 and scanned == set()


def test_direct_writes_fall_back_to_a_full_hash_of_that_table(settings, tmp_path, rescans):
    ingest(settings, _drop(tmp_path / "d", entities=(_entities(), "csv"), penalties=(_penalties(), "csv")),
           as_of=AS_OF)
    fp0, _ = _check(settings, rescans)
    fp0b, scanned = _check(settings, rescans)
    assert fp0b == fp0 and scanned == set()
    writes = [
        "INSERT INTO penalties (penalty_id, uscc, decided_date) VALUES ('PX', '" + C1 + "', DATE '2024-01-01')",
        "DELETE FROM penalties WHERE penalty_id = 'PX'",  # back to the rows before: the same fingerprint
        "UPDATE penalties SET fine_amount = fine_amount + 1 WHERE penalty_id = 'P1'",  # same row count
        "UPDATE penalties SET fine_amount = fine_amount - 1 WHERE penalty_id = 'P1'",
        "UPDATE entities SET name = name || '（新）' WHERE uscc = '" + C3 + "'",
        "ALTER TABLE entities ADD COLUMN note VARCHAR",  # every row hash of the table changes with its columns
    ]
    seen = [fp0]
    for sql in writes:
        calls = len(rescans)
        con = duckdb.connect(str(settings.warehouse_path))
        con.execute(sql)
        # before a checkpoint (pending updates) and after one (rewritten segments), the same answer
        fp_open = data_fingerprint(con)
        assert fp_open == reference_fingerprint(con)
        con.close()
        fp, _ = _check(settings, rescans)
        assert fp == fp_open, sql
        assert any(rescans[i] for i in range(calls, len(rescans), 2)), sql  # the written table was hashed in full
        fp_again, scanned = _check(settings, rescans)
        assert fp_again == fp and scanned == set(), sql  # recorded by the rescan: incremental again
        seen.append(fp)
    assert seen[2] == seen[0] and seen[4] == seen[0]  # the writes undone: the fingerprint of the rows before
    assert len({seen[0], seen[1], seen[3], seen[5]}) == 4  # each effective write changed it
    assert seen[6] != seen[5]


def test_project_writers_keep_the_ledger_and_a_failed_write_falls_back(settings, tmp_path, rescans):
    from features.opinions import ensure_scores
    from repair.store import _replace_rows

    ingest(settings, _drop(tmp_path / "d", entities=(_entities(), "csv")), as_of=AS_OF)
    _check(settings, rescans)
    rows = [("penalty", "P1", C1, date(2024, 3, 1), date(2024, 3, 1), "case-1", None)]
    _replace_rows(connect(settings), rows, [])  # the repair sync step
    fp1, scanned = _check(settings, rescans)
    assert scanned == set()
    _replace_rows(connect(settings), [(*rows[0][:6], date(2024, 6, 1))], [])  # the repair revoked
    fp2, scanned = _check(settings, rescans)
    assert fp2 != fp1 and scanned == set()

    con = connect(settings)
    ensure_scores(con)  # nothing to score: no change
    with pytest.raises(RuntimeError), fingerprints.changing(con, "repairs", "TRUE"):
        con.execute("DELETE FROM repairs")
        raise RuntimeError("the writer stopped half way")
    con.close()
    fp3, scanned = _check(settings, rescans)
    assert "repairs" in scanned and fp3 != fp2  # the ledger row was marked invalid: hashed in full


def test_snapshot_id_is_stable_across_builds_without_a_data_change(settings, tmp_path, rescans):
    ingest(settings, _drop(tmp_path / "d", entities=(_entities(), "csv"), penalties=(_penalties(), "csv")),
           as_of=AS_OF)
    ids = []
    for _ in range(3):  # three connections: the first hashes the never-written tables, the others none
        con = connect(settings)
        try:
            ids.append(build_snapshot(con, as_of=date(2025, 6, 1)).snapshot_id)
            assert data_fingerprint(con) == reference_fingerprint(con)
        finally:
            con.close()
    assert len(set(ids)) == 1
    assert rescans[-2] == set()  # the last build's fingerprint


def test_opinion_scores_and_mentions_keep_the_ledger(settings, tmp_path, rescans):
    from features.opinions import ensure_scores, train
    from tests.features.test_opinions import corpus

    items = corpus(120, seed=5)
    opinions = pd.DataFrame({"opinion_id": [f"L{i:03d}" for i in items.index], "uscc": C1,
                             "published_date": "2024-01-01", "source": "news", "title": items["text"],
                             "vendor_sentiment": items["label"], "reach": "10"})
    unlabelled = pd.DataFrame({"opinion_id": ["U1", "U2"], "uscc": [C1, C3], "published_date": "2024-01-01",
                               "source": "news", "title": ["这家餐厅被曝食品变质", "该酒店获得游客好评"], "reach": "10"})
    drop = _drop(tmp_path / "d", entities=(_entities(), "csv"), opinions=(pd.concat([opinions, unlabelled]), "csv"))
    ingest(settings, drop, as_of=AS_OF)
    fp0, _ = _check(settings, rescans)
    con = connect(settings)
    assert ensure_scores(con) == 2  # the default model's scores: inserted
    con.close()
    fp1, scanned = _check(settings, rescans)
    assert fp1 != fp0 and not scanned & {"opinion_scores", "opinion_mentions", "opinions"}
    con = connect(settings)
    other = train(corpus(200, seed=9), text_col="text", label_col="label", seed=2)
    assert ensure_scores(con, classifier=other) == 2  # another model's: the old scores deleted, new ones inserted
    con.close()
    fp2, scanned = _check(settings, rescans)
    assert fp2 != fp1 and scanned == set()
