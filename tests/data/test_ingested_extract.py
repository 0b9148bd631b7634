"""Checks on an ingested extract (a small simulated district): schema, ranges and referential integrity."""

from datetime import date

import duckdb
import pytest

from core import rules, uscc
from features.sources import SOURCES

synth = pytest.importorskip("synth")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A read-only connection to the warehouse of a freshly ingested small district, and its as-of date."""
    from core.settings import Settings
    from features.ingest import ingest

    root = tmp_path_factory.mktemp("extract")
    synth.generate(root / "drop", entities=200, seed=3)
    settings = Settings.from_env(root / "home")
    summary = ingest(settings, root / "drop")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    yield con, date.fromisoformat(summary["as_of"])
    con.close()


def _one(con, sql):
    return con.execute(sql).fetchall()[0][0]


@pytest.mark.parametrize("table", list(SOURCES.values()), ids=list(SOURCES))
def test_required_columns_and_known_date_are_filled_and_keys_unique(warehouse, table):
    con, _ = warehouse
    for column in [c.name for c in table.columns if c.required] + ["known_date"]:
        assert _one(con, f'SELECT count(*) FROM "{table.name}" WHERE "{column}" IS NULL') == 0, column
    keys = ", ".join(table.key)
    assert _one(con, f'SELECT count(*) FROM (SELECT {keys} FROM "{table.name}" GROUP BY {keys} '
                     "HAVING count(*) > 1)") == 0


@pytest.mark.parametrize("table", list(SOURCES.values()), ids=list(SOURCES))
def test_enum_list_and_date_values_are_within_the_contract(warehouse, table):
    con, as_of = warehouse
    cfg = rules.load("ingest")["dates"]
    for c in table.columns:
        if c.kind == "enum":
            allowed = ", ".join(f"'{v}'" for v in c.values)
            assert _one(con, f'SELECT count(*) FROM "{table.name}" WHERE "{c.name}" NOT IN ({allowed})') == 0
        elif c.kind == "list":
            allowed = "[" + ", ".join(f"'{v}'" for v in c.values) + "]"
            assert _one(con, f'SELECT count(*) FROM "{table.name}" WHERE NOT list_has_all({allowed}, '
                             f'string_split("{c.name}", \';\'))') == 0
        elif c.kind == "date":
            latest = "DATE '9999-12-31'" if f"{table.name}.{c.name}" in cfg["may_be_future"] else f"DATE '{as_of}'"
            assert _one(con, f'SELECT count(*) FROM "{table.name}" WHERE "{c.name}" < DATE '
                             f"'{cfg['earliest']}' OR \"{c.name}\" > {latest}") == 0, c.name


def test_amounts_and_ratios_are_in_range(warehouse):
    con, _ = warehouse
    for key, bounds in rules.load("ingest")["ranges"].items():
        table, column = key.split(".")
        if "min" in bounds:
            assert _one(con, f'SELECT count(*) FROM "{table}" WHERE "{column}" < {bounds["min"]}') == 0, key
        if isinstance(bounds.get("max"), (int, float)):
            assert _one(con, f'SELECT count(*) FROM "{table}" WHERE "{column}" > {bounds["max"]}') == 0, key


def test_every_credit_code_is_valid_and_known(warehouse):
    con, _ = warehouse
    codes = [c for (c,) in con.execute("SELECT uscc FROM entities").fetchall()]
    assert codes and all(uscc.is_valid(c) for c in codes)
    for table in SOURCES.values():
        if table.references_entities:
            orphans = _one(con, f'SELECT count(*) FROM "{table.name}" t WHERE NOT EXISTS '
                                "(SELECT 1 FROM entities e WHERE e.uscc = t.uscc)")
            assert orphans == 0, table.name
    related = [c for (c,) in con.execute("SELECT related_uscc FROM relations WHERE related_uscc IS NOT NULL "
                                         "UNION SELECT parent_uscc FROM entities WHERE parent_uscc IS NOT NULL")
               .fetchall()]
    assert all(uscc.is_valid(c) for c in related)


def test_opinion_codes_agree_with_their_match_method(warehouse):
    con, _ = warehouse
    rows = dict(con.execute("SELECT match_method, count(*) FROM opinions GROUP BY 1").fetchall())
    assert set(rows) <= {"vendor", "name_exact", "unmatched"} and rows.get("vendor", 0) > 0
    assert _one(con, "SELECT count(*) FROM opinions WHERE (match_method = 'unmatched') <> (uscc IS NULL)") == 0


def test_relations_carry_person_keys_not_personal_columns(warehouse):
    con, _ = warehouse
    columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = 'relations'").fetchall()}
    assert "person_key" in columns and not columns & {"person_name", "person_id_number"}
    persons = _one(con, "SELECT count(*) FROM relations WHERE relation_type IN ('legal_rep', 'shareholder', "
                        "'executive') AND person_key IS NULL")
    assert persons == 0
