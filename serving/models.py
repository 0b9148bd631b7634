"""Load the champion once: from the MLflow registry, else from the last local export under models_dir."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import NotFound
from core.settings import Settings

log = logging.getLogger(__name__)
EXPORT_NAME = "champion"  # settings.models_dir / "champion" holds the last exported champion bundle


@dataclass
class LoadedModel:
    """A scoring model with where it came from: ``source`` is ``registry`` or ``local_export``."""

    model: Any
    source: str
    note: str | None = None


def export_dir(settings: Settings) -> Path:
    return settings.models_dir / EXPORT_NAME


def _local_bundle(settings: Settings) -> Path | None:
    """The newest bundle folder (with model.json) under models_dir, preferring ``champion``."""
    preferred = export_dir(settings)
    if (preferred / "model.json").is_file():
        return preferred
    if not settings.models_dir.is_dir():
        return None
    found = sorted((p.parent for p in settings.models_dir.glob("*/model.json")),
                   key=lambda p: (p / "model.json").stat().st_mtime, reverse=True)
    if (settings.models_dir / "model.json").is_file():
        found.append(settings.models_dir)
    return found[0] if found else None


def export_champion(model: Any, settings: Settings) -> Path:
    """Write ``model`` as the local fallback bundle, replacing the previous one in one rename."""
    target = export_dir(settings)
    tmp = target.with_name(f".{EXPORT_NAME}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.export_local(tmp)
    old = target.with_name(f".{EXPORT_NAME}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def _registry_absent(settings: Settings) -> str | None:
    """Why there can be no registry (a SQLite store file that does not exist), else None."""
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.exists():
            return f"no MLflow store at {path}"
    return None


def load_champion(settings: Settings, *, ref: str = "champion", export: bool = True) -> LoadedModel:
    """The champion from the registry (exported locally for next time), else the last local export.

    Raises NotFound when neither is available.
    """
    from training.model import ScoringModel

    try:
        absent = _registry_absent(settings)
        if absent:
            raise NotFound(absent)
        model = ScoringModel.load(settings, ref=ref)
    except Exception as exc:  # noqa: BLE001 - registry down, alias missing, artifacts gone: all fall back
        reason = f"{type(exc).__name__}: {exc}"[:300]
        bundle = _local_bundle(settings)
        if bundle is None:
            raise NotFound(f"model: no {ref!r} model in the registry ({reason}) and no local export "
                           f"under {settings.models_dir}") from exc
        log.warning("registry unavailable (%s); using the local export at %s", reason, bundle)
        return LoadedModel(ScoringModel.load_local(bundle), "local_export",
                           f"registry unavailable ({reason}); serving the local export at {bundle}")
    if export:
        try:
            export_champion(model, settings)
        except OSError as exc:  # pragma: no cover - a read-only models_dir must not stop serving
            log.warning("could not export the champion to %s: %s", settings.models_dir, exc)
    return LoadedModel(model, "registry")
