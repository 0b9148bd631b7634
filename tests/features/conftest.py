"""Feature-pipeline fixtures: a small hand-built DuckDB warehouse with helpers to add rows and build snapshots."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from core.uscc import complete
from features.sources import SOURCES
from features.warehouse import create_source_tables


def code(i: int) -> str:
    """A valid credit code numbered ``i``."""
    return complete(f"91350100{i:09d}")


class Warehouse:
    """Insert rows by keyword; ``known_date`` defaults to the table's event date, as ingest fills it."""

    _ids = 0

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def add(self, table: str, **values) -> dict:
        if table in SOURCES:
            event = SOURCES[table].event_date
            if "known_date" not in values and event and values.get(event) is not None:
                values["known_date"] = values[event]
            key = SOURCES[table].key
            if len(key) == 1 and key[0] not in values and key[0] != "uscc":
                Warehouse._ids += 1
                values[key[0]] = f"{table[:3]}-{Warehouse._ids}"
        cols = ", ".join(f'"{c}"' for c in values)
        marks = ", ".join("?" for _ in values)
        self.con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(values.values()))
        return values

    def entity(self, uscc: str, **kw) -> dict:
        row = {"uscc": uscc, "name": f"企业{uscc[-6:]}", "entity_type": "limited_company", "industry_code": "6210",
               "town_code": "T01", "address": f"地址{uscc[-6:]}", "registered_capital": 1_000_000.0,
               "established": date(2015, 3, 1), "status": "active"}
        row.update(kw)
        return self.add("entities", **row)

    def snapshot(self, as_of: date, **kw) -> pd.DataFrame:
        from features.snapshot import build_snapshot

        return build_snapshot(self.con, as_of=as_of, **kw).frame.set_index("uscc")


@pytest.fixture
def wh(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_source_tables(con)
    yield Warehouse(con)
    con.close()
