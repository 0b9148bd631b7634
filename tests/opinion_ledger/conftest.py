"""Ledger fixtures: a home whose warehouse holds a few opinion items, one published on a Friday evening."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.settings import Settings
from core.uscc import complete

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 2026-11-27 19:30 in Asia/Shanghai (11:30 UTC); the deadline is Sunday 2026-11-29 19:30 (+08:00)
FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30, tzinfo=SHANGHAI)
BIG, SMALL, QUIET = (complete(f"91350100{i:09d}") for i in (71, 72, 73))


def add_items(settings: Settings) -> None:
    """Items: a vendor-negative one with a large reach (Friday evening), a vendor-negative one with a small reach
    (opens nothing), a classifier-scored negative one without a vendor label, and a neutral one."""
    from features import opinions, warehouse

    con = warehouse.connect(settings)
    try:
        rows = [
            ("YQ-FRI", date(2026, 11, 27), "2026-11-27T19:30:00+08:00", "某酒店被曝卫生问题", BIG, "negative", 50_000),
            ("YQ-SMALL", date(2026, 11, 26), None, "小店服务差评", SMALL, "negative", 30),
            ("YQ-CLF", date(2026, 11, 25), "2026-11-25 08:00", "网友反映食品变质", QUIET, None, 200),
            ("YQ-NEU", date(2026, 11, 24), None, "新店开业", QUIET, "neutral", 90_000),
        ]
        for oid, day, at, title, code, sentiment, reach in rows:
            con.execute("INSERT INTO opinions (opinion_id, published_date, published_at, source, title, text, uscc, "
                        "vendor_sentiment, reach, known_date) VALUES (?, ?, ?, 'news', ?, ?, ?, ?, ?, ?)",
                        [oid, day, at, title, title, code, sentiment, reach, day])
        con.execute(f"CREATE TABLE IF NOT EXISTS {opinions.SCORES_TABLE} "
                    "(opinion_id VARCHAR, negative_probability DOUBLE, model_id VARCHAR)")
        con.execute(f"INSERT INTO {opinions.SCORES_TABLE} VALUES ('YQ-CLF', 0.93, 'test')")
    finally:
        con.close()


@pytest.fixture
def ledger_home(db_settings) -> Settings:
    add_items(db_settings)
    return db_settings
