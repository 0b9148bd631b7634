"""Credit commitments, sampling failures and first-violation leniency: features on hand-computed fixtures, the
eligibility rules (告知承诺 refused while serious-listed, 首违不罚 not open again within the window), the records
named in reasons, the CLI and ingest."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pytest

from core.cli import main
from features.commitments import commitment_eligibility, ineligible_commitments
from features.leniency import leniency_eligibility, repeat_window_months
from features.reason_records import reason_records
from tests.features.conftest import code

AS_OF = date(2024, 7, 1)
A, B, C = code(11), code(12), code(13)


def _commitments(wh):
    for u in (A, B, C):
        wh.entity(u)
    # A: a 告知承诺 in force, breached later than as_of (not yet); a repair commitment fulfilled 2024-03-01;
    # a self-discipline commitment breached 2024-02-10 (found by inspection JC-9), one breached 2021 (outside 730d)
    wh.add("commitments", commitment_id="N1", uscc=A, kind="notify_commit", licence_type="food_business",
           made_date=date(2024, 1, 10), term_end=date(2025, 1, 10), status="breached", status_date=date(2024, 9, 1))
    wh.add("commitment_breaches", breach_id="W0", commitment_id="N1", uscc=A, found_date=date(2024, 9, 1),
           found_by="verification")
    wh.add("commitments", commitment_id="R1", uscc=A, kind="repair_commit", made_date=date(2023, 3, 1),
           term_end=date(2024, 3, 1), status="fulfilled", status_date=date(2024, 3, 1))
    wh.add("commitments", commitment_id="S1", uscc=A, kind="self_discipline", made_date=date(2023, 6, 1),
           term_end=date(2025, 6, 1), status="breached", status_date=date(2024, 2, 10))
    wh.add("commitment_breaches", breach_id="W1", commitment_id="S1", uscc=A, found_date=date(2024, 2, 10),
           found_by="inspection", record_id="JC-9")
    wh.add("commitments", commitment_id="S0", uscc=A, kind="self_discipline", made_date=date(2020, 6, 1),
           term_end=date(2022, 6, 1), status="breached", status_date=date(2021, 5, 1))
    wh.add("commitment_breaches", breach_id="W2", commitment_id="S0", uscc=A, found_date=date(2021, 5, 1),
           found_by="penalty")
    # B: a 告知承诺 breached 2024-05-20, known only 2024-06-15 (before as_of: counts)
    wh.add("commitments", commitment_id="N2", uscc=B, kind="notify_commit", licence_type="food_business",
           made_date=date(2023, 8, 1), term_end=date(2024, 8, 1), status="breached", status_date=date(2024, 5, 20))
    wh.add("commitment_breaches", breach_id="W3", commitment_id="N2", uscc=B, found_date=date(2024, 5, 20),
           found_by="verification", known_date=date(2024, 6, 15))
    # C: a commitment made after as_of, and one withdrawn before it
    wh.add("commitments", commitment_id="N3", uscc=C, kind="notify_commit", made_date=date(2024, 7, 2),
           status="in_force")
    wh.add("commitments", commitment_id="S3", uscc=C, kind="self_discipline", made_date=date(2023, 1, 2),
           term_end=date(2025, 1, 2), status="withdrawn", status_date=date(2023, 5, 1))


def test_commitment_features_count_in_force_fulfilled_and_breaches_at_as_of(wh):
    _commitments(wh)
    f = wh.snapshot(AS_OF)
    cols = ["commitment_in_force_count", "commitment_fulfilled_count_730d", "commitment_breach_count_730d",
            "commitment_notify_breached_flag_730d"]
    assert f.loc[A, cols].tolist() == [1, 1, 1, 0]  # N1 in force; R1 fulfilled; W1 (W0 later, W2 too old)
    assert f.loc[B, cols].tolist() == [0, 0, 1, 1]  # N2 breached (known 2024-06-15)
    assert f.loc[C, cols].tolist() == [0, 0, 0, 0]  # N3 not yet made, S3 withdrawn
    later = wh.snapshot(date(2024, 9, 2))
    assert later.loc[A, cols].tolist() == [0, 1, 2, 1]  # W0 found 2024-09-01 breaks N1, a 告知承诺
    early = wh.snapshot(date(2024, 6, 1))  # W3 found but not yet known
    assert early.loc[B, cols].tolist() == [1, 0, 0, 0]


def _sampling(wh):
    for u in (A, B):
        wh.entity(u)
    wh.add("sampling_results", sample_id="CJ1", uscc=A, sample_date=date(2024, 3, 1), category="food",
           product="豆腐干", result="fail", failing_item="苯甲酸及其钠盐", followup_status="closed",
           followup_date=date(2024, 5, 1))
    wh.add("sampling_results", sample_id="CJ2", uscc=A, sample_date=date(2023, 2, 1), category="food",
           product="腊肉", result="fail", failing_item="过氧化值", followup_status="closed",
           followup_date=date(2024, 8, 1))  # closed after as_of: still open at as_of
    wh.add("sampling_results", sample_id="CJ3", uscc=A, sample_date=date(2024, 4, 1), category="food",
           product="米粉", result="pass")
    wh.add("sampling_results", sample_id="CJ4", uscc=A, sample_date=date(2021, 4, 1), category="food",
           product="白酒", result="fail", failing_item="甲醇", followup_status="pending")  # old, still open
    wh.add("sampling_results", sample_id="CJ5", uscc=B, sample_date=date(2024, 6, 1), category="industrial_product",
           product="水泥", result="fail", failing_item="抗压强度", followup_status="handling",
           known_date=date(2024, 6, 20))
    wh.add("sampling_results", sample_id="CJ6", uscc=B, sample_date=date(2024, 6, 25), category="food",
           product="米粉", result="fail", known_date=date(2024, 7, 5))  # known after as_of


def test_sampling_features_count_failures_food_and_open_follow_ups(wh):
    _sampling(wh)
    f = wh.snapshot(AS_OF)
    cols = ["sampling_count_730d", "sampling_fail_count_365d", "sampling_fail_count_730d",
            "sampling_food_fail_flag_730d", "sampling_followup_open_count"]
    assert f.loc[A, cols].tolist() == [3, 1, 2, 1, 2]  # CJ1-3 taken; CJ1 in 365d; CJ1, CJ2; CJ2 and CJ4 open
    assert f.loc[B, cols].tolist() == [1, 1, 1, 0, 1]  # CJ5 only (CJ6 known later); a product, not food
    assert wh.snapshot(date(2024, 8, 2)).loc[A, "sampling_followup_open_count"] == 1  # CJ2 closed 2024-08-01


def _leniency(wh):
    for u in (A, B, C):
        wh.entity(u)
    first = dict(procedure="ordinary", severity="minor", sanctions="fine", leniency=True,
                 publicity_end=date(2027, 1, 1))  # recorded like a penalty: still never one
    wh.add("penalties", penalty_id="L1", uscc=A, decided_date=date(2023, 5, 1), domain="food", **first)
    wh.add("penalties", penalty_id="P1", uscc=A, decided_date=date(2024, 2, 1), domain="food",
           procedure="ordinary", severity="ordinary", sanctions="fine", fine_amount=5000.0, publicity_end=date(2027, 1, 1))
    wh.add("penalties", penalty_id="L2", uscc=B, decided_date=date(2023, 9, 1), domain="price", **first)
    wh.add("penalties", penalty_id="P2", uscc=B, decided_date=date(2024, 1, 1), domain="food",  # other domain
           procedure="ordinary", severity="ordinary", sanctions="fine", fine_amount=5000.0, publicity_end=date(2027, 1, 1))
    wh.add("penalties", penalty_id="L3", uscc=C, decided_date=date(2020, 1, 1), domain="food", **first)
    wh.add("penalties", penalty_id="P3", uscc=C, decided_date=date(2023, 6, 1), domain="food",  # after the window
           procedure="ordinary", severity="ordinary", sanctions="fine", fine_amount=5000.0, publicity_end=date(2027, 1, 1))


def test_leniency_is_counted_as_leniency_never_as_a_penalty_and_a_second_offence_is_recognised(wh):
    _leniency(wh)
    f = wh.snapshot(AS_OF)
    assert repeat_window_months() == 24
    assert f.loc[A, ["leniency_count_730d", "leniency_then_offence_flag_730d"]].tolist() == [1, 1]
    assert f.loc[B, ["leniency_count_730d", "leniency_then_offence_flag_730d"]].tolist() == [1, 0]
    assert f.loc[C, ["leniency_count_730d", "leniency_then_offence_flag_730d"]].tolist() == [0, 0]
    # the leniency decisions are not penalties: only P1, P2, P3 count
    assert f.loc[[A, B, C], "penalty_in_effect_count"].tolist() == [1, 1, 1]


def test_a_second_offence_within_the_window_is_not_eligible_for_leniency_again(wh):
    _leniency(wh)
    second = leniency_eligibility(wh.con, A, "food", as_of=AS_OF)
    assert not second.eligible and second.prior_decision == "L1"
    assert "第三十三条" in second.basis and "L1" in second.zh
    assert leniency_eligibility(wh.con, B, "food", as_of=AS_OF).eligible  # L2 was about prices
    assert leniency_eligibility(wh.con, C, "food", as_of=AS_OF).eligible  # L3 is older than 24 months
    assert leniency_eligibility(wh.con, A, "food", as_of=date(2023, 5, 1)).eligible  # L1 not decided yet


def test_reasons_name_breaches_and_leniency_decisions(wh):
    _commitments(wh)
    _leniency(wh)
    recs = reason_records(wh.con, as_of=AS_OF)
    a = {(r.kind, r.ref): r.describe() for r in recs[A]["compliance"]}
    assert ("commitment_breach", "W1") in a and "违背行业自律承诺 S1" in a[("commitment_breach", "W1")].zh
    assert "JC-9" in a[("commitment_breach", "W1")].zh and ("commitment_breach", "W0") not in a
    assert ("leniency", "L1") in a
    assert "不计入行政处罚" in a[("leniency", "L1")].zh and "P1" in a[("leniency", "L1")].zh
    assert ("commitment_breach", "W3") in {(r.kind, r.ref) for r in recs[B]["compliance"]}


def test_reasons_name_failed_samples_open_follow_ups_first(wh):
    _sampling(wh)
    recs = reason_records(wh.con, as_of=AS_OF)
    a = {(r.kind, r.ref): r.describe() for r in recs[A]["compliance"]}
    assert set(a) == {("sampling", "CJ1"), ("sampling", "CJ2"), ("sampling", "CJ4")}
    assert "核查处置未完成" in a[("sampling", "CJ2")].zh and "过氧化值" in a[("sampling", "CJ2")].zh
    assert "已核查处置" in a[("sampling", "CJ1")].zh
    assert [r.ref for r in recs[B]["compliance"]] == ["CJ5"]  # CJ6 known after as_of


def _serious(wh, uscc, listed, removed=None):
    wh.add("serious_list", listing_id=f"YZ-{uscc[-4:]}", uscc=uscc, listed_date=listed, domain="food",
           removed_date=removed, removal_reason="expired" if removed else None)


def test_a_serious_listed_entity_is_refused_notify_commit_with_reason_and_basis(wh):
    for u in (A, B):
        wh.entity(u)
    _serious(wh, A, date(2024, 1, 5))
    refused = commitment_eligibility(wh.con, A, "notify_commit", as_of=AS_OF)
    assert not refused.allowed
    (r,) = refused.refusals
    assert r.code == "serious_list_no_notify_commit" and r.record_id == f"YZ-{A[-4:]}"
    assert "告知承诺" in r.zh and "严重违法失信名单管理办法" in r.basis and r.listed_date == date(2024, 1, 5)
    assert commitment_eligibility(wh.con, A, "repair_commit", as_of=AS_OF).allowed  # the bar is for 告知承诺
    assert commitment_eligibility(wh.con, B, "notify_commit", as_of=AS_OF).allowed  # clean
    assert not commitment_eligibility(wh.con, A, "notify_commit", as_of=date(2024, 1, 5)).allowed  # listed that day
    assert commitment_eligibility(wh.con, A, "notify_commit", as_of=date(2024, 1, 4)).allowed  # not yet listed


def test_a_notify_commit_made_while_listed_is_kept_and_listed_as_ineligible(wh):
    for u in (A, B):
        wh.entity(u)
    _serious(wh, A, date(2022, 1, 5), removed=date(2023, 1, 5))
    wh.add("commitments", commitment_id="X1", uscc=A, kind="notify_commit", made_date=date(2022, 6, 1),
           status="in_force")
    wh.add("commitments", commitment_id="X2", uscc=A, kind="notify_commit", made_date=date(2023, 6, 1),
           status="in_force")  # after removal: allowed
    wh.add("commitments", commitment_id="X3", uscc=B, kind="notify_commit", made_date=date(2022, 6, 1),
           status="in_force")
    assert [(r.commitment_id, r.bar) for r in ineligible_commitments(wh.con)] == [
        ("X1", "serious_list_no_notify_commit")]


def test_ingest_loads_a_notify_commit_of_a_serious_listed_entity_and_the_cli_answers(settings, tmp_path, capsys):
    entities = pd.DataFrame({"uscc": [A, B], "name": ["山水餐饮有限公司", "绿叶茶业有限公司"],
                             "entity_type": ["limited_company"] * 2, "industry_code": ["6210", "1530"],
                             "town_code": ["01", "02"], "established": ["2015-01-05"] * 2, "status": ["active"] * 2})
    serious = pd.DataFrame({"listing_id": ["YZ1"], "uscc": [A], "listed_date": ["2024-01-05"], "domain": ["food"]})
    commitments = pd.DataFrame({"commitment_id": ["N1", "N2"], "uscc": [A, B], "kind": ["告知承诺", "notify_commit"],
                                "licence_type": ["food_business"] * 2, "made_date": ["2024-03-01", "2024-03-01"],
                                "status": ["履约中", "in_force"]})
    drop = tmp_path / "d"
    drop.mkdir()
    for name, frame in (("entities", entities), ("serious_list", serious), ("commitments", commitments)):
        frame.to_csv(drop / f"{name}.csv", index=False)
    home = ["--home", str(settings.home)]
    assert main(["ingest", str(drop), "--as-of", "2024-06-30", *home, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["loaded"]["commitments"] == 2 and not summary["quarantined"].get("commitments")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert con.execute("SELECT kind, status FROM commitments WHERE commitment_id = 'N1'").fetchone() == (
        "notify_commit", "in_force")
    con.close()
    assert main(["commitments", "check", A, "--kind", "notify_commit", "--as-of", "2024-07-01", *home, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["allowed"] is False and out["refusals"][0]["record_id"] == "YZ1"
    assert main(["commitments", "check", B, "--kind", "notify_commit", "--as-of", "2024-07-01", *home]) == 0
    assert "allowed" in capsys.readouterr().out
    assert main(["commitments", "ineligible", *home, "--json"]) == 0
    assert [r["commitment_id"] for r in json.loads(capsys.readouterr().out)["commitments"]] == ["N1"]
    from core import audit, opdb

    with opdb.engine(settings).connect() as conn:
        rows = audit.entries(conn, action="commitments.check")
    assert [(r["subject"], r["outcome"]) for r in rows] == [(B, "allowed"),
                                                           (A, "refused: serious_list_no_notify_commit")]


@pytest.mark.parametrize("kind", ["nonsense"])
def test_an_unknown_kind_is_refused_naming_the_choices(wh, kind):
    from core.errors import UserError

    with pytest.raises(UserError, match="expected one of notify_commit"):
        commitment_eligibility(wh.con, A, kind, as_of=AS_OF)


def test_the_api_answers_eligibility_by_role_and_audits_it(settings):
    from fastapi.testclient import TestClient

    from core import audit, opdb
    from features.warehouse import connect, publish_serving_copy
    from serving.api import build_app
    from serving.keys import create_key
    from tests.features.conftest import Warehouse

    con = connect(settings)  # the home's own warehouse, published for the service
    home_wh = Warehouse(con)
    for u in (A, B):
        home_wh.entity(u)
    _serious(home_wh, A, date(2024, 1, 5))
    home_wh.add("penalties", penalty_id="L9", uscc=B, decided_date=date(2024, 2, 1), domain="food",
                procedure="simple", severity="minor", sanctions="warning", leniency=True)
    con.close()
    publish_serving_copy(settings)
    _, key = create_key(settings, role="planner", actor="test")
    _, other = create_key(settings, role="model_operator", actor="test")
    client, auth = TestClient(build_app()), {"Authorization": f"Bearer {key}"}
    r = client.get(f"/commitments/{A}/eligibility", params={"kind": "notify_commit", "as_of": "2024-07-01"},
                   headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["allowed"] is False and body["refusals"][0]["code"] == "serious_list_no_notify_commit"
    assert "第二十二条" in body["refusals"][0]["basis"]
    r = client.get(f"/commitments/{B}/eligibility", params={"kind": "notify_commit", "as_of": "2024-07-01"},
                   headers=auth)
    assert r.status_code == 200 and r.json()["allowed"] is True and r.json()["refusals"] == []
    r = client.get(f"/leniency/{B}/eligibility", params={"domain": "food", "as_of": "2024-07-01"}, headers=auth)
    assert r.status_code == 200 and r.json()["eligible"] is False and r.json()["prior_decision"] == "L9"
    assert client.get(f"/commitments/{A}/eligibility", params={"kind": "bogus"}, headers=auth).status_code == 400
    assert client.get(f"/commitments/{A}/eligibility", params={"kind": "notify_commit"},
                      headers={"Authorization": f"Bearer {other}"}).status_code == 403
    with opdb.engine(settings).connect() as conn:
        subjects = [(e["subject"], e["outcome"]) for e in audit.entries(conn, action="commitments.check")]
    assert subjects == [(B, "allowed"), (A, "refused: serious_list_no_notify_commit")]
