"""The tier list (``serving.lookup.tier_list``) equals a plain reading of the publication and its overrides for
every filter, page and search, with overrides moving entities into and out of the filtered tier."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from core import uscc as uscc_check
from core.opdb import engine
from core.settings import Settings
from serving.lookup import iter_tier_list, tier_list
from serving.overrides import OVERRIDES
from serving.publish import PUBLICATIONS, PUBLISHED_SCORES
from tests.conftest import PG_URL, _fresh_pg_database

TODAY = date(2026, 1, 15)
UNKNOWN = uscc_check.complete("91522228MA9999999")
TOWNS, INDUSTRIES, TYPES = ("t1", "t2", "t3"), ("6110", "5211"), ("limited_company", "individual")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def home(request, tmp_path_factory):
    """A publication of 400 entities (ties in probability included) and 30 overrides: active, revoked, expired;
    on SQLite, and on a fresh PostgreSQL database when a server is given."""
    settings = Settings.from_env(tmp_path_factory.mktemp("tierlist"))
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("set CREDIT_RISK_TEST_PG_URL to run the PostgreSQL variant")
        url, drop = _fresh_pg_database()
        request.addfinalizer(drop)
        settings = dataclasses.replace(settings, db_url=url)
    rng = random.Random(5)
    rows = []
    for i in range(400):
        code = uscc_check.complete(f"91522228MA{i:07d}")
        rows.append({"publication_id": "pub-t", "uscc": code, "probability": round(rng.random(), 2),
                     "tier": rng.choice("ABCD"), "reasons": "[]", "town_code": rng.choice(TOWNS),
                     "industry_code": rng.choice(INDUSTRIES), "entity_type": rng.choice(TYPES)})
    now = datetime.now(UTC)
    overrides = []
    for j, r in enumerate(rng.sample(rows, 30)):
        kind = ("active", "active", "revoked", "expired")[j % 4]
        overrides.append({"uscc": r["uscc"], "tier": rng.choice("ABCD"), "reason": "test override reason",
                          "created_by": "test", "created_at": now,
                          "expires_on": TODAY - timedelta(days=1) if kind == "expired" else TODAY + timedelta(days=30),
                          "revoked_at": now if kind == "revoked" else None})
    with engine(settings).begin() as conn:
        conn.execute(sa.insert(PUBLICATIONS).values(
            publication_id="pub-t", as_of=date(2026, 1, 1), model_version="1", snapshot_id="s", status="published",
            entity_count=len(rows), tier_counts=json.dumps({}), created_at=now, created_by="test"))
        conn.execute(sa.insert(PUBLISHED_SCORES), rows)
        conn.execute(sa.insert(OVERRIDES), overrides)
    active = {o["uscc"]: o["tier"] for o in overrides if o["revoked_at"] is None and o["expires_on"] >= TODAY}
    return settings, rows, active


def _expected(rows, active, *, tier=None, town_code=None, industry_code=None, entity_type=None, usccs=None):
    out = []
    for r in rows:
        current = active.get(r["uscc"], r["tier"])
        if ((tier is None or current == tier) and (town_code is None or r["town_code"] == town_code)
                and (industry_code is None or r["industry_code"] == industry_code)
                and (entity_type is None or r["entity_type"] == entity_type)
                and (usccs is None or r["uscc"] in usccs)):
            out.append((r["uscc"], current, r["uscc"] in active))
    return sorted(out, key=lambda x: (-next(r["probability"] for r in rows if r["uscc"] == x[0]), x[0]))


FILTERS = [{}, {"tier": "D"}, {"tier": "A", "town_code": "t2"}, {"town_code": "t1"}, {"industry_code": "5211"},
           {"entity_type": "individual", "tier": "B"}, {"tier": "C", "town_code": "t3", "industry_code": "6110",
                                                        "entity_type": "limited_company"}]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
@pytest.mark.parametrize("page_size", [7, 50])
def test_every_page_of_a_filtered_list_is_the_plain_reading(home, filters, page_size):
    settings, rows, active = home
    want = _expected(rows, active, **filters)
    got = []
    with engine(settings).connect() as conn:
        page = 1
        while True:
            result = tier_list(conn, page=page, page_size=page_size, today=TODAY, **filters)
            assert result["total"] == len(want)
            if not result["items"]:
                break
            got += [(i["uscc"], i["tier"], i["overridden"]) for i in result["items"]]
            page += 1
    assert got == want
    assert any(o for *_, o in want) or filters  # the overrides do take part in the unfiltered list


def test_a_search_lists_its_hits_by_risk_with_their_current_tier(home):
    settings, rows, active = home
    hits = [r["uscc"] for r in rows[::9]] + list(active)[:3] + [UNKNOWN]
    for filters in ({}, {"tier": "B"}, {"town_code": "t2"}):
        want = _expected(rows, active, usccs=set(hits), **filters)
        with engine(settings).connect() as conn:
            result = tier_list(conn, page=1, page_size=1000, today=TODAY, usccs=hits, **filters)
        assert result["total"] == len(want)
        assert [(i["uscc"], i["tier"], i["overridden"]) for i in result["items"]] == want


@pytest.mark.parametrize("filters", [{}, {"tier": "D"}, {"tier": "A", "town_code": "t2"}], ids=["all", "D", "A,t2"])
def test_the_streamed_export_is_the_whole_filtered_list_in_order(home, filters):
    settings, rows, active = home
    with engine(settings).connect() as conn:
        pub = conn.execute(sa.select(PUBLICATIONS)).mappings().one()
        chunks = list(iter_tier_list(conn, pub, today=TODAY, chunk=37, **filters))
    assert all(0 < len(c) <= 37 for c in chunks)
    assert [(i["uscc"], i["tier"], i["overridden"]) for c in chunks for i in c] == _expected(rows, active, **filters)
