"""The `credit-risk repair` commands: JSON shapes and one-screen summaries, errors exit 2."""

import json
from datetime import date

from core.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_eligibility_json_has_the_agreed_fields(settings, wh, capsys):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2025, 1, 15), paid=date(2025, 2, 1))
    code, out, _ = _run(capsys, "repair", "eligibility", u, "--as-of", "2025-07-15", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["uscc"] == u
    (rec,) = data["records"]
    assert {k: rec[k] for k in ("kind", "record_id", "repairable", "earliest_date", "missing_conditions")} == {
        "kind": "penalty_publicity", "record_id": pid, "repairable": True, "earliest_date": "2025-07-15",
        "missing_conditions": []}
    code, out, _ = _run(capsys, "repair", "eligibility", u, "--as-of", "2025-07-14")
    assert code == 0 and "missing waiting_period; earliest 2025-07-15" in out


def test_apply_decide_status_due_through_the_cli(settings, wh, capsys):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 1, 15), paid=date(2024, 2, 1), severity="serious")
    code, out, _ = _run(capsys, "repair", "apply", u, "--record", pid, "--doc", "application=A1",
                        "--doc", "commitment=C1", "--doc", "proof=P1", "--on", "2025-09-29", "--json",
                        "--actor", "officer-7")
    assert code == 0
    cid = json.loads(out)["case_id"]
    code, out, _ = _run(capsys, "repair", "decide", cid, "accept", "--on", "2025-09-30", "--expect-version", "1")
    assert code == 0 and "受理" in out and "due 2025-10-28" in out
    code, out, err = _run(capsys, "repair", "decide", cid, "accept", "--on", "2025-09-30")
    assert code == 2 and "cannot accept" in err
    code, out, _ = _run(capsys, "repair", "status", u)
    assert code == 0 and cid in out and "已受理 / accepted" in out
    code, out, _ = _run(capsys, "repair", "due", "--today", "2025-10-29", "--json")
    assert [c["case_id"] for c in json.loads(out)["overdue"]] == [cid]


def test_bad_input_exits_2_with_a_message(settings, wh, capsys):
    u = wh.entity()
    code, _, err = _run(capsys, "repair", "apply", u, "--record", "X", "--doc", "application")
    assert code == 2 and "expected NAME=VALUE" in err
    code, _, err = _run(capsys, "repair", "status", "RP-NOPE")
    assert code == 2 and "no repair case" in err


def test_cure_close_overdue_notice_page_and_objection_through_the_cli(settings, wh, capsys, tmp_path):
    u = wh.entity()
    pid = wh.penalty(u, decided=date(2024, 1, 15), paid=date(2024, 2, 1), severity="serious")
    code, out, _ = _run(capsys, "repair", "apply", u, "--record", pid, "--doc", "application=A1", "--on",
                        "2025-09-29", "--json")
    case = json.loads(out)
    assert code == 0 and case["state"]["code"] == "awaiting_cure"
    assert [d["code"] for d in case["missing_documents"]] == ["commitment", "proof"]
    notice_id = case["notices"][0]["notice_id"]
    page = tmp_path / "notice.html"
    code, out, _ = _run(capsys, "repair", "notice", notice_id, "--html", str(page))
    assert code == 0 and "信用修复申请材料补正通知书" in out and "守信承诺书" in out and "行政诉讼" in out
    assert "<h1>信用修复申请材料补正通知书</h1>" in page.read_text(encoding="utf-8")
    code, out, _ = _run(capsys, "repair", "close-overdue", "--today", "2025-10-13", "--json")
    assert code == 0 and json.loads(out)["closed"] == []  # the cure deadline is Oct 13 itself
    code, out, _ = _run(capsys, "repair", "close-overdue", "--today", "2025-10-20", "--json")
    (closed,) = json.loads(out)["closed"]
    assert closed["state"]["code"] == "cure_expired" and closed["events"][-1]["on"] == "2025-10-14"
    code, out, _ = _run(capsys, "repair", "objection", u, "--record-kind", "penalty", "--record", pid,
                        "--doc", "objection=O1", "--doc", "evidence=E1", "--on", "2025-10-20", "--json")
    assert code == 0 and json.loads(out)["record_kind"] == "penalty"
    code, _, err = _run(capsys, "repair", "objection", u, "--on", "2025-10-20")
    assert code == 2 and "--record" in err
