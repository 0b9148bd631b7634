"""A retraining run end to end: CLI, MLflow run and registry, report, champion alias and the promotion gate."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import audit, opdb
from core.cli import main
from core.settings import Settings
from training.model import ScoringModel, champion_path
from training.promote import gate
from training.toy import toy_frame


def _cli(*argv) -> tuple[int, dict]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(argv))
    return code, json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    mp = pytest.MonkeyPatch()
    mp.delenv("CREDIT_RISK_DB_URL", raising=False)
    home = root / "home"
    table = root / "table.parquet"
    frame = toy_frame(entities=1500, periods=10, seed=21).drop(columns=["name", "industry_code", "town_code",
                                                                        "size_band", "entity_type_code"])
    frame.to_parquet(table)
    args = ["--home", str(home), "--json", "--actor", "test-operator"]
    code, first = _cli("train", *args, "--table", str(table), "--id-col", "uscc", "--time-col", "as_of",
                       "--label", "label", "--rounds", "40", "--search-configs", "2")
    yield {"home": home, "table": table, "args": args, "first": first, "code": code, "frame": frame}
    mp.undo()


def test_train_json_reports_the_contract_fields(world):
    first = world["first"]
    assert world["code"] == 0
    assert {"run_id", "model_version", "metrics", "tier_event_rates", "promoted"} <= set(first)
    assert {"auc", "ks", "brier"} <= set(first["metrics"])
    assert first["model_version"] == "1" and first["promoted"] is True
    html = Path(first["report"]).read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 5 and "<script" not in html


def test_registered_champion_loads_like_its_local_export(world):
    settings = Settings.from_env(world["home"])
    model = ScoringModel.load(settings, "champion")
    local = ScoringModel.load_local(champion_path(settings))
    assert model.version == "1" and model.schema_hash == local.schema_hash
    rows = world["frame"].head(20)
    assert np.array_equal(model.score(rows)["probability"], local.score(rows)["probability"])
    assert model.training_window["test"]["rows"] > 0 and model.metrics["auc"] > 0.5


def test_an_identical_candidate_is_refused_with_a_reason_and_audited(world):
    code, second = _cli("train", *world["args"], "--table", str(world["table"]), "--id-col", "uscc",
                        "--time-col", "as_of", "--label", "label", "--rounds", "40", "--search-configs", "2",
                        "--no-promote")
    assert code == 0 and second["model_version"] == "2" and second["promoted"] is False
    code, decision = _cli("promote", *world["args"], "--auto")
    assert code == 1 and decision["promoted"] is False
    assert any("does not beat the champion" in r for r in decision["reasons"])
    settings = Settings.from_env(world["home"])
    assert ScoringModel.load(settings, "champion").version == "1"
    with opdb.engine(settings).connect() as conn:
        entries = audit.entries(conn, action="model.promote")
    assert entries[0]["outcome"].startswith("refused") and entries[0]["actor"] == "test-operator"


def test_score_table_adds_probability_and_tier(world, tmp_path):
    out = tmp_path / "scored.parquet"
    code, result = _cli("score", *world["args"], "--table", str(world["table"]), "--model", "1", "--out", str(out))
    scored = pd.read_parquet(out)
    assert code == 0 and result["rows"] == len(world["frame"])
    assert scored["probability"].between(0, 1).all() and set(scored["tier"]) <= set("ABCD")


def _evaluation(**metric_overrides):
    m = {"auc": 0.80, "ece": 0.005, "psi_valid_to_test": 0.02, "tiers_rise": 1.0, "baseline_auc": 0.75}
    m.update(metric_overrides)
    return {"metrics": m, "tier_event_rates": {"A": 0.01, "B": 0.02, "C": 0.05, "D": 0.2},
            "champion": {"version": "3", "schema_hash": "abc", "comparable": True, "auc": 0.78, "psi": 0.05}}


def test_gate_passes_a_better_calibrated_stable_candidate():
    ok, reasons = gate(_evaluation(), champion_version="3", candidate_schema="abc")
    assert ok and "beats champion v3" in reasons[0]


@pytest.mark.parametrize(("change", "expected"), [
    ({"ece": 0.05}, "calibration error"),
    ({"auc": 0.77}, "does not beat the champion"),
    ({"tiers_rise": 0.0}, "do not rise"),
    ({"baseline_auc": 0.85}, "logistic baseline"),
    ({"psi_valid_to_test": 0.6}, "drift"),
])
def test_gate_says_why_it_refuses(change, expected):
    ok, reasons = gate(_evaluation(**change), champion_version="3", candidate_schema="abc")
    assert not ok and any(expected in r for r in reasons)


def test_gate_refuses_a_schema_change_and_a_stale_comparison():
    ok, reasons = gate(_evaluation(), champion_version="3", candidate_schema="zzz")
    assert not ok and "schema" in reasons[0]
    ok, reasons = gate(_evaluation(), champion_version="4", candidate_schema="abc")
    assert not ok and "champion is now v4" in reasons[0]
    ok, reasons = gate(_evaluation(ece=0.5), champion_version=None)
    assert ok and reasons[0].startswith("no champion yet") and "warning" in reasons[1]


def test_score_needs_exactly_one_of_table_and_as_of(world, capsys):
    assert main(["score", "--home", str(world["home"])]) == 2
    assert "expected either --table FILE --out FILE, or --as-of" in capsys.readouterr().err
