"""The 舆情台账 outcomes in the opinion features: verified counts more than unverified, unfounded not at all,
each from the day the outcome was decided and known (hand-computed fixture)."""

from __future__ import annotations

import math
from datetime import date

import pytest

from tests.features.conftest import code

AS_OF = date(2024, 7, 15)
A = code(41)


def test_verified_items_weigh_more_than_unverified_and_unfounded_ones_stop_counting(wh):
    wh.entity(A)
    op = dict(source="news", title="标题", text="正文", uscc=A, vendor_sentiment="negative")
    verified = wh.add("opinions", **op, published_date=date(2024, 5, 1), reach=99)
    unfounded = wh.add("opinions", **op, published_date=date(2024, 5, 2), reach=999)
    wh.add("opinions", **op, published_date=date(2024, 5, 3), reach=0)  # never handled: unverified
    late = wh.add("opinions", **op, published_date=date(2024, 5, 4), reach=0)  # verified, known only after as_of
    wh.add("opinion_handling", opinion_id=verified["opinion_id"], uscc=A, outcome="verified",
           decided_date=date(2024, 5, 3))
    wh.add("opinion_handling", opinion_id=unfounded["opinion_id"], uscc=A, outcome="unfounded",
           decided_date=date(2024, 5, 4))
    wh.add("opinion_handling", opinion_id=late["opinion_id"], uscc=A, outcome="verified",
           decided_date=date(2024, 7, 1), known_date=date(2024, 7, 20))
    a = wh.snapshot(AS_OF).loc[A]
    # negative: the verified, the never-handled and the late one (3); the unfounded one no more
    assert a["opinion_negative_count_365d"] == 3
    assert a["opinion_negative_reach_weighted_365d"] == pytest.approx(math.log(100))
    assert a["opinion_verified_negative_count_365d"] == 1
    # weights (core/rules/opinion_ledger.toml): verified 1.0 + two unverified 0.5 each + unfounded 0.0
    assert a["opinion_negative_handled_weighted_365d"] == pytest.approx(1.0 + 0.5 + 0.5)
    # before the verification was decided, the same item weighs as unverified
    before = wh.snapshot(date(2024, 5, 3)).loc[A]
    assert before["opinion_verified_negative_count_365d"] == 0
    assert before["opinion_negative_handled_weighted_365d"] == pytest.approx(0.5 * 2)
    # after the late outcome is known it counts
    later = wh.snapshot(date(2024, 7, 21)).loc[A]
    assert later["opinion_verified_negative_count_365d"] == 2
