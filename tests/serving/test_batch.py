"""Batch lookups as real clients make them: one outcome per item, in order, through BentoML's own clients
(sync and async, token auth) and plain httpx; a 10,000-code mixed batch answers 200 in under a second."""

from __future__ import annotations

import asyncio
import time

import bentoml
import httpx
import numpy as np
import pytest

from core import uscc as uscc_check


def _published(served) -> list[str]:
    newest = served.frame[served.frame["as_of"] == served.frame["as_of"].max()]
    return sorted(set(newest["uscc"]) - set(served.closed))


def _unknown(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [uscc_check.complete("91" + "".join(rng.choice(list("0123456789"), 15))) for _ in range(n)]


def _bad_check(codes: list[str]) -> list[str]:
    return [c[:17] + ("0" if c[17] != "0" else "1") for c in codes]


def _record(served) -> dict:
    row = served.frame[served.frame["as_of"] == served.frame["as_of"].max()].iloc[0]
    record = {n: (None if isinstance(row[n], float) and row[n] != row[n] else row[n])
              for n in served.model.feature_names}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}


def test_mixed_batch_gives_one_outcome_per_item_in_order_with_status_and_last_tier(served):
    published = _published(served)[:3]
    closed = served.closed[:2]
    unknown = _unknown(2, seed=1)
    bad = _bad_check(published[:1])
    items = [{"uscc": c} for c in [published[0], closed[0], unknown[0], bad[0], published[1], closed[1],
                                    unknown[1], "9135"]] + [{"features": _record(served)}]
    with httpx.Client(base_url=served.url, timeout=30) as client:
        r = client.post("/score", json={"items": items}, headers=served.headers("planner"))
    assert r.status_code == 200, r.text
    body = r.json()
    out = body["items"]
    assert [o["status"] for o in out] == ["scored", "not_in_publication", "unknown_code", "invalid_code", "scored",
                                          "not_in_publication", "unknown_code", "invalid_code", "scored"]
    assert [o["uscc"] for o in out[:8]] == [i["uscc"] for i in items[:8]]
    assert body["counts"] == {"scored": 3, "not_in_publication": 2, "unknown_code": 2, "invalid_code": 2}
    gone = out[1]
    assert gone["entity_status"] == "deregistered" and gone["entity_status_zh"] == "注销"
    assert gone["last_tier"] in "ABCD" and gone["last_as_of"] == served.publications[0]["as_of"].isoformat()
    assert gone["publication_id"] == served.publications[-1]["publication_id"]
    expected = uscc_check.check_character(bad[0][:17])
    assert out[3]["expected_check_character"] == expected
    assert f"expected {expected}, got {bad[0][17]}" in out[3]["message"]
    assert out[8]["source"] == "live" and out[8]["uscc"] is None


def test_ten_thousand_codes_with_closed_unknown_and_bad_ones_answer_200_in_under_a_second(served):
    rng = np.random.default_rng(7)
    published = _published(served)
    codes = list(rng.choice(published, 9_700))
    codes += [served.closed[i % len(served.closed)] for i in range(100)]
    codes += _unknown(100, seed=2) + _bad_check(list(rng.choice(published, 100)))
    order = rng.permutation(len(codes))
    items = [{"uscc": str(codes[i])} for i in order]
    best = float("inf")
    with httpx.Client(base_url=served.url, timeout=60) as client:
        for _ in range(3):  # the machine is shared: the best of three
            t0 = time.perf_counter()
            r = client.post("/score", json={"items": items}, headers=served.headers("planner"))
            best = min(best, time.perf_counter() - t0)
            assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert len(body["items"]) == 10_000
    assert [o["uscc"] for o in body["items"]] == [i["uscc"] for i in items]
    assert body["counts"] == {"scored": 9_700, "not_in_publication": 100, "unknown_code": 100, "invalid_code": 100}
    assert best < 1.0, f"best of 3: {best:.2f} s"


def test_bentoml_sync_client_with_a_token_gets_per_item_outcomes_and_a_clear_4xx_when_oversized(served):
    published, closed = _published(served), served.closed
    with bentoml.SyncHTTPClient(served.url, token=served.keys["planner"]) as client:
        result = client.score(items=[{"uscc": published[0]}, {"uscc": closed[0]}, {"features": _record(served)}])
        assert [o["status"] for o in result["items"]] == ["scored", "not_in_publication", "scored"]
        assert result["items"][2]["source"] == "live"
        with pytest.raises(bentoml.exceptions.BentoMLException) as err:
            client.score(items=[{"uscc": published[0]}] * 10_001)
    assert err.value.error_code == 400 and "at most 10000 items" in str(err.value)


def test_bentoml_async_client_with_a_token_scores_concurrent_batches(served):
    published = _published(served)

    async def main():
        async with bentoml.AsyncHTTPClient(served.url, token=served.keys["model_operator"]) as client:
            return await asyncio.gather(*(client.score(items=[{"uscc": c} for c in published[i:i + 50]])
                                          for i in range(0, 200, 50)))

    results = asyncio.run(main())
    assert [o["uscc"] for r in results for o in r["items"]] == published[:200]
    assert all(o["status"] == "scored" for r in results for o in r["items"])
