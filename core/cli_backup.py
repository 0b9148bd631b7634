"""CLI: ``backup --to DIR`` and ``restore --from DIR`` of a home (warehouse, operational DB, MLflow store)."""

from __future__ import annotations

import argparse

from core.cli import Outcome, actor_of
from core.settings import Settings


def register(sub, common) -> None:
    p = sub.add_parser("backup", parents=[common], help="consistent copy of the home with a manifest of hashes",
                       description="Copy the warehouse, the operational DB (SQLite backup API or pg_dump), the "
                                   "MLflow store and the rest of the home into an empty folder, with a manifest "
                                   "(hashes, versions, row counts). Waits for a running batch job to finish.")
    p.add_argument("--to", required=True, help="empty or new folder for the backup")
    p.set_defaults(handler=_backup)
    r = sub.add_parser("restore", parents=[common], help="bring a backup back into the home",
                       description="Check the backup's hashes, then restore it into --home (and the operational "
                                   "DB named by CREDIT_RISK_DB_URL when the backup holds a pg_dump).")
    r.add_argument("--from", dest="source", required=True, help="folder written by `credit-risk backup`")
    r.add_argument("--force", action="store_true", help="replace the home's existing warehouse and operational DB")
    r.set_defaults(handler=_restore)


def _lines(verb: str, out) -> list[str]:
    size = sum(f["bytes"] for f in out.files)
    lines = [f"{verb} {len(out.files)} files ({size / 1e6:,.1f} MB): {out.folder} ↔ {out.home}",
             f"operational DB: {out.operational_db}; MLflow store: {out.mlflow}",
             "rows: " + ", ".join(f"{k} {v:,}" for k, v in out.counts.items())]
    if out.key_matches is not None:
        lines.append("pseudonym key: " + ("the same as the backup's" if out.key_matches else "DIFFERS from the backup's"))
    lines += [f"  ! {w}" for w in out.warnings]
    return lines


def _backup(args: argparse.Namespace, settings: Settings) -> Outcome:
    from core.backup import backup

    out = backup(settings, args.to, actor=actor_of(args))
    return Outcome(out.as_dict(), _lines("backed up", out))


def _restore(args: argparse.Namespace, settings: Settings) -> Outcome:
    from core.backup import restore

    out = restore(settings, args.source, actor=actor_of(args), force=args.force)
    return Outcome(out.as_dict(), _lines("restored", out))
