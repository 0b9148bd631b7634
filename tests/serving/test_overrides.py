"""Manual overrides: need a reason and an expiry, replace each other, expire, are audited; tier list applies them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.audit import entries
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from serving.lookup import entity_view, tier_list
from serving.overrides import list_overrides, revoke_override, set_override
from serving.publish import publish

TODAY = date(2026, 11, 25)


@pytest.fixture
def published(db_settings, toy, snap):
    model, frame = toy
    s = snap(frame, 0)
    publish(db_settings, as_of=s.as_of, actor="test", model=model, snapshot=s)
    scores = model.score(s.frame)
    return db_settings, scores


def test_an_active_override_is_the_current_tier_until_it_expires(published):
    settings, scores = published
    row = scores[scores["tier"] == "A"].iloc[0]
    r = set_override(settings, uscc=row["uscc"], tier="D", reason="现场检查发现重大安全隐患",
                     expires_on=TODAY + timedelta(days=10), actor="planner-1", today=TODAY)
    with engine(settings).connect() as conn:
        now = entity_view(conn, row["uscc"], today=TODAY)
        later = entity_view(conn, row["uscc"], today=TODAY + timedelta(days=11))
        d_list = tier_list(conn, tier="D", page_size=1000, today=TODAY)
        audit = entries(conn, action="override.set", subject=row["uscc"])
    assert now["current"]["tier"] == "D" and now["current"]["source"] == "override"
    assert now["published"]["tier"] == "A"
    assert later["current"]["tier"] == "A" and later["current"]["source"] == "publication"
    assert any(i["uscc"] == row["uscc"] and i["overridden"] for i in d_list["items"])
    assert audit[0]["actor"] == "planner-1" and audit[0]["inputs"]["override_id"] == r["override_id"]
    assert "现场检查" not in str(audit)  # the free-text reason stays out of the audit log


def test_a_new_override_replaces_the_active_one_and_revoking_ends_it(published):
    settings, scores = published
    code = scores["uscc"].iloc[0]
    first = set_override(settings, uscc=code, tier="C", reason="投诉集中待核查", expires_on=TODAY + timedelta(days=5),
                         actor="p", today=TODAY)
    second = set_override(settings, uscc=code, tier="D", reason="抽查发现问题", expires_on=TODAY + timedelta(days=5),
                          actor="p", today=TODAY)
    assert second["replaced"] == [first["override_id"]]
    assert [o["override_id"] for o in list_overrides(settings, today=TODAY)] == [second["override_id"]]
    revoke_override(settings, override_id=second["override_id"], actor="p")
    assert list_overrides(settings, today=TODAY) == []
    with pytest.raises(Conflict):
        revoke_override(settings, override_id=second["override_id"], actor="p")
    with pytest.raises(NotFound):
        revoke_override(settings, override_id=999_999, actor="p")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"reason": "  "}, "reason"),
    ({"tier": "E"}, "tier"),
    ({"expires_on": TODAY - timedelta(days=1)}, "expires_on"),
    ({"expires_on": TODAY + timedelta(days=4000)}, "expires_on"),
    ({"uscc": "91350100M000100Y44"}, "uscc"),
])
def test_an_override_needs_a_reason_a_known_tier_and_a_bounded_expiry(published, kwargs, field):
    settings, scores = published
    args = {"uscc": scores["uscc"].iloc[0], "tier": "D", "reason": "现场检查发现问题",
            "expires_on": TODAY + timedelta(days=30), **kwargs}
    with pytest.raises(UserError, match=f"^{field}"):
        set_override(settings, actor="p", today=TODAY, **args)


def test_only_published_entities_can_be_overridden(published):
    settings, _ = published
    with pytest.raises(NotFound, match="no publication"):
        set_override(settings, uscc="91350100M000100Y43", tier="D", reason="现场检查发现问题",
                     expires_on=TODAY + timedelta(days=3), actor="p", today=TODAY)
