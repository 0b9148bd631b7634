"""`credit-risk opinions ledger ...` and a warehouse made before opinions.published_at existed."""

from __future__ import annotations

import json

from core.cli import main
from tests.opinion_ledger.conftest import add_items


def test_cli_opens_lists_overdue_and_moves_an_entry(settings, capsys):
    add_items(settings)
    home = ["--home", str(settings.home)]
    assert main(["opinions", "ledger", "open", "--at", "2026-11-28T17:00:00+08:00", "--json", *home]) == 0
    assert json.loads(capsys.readouterr().out)["opened"] == 2
    assert main(["opinions", "ledger", "list", "--overdue", "--at", "2026-11-29T19:29", "--json", *home]) == 0
    assert [e["entry_id"] for e in json.loads(capsys.readouterr().out)["entries"]] == ["YQTZ-YQ-CLF"]
    assert main(["opinions", "ledger", "list", "--overdue", "--at", "2026-11-29T19:30", "--json", *home]) == 0
    assert "YQTZ-YQ-FRI" in [e["entry_id"] for e in json.loads(capsys.readouterr().out)["entries"]]
    assert main(["opinions", "ledger", "transition", "YQTZ-YQ-FRI", "responded", "--reason", "x", *home]) == 2
    assert "from pending an entry may move to" in capsys.readouterr().err
    assert main(["opinions", "ledger", "transition", "YQTZ-YQ-FRI", "verified", "--reason", "属实", "--actor",
                 "wang", "--json", *home]) == 0
    assert json.loads(capsys.readouterr().out)["events"][-1]["actor"] == "wang"


def test_an_older_warehouse_gains_the_published_at_column_empty(settings):
    from features import warehouse

    con = warehouse.connect(settings)
    con.execute("INSERT INTO opinions (opinion_id, published_date, source, title) VALUES ('old', DATE '2024-01-02', "
                "'news', 't')")
    con.execute("ALTER TABLE opinions DROP COLUMN published_at")
    con.execute("ALTER TABLE opinions_history DROP COLUMN published_at")
    con.close()
    con = warehouse.connect(settings)
    try:
        assert con.execute("SELECT opinion_id, published_at FROM opinions").fetchall() == [("old", None)]
        assert "published_at" in [r[0] for r in con.execute("DESCRIBE opinions_history").fetchall()]
    finally:
        con.close()


def test_every_batch_step_opens_entries_for_new_items(settings, monkeypatch):
    from datetime import UTC, datetime

    from features.warehouse import sync_operational
    from opinion_ledger import workflow

    add_items(settings)
    monkeypatch.setattr(workflow, "now_utc", lambda: datetime(2026, 11, 30, 1, 0, tzinfo=UTC))  # the batch's clock
    out = sync_operational(settings)  # what ingest and the cycle run when they end
    assert out["opinion_ledger_open"]["opened"] == 2
    assert sorted(e.entry_id for e in workflow.list_entries(settings).entries) == ["YQTZ-YQ-CLF", "YQTZ-YQ-FRI"]
