"""Rules applied as written (issue 12 items 5 and 7): inspection result codes, penalty publicity classes,
void serious-list entries, and snapshots that see each row as it was known at as_of."""

from __future__ import annotations

import itertools
from datetime import date

import duckdb
import pandas as pd
import pytest

from core import inspection_results
from core.publicity import penalty_class, penalty_class_sql
from features.sources import SANCTIONS, SOURCES
from features.versions import view_name
from tests.features.conftest import code
from training import labels

A, B = code(1), code(2)
PENALTY = dict(domain="food", procedure="ordinary", severity="minor")


def _count(wh, as_of: date, column: str = "penalty_in_effect_count", who: str = A) -> float:
    return float(wh.snapshot(as_of).loc[who, column])


# ------------------------------------------------------------------------------------------- publicity
def test_a_warning_alone_or_a_simple_procedure_penalty_never_counts_in_publicity(wh):
    wh.entity(A)
    wh.entity(B)
    # even with a publicity end in the extract: a warning alone is not published
    wh.add("penalties", uscc=A, decided_date=date(2024, 1, 10), sanctions="warning",
           publicity_end=date(2024, 12, 31), **PENALTY)
    wh.add("penalties", uscc=A, decided_date=date(2024, 1, 10), domain="food", procedure="simple",
           severity="minor", sanctions="fine", fine_amount=200.0)
    snap = wh.snapshot(date(2024, 3, 1))
    penalty_columns = [c for c in snap.columns if c.startswith("penalty_")]
    assert snap.loc[A, "penalty_in_effect_count"] == 0
    pd.testing.assert_series_equal(snap.loc[A, penalty_columns], snap.loc[B, penalty_columns], check_names=False)


def test_a_criticism_notice_alone_counts_for_three_months_from_publication(wh):
    wh.entity(A)
    wh.add("penalties", uscc=A, decided_date=date(2024, 1, 20), sanctions="criticism",
           published_date=date(2024, 2, 1), **PENALTY)
    days = [date(2024, 1, 21), date(2024, 4, 30), date(2024, 5, 1)]
    assert [_count(wh, d) for d in days] == [1, 1, 0]


def test_a_restriction_longer_than_the_period_keeps_the_penalty_in_publicity_until_it_ends(wh):
    wh.entity(A)
    wh.entity(B)
    long = dict(domain="food", procedure="ordinary", severity="serious", sanctions="fine;restrict_operation",
                fine_amount=80_000.0, decided_date=date(2024, 1, 10), published_date=date(2024, 1, 20))
    wh.add("penalties", uscc=A, restriction_end=date(2029, 6, 1), **long)
    wh.add("penalties", uscc=B, restriction_end=date(2025, 6, 1), **long)  # shorter: the 3-year period
    at = {d: wh.snapshot(d) for d in (date(2027, 1, 19), date(2027, 1, 20), date(2029, 5, 31), date(2029, 6, 1))}
    assert [at[d].loc[A, "penalty_in_effect_count"] for d in at] == [1, 1, 1, 0]
    assert [at[d].loc[B, "penalty_in_effect_count"] for d in at] == [1, 0, 0, 0]


def test_python_and_sql_agree_on_the_publicity_class_of_every_penalty_shape():
    combos = [";".join(c) for n in (1, 2) for c in itertools.combinations(SANCTIONS, n)]
    rows = [(pr, sev, s, fine, et) for pr in ("simple", "ordinary") for sev in ("minor", "ordinary", "serious")
            for s in combos for fine in (None, 3000.0, 6000.0, 60_000.0) for et in ("individual", "limited_company")]
    frame = pd.DataFrame(rows, columns=["procedure", "severity", "sanctions", "fine_amount", "entity_type"])
    con = duckdb.connect()
    con.register("p", frame)
    sql = penalty_class_sql(sanctions=SANCTIONS, entity_type="p.entity_type")
    got = [r[0] for r in con.execute(f"SELECT {sql} FROM p").fetchall()]
    want = [penalty_class(procedure=pr, severity=sev, sanctions=s.split(";"), fine_amount=fine, entity_type=et).code
            for pr, sev, s, fine, et in rows]
    assert got == want
    assert set(want) == {"simple_procedure", "warning_only", "minor", "serious", "ordinary"}


def test_labels_count_a_criticism_notice_but_not_a_warning_alone(wh):
    for u, sanctions in ((A, "criticism"), (B, "warning")):
        wh.entity(u)
        wh.add("penalties", uscc=u, decided_date=date(2024, 3, 1), sanctions=sanctions, **PENALTY)
    spine = pd.DataFrame({"uscc": [A, B], "as_of": [date(2024, 1, 1)] * 2})
    out = labels.compute(wh.con, spine, end=date(2025, 6, 1)).set_index("uscc")
    assert out["label"].to_dict() == {A: 1, B: 0}


# ----------------------------------------------------------------------------------- void serious list
@pytest.mark.parametrize("as_of", [date(2024, 2, 1), date(2024, 4, 1)])
def test_a_serious_listing_revoked_as_made_in_error_changes_no_feature(wh, as_of):
    wh.entity(A)
    wh.entity(B)
    wh.add("serious_list", uscc=A, listed_date=date(2024, 1, 10), domain="food",
           removed_date=date(2024, 3, 1), removal_reason="revoked_in_error")
    snap = wh.snapshot(as_of)
    assert snap.loc[A, "serious_list_current_flag"] == 0
    pd.testing.assert_series_equal(snap.loc[A].drop(["as_of"]), snap.loc[B].drop(["as_of"]), check_names=False)


def test_a_serious_listing_revoked_as_made_in_error_is_no_label_event_but_an_expired_one_is(wh):
    for u, why in ((A, "revoked_in_error"), (B, "early_repair")):
        wh.entity(u)
        wh.add("serious_list", uscc=u, listed_date=date(2024, 1, 10), domain="food",
               removed_date=date(2024, 3, 1), removal_reason=why)
    spine = pd.DataFrame({"uscc": [A, B], "as_of": [date(2023, 12, 1)] * 2})
    out = labels.compute(wh.con, spine, end=date(2025, 6, 1)).set_index("uscc")
    assert out["label"].to_dict() == {A: 0, B: 1}


# ----------------------------------------------------------------------------------- inspection results
def test_result_codes_give_hand_computed_inspection_features(wh):
    wh.entity(A)
    for i, result in enumerate(("no_issue", "activity_not_found", "issue_corrected", "follow_up", "not_disclosed",
                                "false_disclosure", "not_found_at_address", "obstructed", "case_opened")):
        wh.add("inspections", uscc=A, inspection_date=date(2024, 1, 1 + i), kind="random", result=result)
    row = wh.snapshot(date(2024, 3, 1)).loc[A]
    # 9 checks; 7 found a problem; 3 are adverse events (false disclosure, obstruction, a case); 1 unreachable
    assert (row["inspection_count_730d"], row["inspection_issue_count_730d"],
            row["inspection_case_opened_count_730d"], row["inspection_not_found_count_730d"]) == (9, 7, 3, 1)


def test_only_adverse_result_codes_are_label_events(wh):
    results = [r.code for r in inspection_results.inspection_results()]
    entities = {r: code(10 + i) for i, r in enumerate(results)}
    for r, u in entities.items():
        wh.entity(u)
        wh.add("inspections", uscc=u, inspection_date=date(2024, 3, 1), kind="random", result=r)
    spine = pd.DataFrame({"uscc": list(entities.values()), "as_of": [date(2024, 1, 1)] * len(entities)})
    out = labels.compute(wh.con, spine, end=date(2025, 6, 1)).set_index("uscc")["label"]
    assert {r for r, u in entities.items() if out[u] == 1} == {"false_disclosure", "obstructed", "case_opened"}


def test_every_result_code_has_labels_and_the_contract_takes_its_codes_from_the_table():
    table = inspection_results.inspection_results()
    assert SOURCES["inspections"].column("result").values == tuple(r.code for r in table)
    assert all(r.zh and r.en for r in table)
    # earlier labels of this warehouse still load
    assert inspection_results.aliases()["发现问题已立案"] == "case_opened"
    assert inspection_results.aliases()["通过登记的住所或经营场所无法联系"] == "not_found_at_address"


# ------------------------------------------------------------------------- point in time with revisions
def _entities(**over) -> pd.DataFrame:
    frame = pd.DataFrame({"uscc": [A, B], "name": ["山水餐饮有限公司", "石门旅行社"],
                          "entity_type": ["limited_company", "limited_company"], "industry_code": ["6210", "7271"],
                          "town_code": ["T01", "T02"], "registered_capital": ["500000", "800000"],
                          "established": ["2015-03-01", "2016-05-01"], "status": ["active", "active"]})
    return frame.assign(**over)


def _penalties(**over) -> pd.DataFrame:
    frame = pd.DataFrame({"penalty_id": ["P1"], "uscc": [A], "decided_date": ["2023-11-02"], "domain": ["food"],
                          "procedure": ["ordinary"], "severity": ["ordinary"], "sanctions": ["fine"],
                          "fine_amount": ["60000"], "known_date": ["2023-11-10"]})
    return frame.assign(**over)


def _drop(folder, **tables):
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_a_snapshot_rebuilt_after_a_revision_equals_the_one_taken_before_it_arrived(settings, tmp_path):
    from features.ingest import ingest
    from features.snapshot import build_snapshot
    from features.warehouse import connect

    def snap(as_of):
        con = connect(settings)
        try:
            return build_snapshot(con, as_of=as_of).frame.set_index("uscc")
        finally:
            con.close()

    ingest(settings, _drop(tmp_path / "m1", entities=_entities(), penalties=_penalties()), as_of=date(2024, 1, 31))
    old = date(2024, 3, 1)
    before = snap(old)
    # a later drop revises A's town, capital and type and the penalty's fine and severity
    revised = _entities(town_code=["T09", "T02"], registered_capital=["9000000", "800000"],
                        entity_type=["joint_stock", "limited_company"])
    summary = ingest(settings, _drop(tmp_path / "m2", entities=revised,
                                     penalties=_penalties(fine_amount=["90000"], severity=["serious"])),
                     as_of=date(2024, 6, 30))
    assert summary["changes"]["entities"]["revised"] == 1 and summary["changes"]["penalties"]["revised"] == 1
    after = snap(old)
    pd.testing.assert_frame_equal(after, before)
    assert before.loc[A, "town_code"] == "T01" and before.loc[A, "penalty_fine_yuan_in_effect"] == 60_000
    # the revision counts once its drop had arrived
    new = snap(date(2024, 7, 1))
    assert new.loc[A, "town_code"] == "T09" and new.loc[A, "entity_type"] == "joint_stock"
    assert new.loc[A, "registered_capital_yuan"] == 9_000_000
    assert (new.loc[A, "penalty_fine_yuan_in_effect"], new.loc[A, "penalty_serious_count_in_effect"]) == (90_000, 1)


def test_the_version_view_picks_the_version_current_at_as_of_among_several(wh):
    wh.con.execute("CREATE TABLE ingest_runs (ingest_id VARCHAR, as_of DATE)")
    wh.con.execute("INSERT INTO ingest_runs VALUES ('i1', DATE '2024-01-31'), ('i2', DATE '2024-03-31'), "
                   "('i3', DATE '2024-05-31')")
    for town, ingest_id, superseded in (("T1", "i1", "i2"), ("T2", "i2", "i3")):
        wh.entity(A, town_code=town)
        wh.con.execute("UPDATE entities SET _ingest_id = ?", [ingest_id])
        cols = ", ".join(f'"{r[0]}"' for r in wh.con.execute("DESCRIBE entities").fetchall())
        wh.con.execute(f"INSERT INTO entities_history ({cols}, _superseded_by) SELECT {cols}, ? FROM entities",
                       [superseded])
        wh.con.execute("DELETE FROM entities")
    wh.entity(A, town_code="T3")
    towns = {d: wh.snapshot(d).loc[A, "town_code"]
             for d in (date(2024, 3, 31), date(2024, 4, 1), date(2024, 5, 31), date(2024, 6, 1))}
    assert list(towns.values()) == ["T1", "T2", "T2", "T3"]
    assert wh.con.execute(f"SELECT COUNT(*) FROM {view_name('entities')}").fetchall() == [(1,)]


def test_feature_sql_reads_source_tables_only_through_their_point_in_time_views():
    import re

    from features.snapshot import SQL_DIR

    raw = re.compile(r"\b(?:FROM|JOIN)\s+(" + "|".join(SOURCES) + r")\b", re.IGNORECASE)
    offenders = [f"features/sql/{p.name}: {m.group(1)}" for p in sorted(SQL_DIR.glob("*.sql"))
                 for m in raw.finditer(p.read_text(encoding="utf-8"))]
    assert not offenders, ("feature SQL reads a source table directly; read _pit_<table> (features/versions.py) so "
                           "revisions that arrived after as_of stay out:\n  " + "\n  ".join(offenders))


def test_ingest_takes_result_labels_and_earlier_codes_and_quarantines_unknown_results(settings, tmp_path):
    from features.ingest import ingest
    from features.warehouse import connect

    inspections = pd.DataFrame({"inspection_id": ["I1", "I2", "I3", "I4"], "uscc": [A] * 4,
                                "inspection_date": ["2024-01-05"] * 4, "kind": ["random"] * 4,
                                "result": ["公示信息隐瞒真实情况弄虚作假", "发现问题已立案", "not_disclosed", "查无此项"]})
    summary = ingest(settings, _drop(tmp_path / "d", entities=_entities(), inspections=inspections),
                     as_of=date(2024, 1, 31))
    assert summary["quarantined"]["inspections"] == {"bad_enum": 1}
    con = connect(settings)
    try:
        got = dict(con.execute("SELECT inspection_id, result FROM inspections").fetchall())
        detail = con.execute("SELECT detail FROM quarantine WHERE table_name = 'inspections'").fetchall()[0][0]
    finally:
        con.close()
    assert got == {"I1": "false_disclosure", "I2": "case_opened", "I3": "not_disclosed"}
    assert "查无此项" in detail and "expected one of no_issue" in detail
