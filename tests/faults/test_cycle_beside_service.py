"""A monthly cycle with a drop runs beside the service under load: the cycle succeeds, the service never 5xx;
a second cycle of the same month is refused (naming the running one) or, with --wait, waits for it."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date

import httpx
import pytest

from core import locks
from features import warehouse

pytestmark = pytest.mark.slow  # a real service and real cycles: about a minute each

CYCLE_AS_OF = "2025-02-01"


@dataclass
class Outcome:
    codes: Counter  # (endpoint, status) -> calls
    errors: list[str]
    first: dict  # cycle A: returncode, stdout, stderr, pid
    refused: dict  # cycle B (same month, no --wait)
    waited: dict  # cycle C (same month, --wait)
    generations: tuple[int, int]  # the service's warehouse copy before and after
    eligibility_after: int


def _targets(settings):
    """Entities with records for the repair calls: (uscc, eligible penalty id or None), and an abnormal listing."""
    from repair import eligibility

    con = warehouse.reader(settings)
    try:
        usccs = [r[0] for r in con.execute("SELECT DISTINCT uscc FROM penalties ORDER BY uscc LIMIT 40").fetchall()]
        listing = con.execute("SELECT uscc, listing_id FROM abnormal_list ORDER BY listed_date DESC LIMIT 1").fetchall()
        pairs = []
        for u in usccs:
            ok = [c.record_id for c in eligibility.evaluate(con, u, as_of=date.today())
                  if c.eligible_now and c.record_kind == "penalty"]
            pairs.append((u, ok[0] if ok else None))
    finally:
        con.close()
    return pairs, (listing[0] if listing else None)


def _load(svc, pairs, listing, stop: threading.Event, codes: Counter, errors: list[str], seed: int) -> None:
    docs = {"application": "APP", "commitment": "COM", "proof": "PRF"}
    i = seed
    with httpx.Client(base_url=svc.url, timeout=60) as client:
        while not stop.is_set():
            u, record = pairs[i % len(pairs)]
            calls = [
                ("eligibility", "GET", f"/v1/repair/eligibility/{u}", "repair_officer", None),
                ("whatif", "GET", f"/v1/repair/whatif/{u}", "repair_officer", None),
                ("score", "POST", "/score", "planner", {"items": [{"uscc": u}]}),
                ("plan", "POST", "/v1/inspection/plans", "planner",  # a few periods: the district is small
                 {"period": f"2025-T{i % 3}", "capacity": 20, "seed": 7}),
            ]
            if record:
                calls.append(("case", "POST", "/v1/repair/cases", "repair_officer",
                              {"uscc": u, "record_id": record, "documents": docs}))
            if listing:
                calls.append(("objection", "POST", "/v1/repair/objections", "repair_officer",
                              {"uscc": listing[0], "listing_id": listing[1]}))
            for name, method, path, role, body in calls:
                if stop.is_set():
                    break
                try:
                    r = client.request(method, path, json=body, headers=svc.headers(role))
                    codes[(name, r.status_code)] += 1
                    if r.status_code >= 500:
                        errors.append(f"{name} {r.status_code}: {r.text[:300]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{name}: {type(exc).__name__} {exc}")
            i += 7


@pytest.fixture(scope="module")
def outcome(district, serve, tmp_path_factory) -> Outcome:
    """Run it once: the service under load; cycle A with the drop; B and C for the same month meanwhile."""
    settings = district.home(tmp_path_factory.mktemp("beside"))
    pairs, listing = _targets(settings)
    drop = district.drop("2025-01")
    svc = serve(settings)
    try:
        generation_before = warehouse.current_copy(settings)["generation"]
        codes: Counter = Counter()
        errors: list[str] = []
        stop = threading.Event()
        threads = [threading.Thread(target=_load, args=(svc, pairs, listing, stop, codes, errors, k))
                   for k in range(3)]
        for t in threads:
            t.start()
        time.sleep(2)  # the service is under load before the cycle starts
        a = district.cycle(settings.home, CYCLE_AS_OF, drop=str(drop))
        deadline = time.time() + 60
        while locks.holder(settings.home, "cycle") is None:
            assert a.poll() is None and time.time() < deadline, "cycle A never took the cycle lock"
            time.sleep(0.1)
        b = district.cycle(settings.home, CYCLE_AS_OF, drop=str(drop))
        b_out, b_err = b.communicate(timeout=60)
        c = district.cycle(settings.home, CYCLE_AS_OF, "--wait")
        a_out, a_err = a.communicate(timeout=240)
        c_out, c_err = c.communicate(timeout=120)
        time.sleep(1)  # a little load after the cycle too: the service moves to the new copy
        stop.set()
        for t in threads:
            t.join(timeout=120)
        generation_after = warehouse.current_copy(settings)["generation"]
        u = pairs[0][0]
        after = httpx.get(f"{svc.url}/v1/repair/eligibility/{u}", headers=svc.headers("repair_officer"), timeout=30)
        return Outcome(codes, errors, {"rc": a.returncode, "out": a_out, "err": a_err, "pid": a.pid},
                       {"rc": b.returncode, "out": b_out, "err": b_err}, {"rc": c.returncode, "out": c_out, "err": c_err},
                       (generation_before, generation_after), after.status_code)
    finally:
        svc.stop()


def test_the_cycle_with_a_drop_succeeds_while_the_service_is_under_load(outcome):
    assert outcome.first["rc"] == 0, outcome.first["err"][-3000:]
    result = json.loads(outcome.first["out"])
    assert result["as_of"] == CYCLE_AS_OF and result["published"]["entities"] > 100
    assert result["versions"]["ingest_id"]  # the drop was ingested
    assert outcome.generations[1] > outcome.generations[0]  # and the service's copy moved on


def test_the_service_answers_every_call_without_a_5xx_during_the_cycle(outcome):
    print("calls by (endpoint, status):", dict(sorted(outcome.codes.items())))  # shown with pytest -s
    assert outcome.errors == []
    total = sum(outcome.codes.values())
    assert total >= 30, outcome.codes
    ok = {name for (name, status), n in outcome.codes.items() if status < 300}
    assert {"eligibility", "whatif", "score", "plan"} <= ok, outcome.codes
    assert outcome.eligibility_after == 200


def test_a_second_cycle_of_the_month_is_refused_naming_the_running_one(outcome):
    assert outcome.refused["rc"] == 75
    err = outcome.refused["err"]
    assert "Traceback" not in err
    assert f"pid {outcome.first['pid']}" in err and f"cycle --as-of {CYCLE_AS_OF}" in err and "--wait" in err
    assert json.loads(outcome.refused["out"])["error"].startswith("cycle: expected to run alone")


def test_a_cycle_with_wait_waits_for_the_running_one_then_finds_the_month_done(outcome):
    assert outcome.waited["rc"] == 0, outcome.waited["err"][-2000:]
    assert "waiting for the cycle lock" in outcome.waited["err"]
    out = json.loads(outcome.waited["out"])
    assert out["already_done"] is True
    assert out["published"]["publication_id"] == json.loads(outcome.first["out"])["published"]["publication_id"]
