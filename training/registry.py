"""The MLflow side: tracking under the home, the ``enterprise-credit-risk`` registry and its aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import NotFound
from core.settings import Settings, apply_offline_env

EXPERIMENT = "enterprise-credit-risk"


def client(settings: Settings):
    """An MlflowClient on the settings' tracking/registry URI (offline, telemetry off)."""
    apply_offline_env()
    import mlflow
    from mlflow.tracking import MlflowClient

    settings.ensure_home()
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def experiment_id(settings: Settings, name: str = EXPERIMENT) -> str:
    """The experiment id, creating it with its artifacts under ``settings.artifacts_dir`` on first use."""
    c = client(settings)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    return c.create_experiment(name, artifact_location=settings.artifacts_dir.resolve().as_uri())


def register(settings: Settings, *, run_id: str, artifact_path: str = "model", name: str | None = None,
             tags: dict[str, str] | None = None):
    """Register the bundle logged under ``artifact_path`` of ``run_id`` as a new model version."""
    from training.model import MODEL_NAME

    name = name or MODEL_NAME
    c = client(settings)
    try:
        c.get_registered_model(name)
    except Exception:  # noqa: BLE001 - MLflow raises its own RestException for "not found"
        c.create_registered_model(name, description="Enterprise credit-risk (12-month adverse event) model")
    run = c.get_run(run_id)
    source = f"{run.info.artifact_uri.rstrip('/')}/{artifact_path}"
    return c.create_model_version(name, source=source, run_id=run_id, tags=tags or {})


def resolve(settings: Settings, ref: str | int, *, name: str | None = None):
    """The ModelVersion for an alias (``champion``) or a version number; NotFound when absent."""
    from training.model import MODEL_NAME

    name = name or MODEL_NAME
    c = client(settings)
    text = str(ref)
    try:
        if text.isdigit():
            return c.get_model_version(name, text)
        return c.get_model_version_by_alias(name, text)
    except Exception as exc:  # noqa: BLE001 - MLflow's not-found errors are RestExceptions
        raise NotFound(f"no version {text!r} of model {name!r} in the registry at {settings.mlflow_uri}") from exc


def champion(settings: Settings, *, name: str | None = None):
    """The champion ModelVersion, or None when no model has been promoted yet."""
    try:
        return resolve(settings, "champion", name=name)
    except NotFound:
        return None


def set_alias(settings: Settings, version: str | int, alias: str = "champion", *, name: str | None = None) -> None:
    from training.model import MODEL_NAME

    client(settings).set_registered_model_alias(name or MODEL_NAME, alias, str(version))


def download(settings: Settings, version, dst: str | Path) -> Path:
    """Download a version's bundle folder into ``dst`` and return the bundle path."""
    import mlflow

    client(settings)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=version.source, dst_path=str(dst)))


def run_metrics(settings: Settings, run_id: str) -> dict[str, Any]:
    return dict(client(settings).get_run(run_id).data.metrics)
