"""The source contract is coherent: keys, dates, enums and personal columns declared once and consistently."""

import pytest

from features import warehouse
from features.sources import PERSON_KEY_COLUMN, SOURCES


@pytest.mark.parametrize("table", list(SOURCES.values()), ids=list(SOURCES))
def test_every_table_declares_required_keys_an_event_date_and_known_date(table):
    assert table.key and all(table.column(k).required for k in table.key)
    assert table.event_date and table.column(table.event_date).kind == "date"
    assert table.column("known_date").kind == "date"
    assert len(set(table.names)) == len(table.names)
    assert table.zh and table.en and all(c.zh and c.en for c in table.columns)


@pytest.mark.parametrize("table", list(SOURCES.values()), ids=list(SOURCES))
def test_tables_referencing_entities_carry_a_required_credit_code(table):
    if table.references_entities:
        assert table.column("uscc").kind == "uscc" and table.column("uscc").required


def test_only_relations_hold_personal_columns_and_none_reach_the_warehouse():
    personal = {t.name: t.personal for t in SOURCES.values() if t.personal}
    assert personal == {"relations": ["person_name", "person_id_number"]}
    for table in SOURCES.values():
        stored = [name for name, _ in warehouse.warehouse_columns(table)]
        assert not set(stored) & set(table.personal)
    assert PERSON_KEY_COLUMN in [n for n, _ in warehouse.warehouse_columns(SOURCES["relations"])]


def test_warehouse_tables_match_the_contract(settings):
    con = warehouse.connect(settings)
    try:
        for table in SOURCES.values():
            got = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_name = ? ORDER BY ordinal_position", [table.name]).fetchall()
            expected = warehouse.warehouse_columns(table) + warehouse.LINEAGE_COLUMNS
            assert [(n, t) for n, t in got] == expected
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE ?",
                [table.name + "%"]).fetchall()]
            assert f"{table.name}_history" in names
        for name in ("quarantine", "ingest_runs"):
            assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                               [name]).fetchall() == [(1,)]
    finally:
        con.close()
