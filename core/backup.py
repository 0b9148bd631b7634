"""Backups of a home: ``backup`` takes a consistent copy with a manifest; ``restore`` brings it back.

What is copied, and how:

- the DuckDB warehouse (and its write-ahead log), byte for byte while the home's ``warehouse`` lock is held,
  so no batch job (ingest, cycle, training) writes it meanwhile — the service never opens it;
- the operational DB: SQLite through its online backup API (consistent while the service writes), or
  ``pg_dump --format=custom`` of the PostgreSQL database (restored with ``pg_restore``);
- the MLflow store: its SQLite file through the backup API, and the artifact folder;
- everything else in the home (reports, local model exports, the opinion classifier, registries), except
  what is rebuilt on demand (the service's warehouse copies, locks, the compiled-tree cache, BentoML's
  scratch folder).

API keys live in the operational DB (as hashes) and come back with it. The pseudonymisation key is never
copied (it belongs in the bureau's secret store): the manifest records where it came from and a
fingerprint, and a restore says whether the key in force now is the same one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import locks
from core.errors import UserError
from core.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
LOCK = "warehouse"  # the lock batch jobs hold while they write the warehouse (features.warehouse.LOCK)
DERIVED = ("serving", "publications")  # copies of the warehouse and of publications: stale after a restore
NOT_COPIED = (*DERIVED, "locks", "cache", "bentoml")  # rebuilt on demand
STORES = ("warehouse.duckdb", "warehouse.duckdb.wal", "operational.db", "operational.db-wal", "operational.db-shm",
          "mlflow.db", "mlflow.db-wal", "mlflow.db-shm")


@dataclass(frozen=True)
class BackupResult:
    """What a backup or restore did: the folder, the files with their hashes, and what to check."""

    folder: str
    home: str
    files: list[dict[str, Any]]
    operational_db: str
    mlflow: str
    counts: dict[str, int]
    key_fingerprint: str
    key_matches: bool | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_fingerprint(settings: Settings) -> str:
    """A fingerprint of the pseudonymisation key (never the key): tells two keys apart."""
    return hashlib.sha256(b"credit-risk pseudonym key fingerprint\x00" + settings.pseudonym_key()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sqlite_path(url: str) -> Path | None:
    return Path(url.split("///", 1)[1]) if url.startswith("sqlite:///") else None


def _pg_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq reads it (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def _sqlite_copy(src: Path, dst: Path) -> None:
    """Copy a SQLite database with the online backup API (consistent while others write it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _counts(settings: Settings) -> dict[str, int]:
    """Rows of the tables a restore must bring back (publications, scores, cases, audit, keys)."""
    import sqlalchemy as sa

    from core.opdb import engine

    out = {}
    with engine(settings).connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        for table in ("publications", "published_scores", "repair_cases", "repair_case_events", "audit_log",
                      "api_keys", "inspection_plans", "cycles", "tier_overrides"):
            if table in names:
                out[table] = int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar())
    return out


def backup(settings: Settings, to: str | Path, *, actor: str) -> BackupResult:
    """Copy the home into the empty folder ``to`` and write its manifest (file hashes, versions, counts).

    Args:
        settings: the home to back up (its operational DB and MLflow store as configured).
        to: a folder that does not exist yet or is empty.
        actor: who takes the backup (audit log).
    """
    dest = Path(to).resolve()
    if dest.exists() and any(dest.iterdir()):
        raise UserError(f"--to: expected an empty or new folder, got {dest} which holds files")
    if not settings.home.is_dir():
        raise UserError(f"--home: expected a home folder, got {settings.home} which does not exist")
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o700)
    warnings: list[str] = []
    with locks.hold(settings.home, LOCK, purpose=f"backup to {dest}", actor=actor, wait=True):
        started = time.perf_counter()
        home_dir = dest / "home"
        for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
            if (settings.home / name).is_file():
                home_dir.mkdir(exist_ok=True)
                shutil.copy2(settings.home / name, home_dir / name)
        op_path = _sqlite_path(settings.db_url)
        if op_path is not None:
            opdb = "sqlite"
            if op_path.is_file():
                _sqlite_copy(op_path, dest / "operational.db")
        else:
            opdb = "postgresql"
            subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dest / "operational.pgdump"),
                            "--dbname", _pg_url(settings.db_url)], check=True, capture_output=True, timeout=3600)
        ml_path = _sqlite_path(settings.mlflow_uri)
        if ml_path is not None:
            mlflow = "sqlite"
            if ml_path.is_file():
                _sqlite_copy(ml_path, dest / "mlflow.db")
        else:
            mlflow = "remote"
            warnings.append(f"the MLflow store {settings.mlflow_uri} is a server: back it up there")
        for item in sorted(settings.home.iterdir()):
            if item.name in NOT_COPIED or item.name in STORES or (op_path and item == op_path) \
                    or (ml_path and item == ml_path):
                continue
            target = home_dir / item.name
            home_dir.mkdir(exist_ok=True)
            if item.is_dir():
                shutil.copytree(item, target, symlinks=True)
            elif item.is_file():
                shutil.copy2(item, target)
        counts = _counts(settings)
        seconds = time.perf_counter() - started
    files = _listing(dest)
    result = BackupResult(folder=str(dest), home=str(settings.home), files=files, operational_db=opdb,
                          mlflow=mlflow, counts=counts, key_fingerprint=key_fingerprint(settings), warnings=warnings)
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "actor": actor,
                "seconds": round(seconds, 3), "versions": _versions(), "key_source": _key_source(settings),
                **result.as_dict()}
    (dest / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    _audit(settings, actor=actor, action="backup.create", subject=str(dest),
           outcome=f"{len(files)} files, {sum(f['bytes'] for f in files):,} bytes", inputs={"counts": counts})
    return result


def restore(settings: Settings, source: str | Path, *, actor: str, force: bool = False) -> BackupResult:
    """Bring a backup made by :func:`backup` back into the settings' home (and operational DB).

    The manifest's hashes are checked first: a damaged backup restores nothing. A home that already has a
    warehouse or an operational DB is replaced only with ``force``.
    """
    src = Path(source).resolve()
    manifest = _read_manifest(src)
    bad = [f["path"] for f in manifest["files"]
           if not (src / f["path"]).is_file() or _sha256(src / f["path"]) != f["sha256"]]
    if bad:
        raise UserError(f"--from: expected every file to match the manifest's hash, got {len(bad)} that do not: "
                        f"{', '.join(bad[:5])}; nothing was restored")
    op_path = _sqlite_path(settings.db_url)
    if manifest["operational_db"] == "sqlite" and op_path is None:
        raise UserError(f"the backup holds a SQLite operational DB, but CREDIT_RISK_DB_URL points at "
                        f"{settings.db_url.split('@')[-1]}; unset it to restore into the home")
    if manifest["operational_db"] == "postgresql" and op_path is not None:
        raise UserError("the backup holds a pg_dump of a PostgreSQL operational DB; set CREDIT_RISK_DB_URL to "
                        "the (empty) database to restore it into")
    occupied = settings.warehouse_path.exists() or (op_path is not None and op_path.exists())
    if occupied and not force:
        raise UserError(f"--home: expected a home without a warehouse or operational DB, got {settings.home} "
                        "which has them; pass --force to replace them")
    settings.home.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    with locks.hold(settings.home, LOCK, purpose=f"restore from {src}", actor=actor, wait=True):
        for name in DERIVED:  # they describe the old warehouse and operational DB
            shutil.rmtree(settings.home / name, ignore_errors=True)
        for name in STORES:
            (settings.home / name).unlink(missing_ok=True)
        if (src / "home").is_dir():
            shutil.copytree(src / "home", settings.home, symlinks=True, dirs_exist_ok=True)
        if manifest["operational_db"] == "sqlite":
            if (src / "operational.db").is_file():
                _sqlite_copy(src / "operational.db", op_path)
        else:
            subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--exit-on-error",
                            "--dbname", _pg_url(settings.db_url), str(src / "operational.pgdump")],
                           check=True, capture_output=True, timeout=3600)
        ml_path = _sqlite_path(settings.mlflow_uri)
        if (src / "mlflow.db").is_file():
            if ml_path is None:
                warnings.append("the backup's MLflow store was not restored: CREDIT_RISK_MLFLOW_URI is a server")
            else:
                _sqlite_copy(src / "mlflow.db", ml_path)
    fingerprint = key_fingerprint(settings)
    matches = fingerprint == manifest["key_fingerprint"]
    if not matches:
        warnings.append("the pseudonymisation key in force differs from the backup's: new ingests would not "
                        "link to the stored pseudonyms; set the key the backup was made with")
    counts = _counts(settings)
    if counts != manifest["counts"]:
        warnings.append(f"row counts differ from the manifest's: {manifest['counts']} vs {counts}")
    _audit(settings, actor=actor, action="backup.restore", subject=str(src),
           outcome="restored" + ("" if matches else "; pseudonym key differs"), inputs={"counts": counts})
    return BackupResult(folder=str(src), home=str(settings.home), files=manifest["files"],
                        operational_db=manifest["operational_db"], mlflow=manifest["mlflow"], counts=counts,
                        key_fingerprint=fingerprint, key_matches=matches, warnings=warnings)


def _read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--from: expected a backup folder with {MANIFEST}, got {src} without one") from None
    except ValueError as exc:
        raise UserError(f"--from: expected {path} to be JSON, got {exc}") from None
    if manifest.get("format") != FORMAT:
        raise UserError(f"--from: expected backup format {FORMAT}, got {manifest.get('format')!r}")
    return manifest


def _listing(dest: Path) -> list[dict[str, Any]]:
    return [{"path": str(p.relative_to(dest)), "bytes": p.stat().st_size, "sha256": _sha256(p)}
            for p in sorted(dest.rglob("*")) if p.is_file() and p.name != MANIFEST]


def _key_source(settings: Settings) -> str:
    return "$CREDIT_RISK_PSEUDONYM_KEY" if os.environ.get("CREDIT_RISK_PSEUDONYM_KEY") else str(settings.key_file)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for dist in ("credit-risk", "duckdb", "mlflow", "sqlalchemy", "alembic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _audit(settings: Settings, **entry: Any) -> None:
    from core import audit
    from core.opdb import engine

    with engine(settings).begin() as conn:
        audit.record(conn, **entry)
