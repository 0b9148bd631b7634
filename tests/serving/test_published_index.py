"""The service's published scores are read by key from the operational DB: one whole publication at a time,
the newer one only once it is marked published, and nothing held per entity in memory."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import sqlalchemy as sa

from core import uscc as uscc_check
from core.opdb import engine
from serving.outcomes import CodeLookup
from serving.publish import PUBLICATIONS, PUBLISHED_SCORES
from serving.runtime import PublishedIndex

UNKNOWN = uscc_check.complete("91522228MA9999999")
CODES = [uscc_check.complete(f"91522228MA{i:07d}") for i in range(700)]  # more than one 512-code chunk


def _publication(conn, pub_id: str, as_of: date, *, status: str, tier: str, rows: int = len(CODES)) -> None:
    conn.execute(sa.insert(PUBLICATIONS).values(
        publication_id=pub_id, as_of=as_of, model_version="m1", snapshot_id="s", status=status,
        entity_count=rows, created_at=datetime.now(UTC), created_by="test"))
    conn.execute(sa.insert(PUBLISHED_SCORES), [
        {"publication_id": pub_id, "uscc": u, "probability": i / 1000, "tier": tier,
         "reasons": json.dumps([{"code": f"r{i}"}]), "town_code": "t", "industry_code": "6110",
         "entity_type": "individual"} for i, u in enumerate(CODES[:rows])])


def test_a_publication_is_served_whole_and_swapped_only_once_published(db_settings):
    settings = db_settings
    eng = engine(settings)
    with eng.begin() as conn:
        _publication(conn, "pub-a", date(2026, 1, 1), status="published", tier="A")
    index = PublishedIndex(settings)
    index.refresh()
    pub, found = index.fragments([CODES[5], CODES[650], CODES[5], UNKNOWN])
    assert pub["publication_id"] == "pub-a" and set(found) == {CODES[5], CODES[650]}
    item = json.loads(found[CODES[650]])
    assert item["tier"] == "A" and item["probability"] == 0.65 and item["reasons"] == [{"code": "r650"}]
    assert item["publication_id"] == "pub-a" and item["status"] == "scored"
    assert set(vars(index)) >= {"_state"} and all(not isinstance(v, dict) or len(v) < 10 for v in vars(index).values())

    with eng.begin() as conn:  # a newer publication half written: not served
        _publication(conn, "pub-b", date(2026, 2, 1), status="publishing", tier="D", rows=300)
    index.refresh()
    pub, found = index.fragments(CODES)
    assert pub["publication_id"] == "pub-a" and len(found) == len(CODES)
    assert {json.loads(f)["tier"] for f in found.values()} == {"A"}

    with eng.begin() as conn:  # completed: the whole of it, and only it, from the next refresh on
        conn.execute(sa.insert(PUBLISHED_SCORES), [
            {"publication_id": "pub-b", "uscc": u, "probability": 0.5, "tier": "D", "reasons": "[]"}
            for u in CODES[300:]])
        conn.execute(sa.update(PUBLICATIONS).where(PUBLICATIONS.c.publication_id == "pub-b").values(status="published"))
    index.refresh()
    pub, found = index.fragments(CODES)
    assert pub["publication_id"] == "pub-b" and len(found) == len(CODES)
    assert {json.loads(f)["tier"] for f in found.values()} == {"D"}
    assert {json.loads(f)["publication_id"] for f in found.values()} == {"pub-b"}

    fragments, counts = CodeLookup(settings, index).outcomes([CODES[1], UNKNOWN, "123"])
    assert counts == {"scored": 1, "unknown_code": 1, "invalid_code": 1}
    assert json.loads(fragments[0])["uscc"] == CODES[1]
