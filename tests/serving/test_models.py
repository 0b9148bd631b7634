"""The service's model: the champion from the MLflow registry (exported locally), else the last local export."""

from __future__ import annotations

import tempfile

import pytest

from core.errors import NotFound
from serving.models import export_champion, export_dir, load_champion


def test_without_a_registry_the_last_local_export_is_used_and_said_so(settings, toy):
    model, _ = toy
    with pytest.raises(NotFound, match="no local export"):
        load_champion(settings)
    export_champion(model, settings)
    loaded = load_champion(settings)
    assert loaded.source == "local_export" and "registry" in loaded.note
    assert loaded.model.version == "7" and loaded.model.schema_hash == model.schema_hash


@pytest.mark.slow
def test_the_registry_champion_is_loaded_and_exported_for_next_time(settings, toy):
    import mlflow

    from training import registry

    model, _ = toy
    with tempfile.TemporaryDirectory() as tmp:
        model.export_local(tmp)
        registry.client(settings)
        with mlflow.start_run(experiment_id=registry.experiment_id(settings)) as run:
            mlflow.log_artifacts(tmp, artifact_path="model")
    version = registry.register(settings, run_id=run.info.run_id)
    registry.set_alias(settings, version.version)
    loaded = load_champion(settings)
    assert loaded.source == "registry" and loaded.note is None
    assert loaded.model.version == str(version.version)
    assert (export_dir(settings) / "model.json").is_file()
