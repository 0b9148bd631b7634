"""Fixtures for repair tests: a small warehouse built in code, with one row per call."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.uscc import complete
from features.sources import SOURCES
from features.warehouse import connect, warehouse_columns


def code(n: int) -> str:
    """A valid credit code numbered ``n``."""
    return complete(f"9135010000{n:07d}")


class Warehouse:
    """Adds rows to the test home's warehouse; unspecified columns stay NULL."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._n = 0
        # kept open for the test: other connections in this process share the same database instance
        self.con = connect(settings)

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        names = [n for n, _ in warehouse_columns(SOURCES[table])]
        unknown = set(values) - set(names)
        assert not unknown, f"{table} has no columns {unknown}"
        cols = list(values)
        self.con.execute(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})',
                         list(values.values()))
        return values

    def entity(self, n: int = 1, *, entity_type: str = "limited_company") -> str:
        uscc = code(n)
        self.add("entities", uscc=uscc, name=f"测试企业{n}", entity_type=entity_type, industry_code="6110",
                 town_code="T01", established=date(2010, 1, 1), status="active")
        return uscc

    def penalty(self, uscc: str, *, decided: date, domain: str = "price", sanctions: str = "fine",
                fine: float | None = 100_000.0, paid: date | None = None, procedure: str = "ordinary",
                severity: str = "ordinary", publicity_end: date | None = None, pid: str | None = None,
                leniency: bool = False, restriction_end: date | None = None) -> str:
        self._n += 1
        pid = pid or f"PEN-{self._n:04d}"
        self.add("penalties", penalty_id=pid, uscc=uscc, decided_date=decided, domain=domain, procedure=procedure,
                 severity=severity, sanctions=sanctions, fine_amount=fine, fine_paid_date=paid, leniency=leniency,
                 publicity_end=publicity_end, restriction_end=restriction_end, known_date=decided)
        return pid

    def abnormal(self, uscc: str, *, listed: date, reason: str = "no_annual_report",
                 removed: date | None = None, lid: str | None = None) -> str:
        self._n += 1
        lid = lid or f"AB-{self._n:04d}"
        self.add("abnormal_list", listing_id=lid, uscc=uscc, listed_date=listed, reason=reason,
                 removed_date=removed, known_date=listed)
        return lid

    def serious(self, uscc: str, *, listed: date, penalty_id: str | None = None, domain: str = "food",
                removed: date | None = None, lid: str | None = None) -> str:
        self._n += 1
        lid = lid or f"SL-{self._n:04d}"
        self.add("serious_list", listing_id=lid, uscc=uscc, listed_date=listed, domain=domain,
                 penalty_id=penalty_id, removed_date=removed, known_date=listed)
        return lid

    def report(self, uscc: str, *, year: int, filed: date | None) -> None:
        self.add("annual_reports", uscc=uscc, year=year, filed_date=filed, known_date=filed)

    def change(self, uscc: str, *, item: str, on: date) -> None:
        self._n += 1
        self.add("changes", change_id=f"CH-{self._n:04d}", uscc=uscc, change_date=on, item=item, known_date=on)


@pytest.fixture
def wh(settings):
    w = Warehouse(settings)
    yield w
    w.con.close()


@pytest.fixture
def db_wh(db_settings):
    """The warehouse of a home whose operational DB is SQLite or PostgreSQL."""
    w = Warehouse(db_settings)
    yield w
    w.con.close()
