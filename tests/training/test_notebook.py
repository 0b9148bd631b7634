"""The operator notebook runs top to bottom against a home with a champion export."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from training import evaluate
from training.dataset import from_frame
from training.model import champion_path
from training.toy import TOY_FEATURES, toy_frame
from training.train import train

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "1.0-latest-training-run.ipynb"


def test_latest_training_run_notebook_executes(settings, monkeypatch):
    ds = from_frame(toy_frame(entities=1200, periods=12, seed=4), id_col="uscc", time_col="as_of",
                    label_col="label", features=TOY_FEATURES, embargo_months=12)
    model = train(ds, num_boost_round=40, seed=4, budget_s=0)
    ev = evaluate.evaluate(model, ds, seed=4)
    model.meta.update(metrics=ev["metrics"], tiers=ev["tiers"], tier_event_rates=ev["tier_event_rates"],
                      importance=ev["importance"], version="7")
    model.export_local(champion_path(settings))
    monkeypatch.setenv("CREDIT_RISK_HOME", str(settings.home))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parents[1])}}).execute()
    text = "\n".join(str(o.get("data", {}).get("text/plain", o.get("text", "")))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "version='7'" in text  # the champion export was the model shown
    assert "信用风险高" in text and "rows from in-code sample" in text
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
