"""Settings: read once, from the environment and the command line; nothing happens at import time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

OFFLINE_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # keep MLflow's store chatter out of command summaries
}


def apply_offline_env() -> None:
    """Switch off telemetry of MLflow and BentoML (and MLflow's info logs) for this process and its children."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


@dataclass(frozen=True)
class Settings:
    """Where everything lives. Build with :meth:`from_env`; pass explicitly to pipeline steps."""

    home: Path
    db_url: str
    mlflow_uri: str
    key_file: Path = field(repr=False)

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> Settings:
        """Resolve the home (argument, ``$CREDIT_RISK_HOME``, else ``./.credit-risk``) and the stores in it."""
        home_path = Path(home or os.environ.get("CREDIT_RISK_HOME") or ".credit-risk").resolve()
        db_url = os.environ.get("CREDIT_RISK_DB_URL") or f"sqlite:///{home_path / 'operational.db'}"
        mlflow_uri = os.environ.get("CREDIT_RISK_MLFLOW_URI") or f"sqlite:///{home_path / 'mlflow.db'}"
        key_file = Path(
            os.environ.get("CREDIT_RISK_KEY_FILE") or Path.home() / ".config" / "credit-risk" / "pseudonym.key"
        )
        return cls(home=home_path, db_url=db_url, mlflow_uri=mlflow_uri, key_file=key_file)

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def models_dir(self) -> Path:
        """Local export of the serving model, used when the registry is unreachable."""
        return self.home / "models"

    def ensure_home(self) -> Path:
        """Create the home folder (and its report folder) on first use."""
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        return self.home

    def pseudonym_key(self) -> bytes:
        """The pseudonymisation key: ``$CREDIT_RISK_PSEUDONYM_KEY``, else a key file kept outside the home.

        The key file is created (mode 0600) on first use so the demo works out of the box;
        in production set the variable from the bureau's secret store.
        """
        env_key = os.environ.get("CREDIT_RISK_PSEUDONYM_KEY")
        if env_key:
            return env_key.encode("utf-8")
        if not self.key_file.exists():
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            self.key_file.write_text(secrets.token_hex(32))
            self.key_file.chmod(0o600)
        return self.key_file.read_text().strip().encode("utf-8")
