"""The ``credit-risk`` console command: parse, call one pipeline step, print its summary.

Each package contributes subcommands through an optional ``<package>/cli.py`` exposing
``register(subparsers, common)``; handlers take ``(args, settings)`` and return an :class:`Outcome`.
Heavy libraries are imported inside handlers so that ``credit-risk --help`` stays fast.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.settings import Settings, apply_offline_env

PACKAGES = ("core", "synth", "features", "training", "serving", "inspection", "repair", "cycle", "console",
            "opinion_ledger")


@dataclass
class Outcome:
    """What a command produced: ``data`` for ``--json``, ``lines`` for the one-screen summary."""

    data: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0


Handler = Callable[[argparse.Namespace, Settings], Outcome]


def actor_of(args: argparse.Namespace) -> str:
    """Who is acting: ``--actor``, ``$CREDIT_RISK_ACTOR``, else the OS user (``cli:<user>``)."""
    return getattr(args, "actor", None) or os.environ.get("CREDIT_RISK_ACTOR") or f"cli:{getpass.getuser()}"


def iso_date(text: str) -> date:
    """argparse type for YYYY-MM-DD dates with a clear message."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help="folder with the warehouse, MLflow store, operational DB and reports "
                        "(default $CREDIT_RISK_HOME, else ./.credit-risk)")
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument("--actor", help="who is acting, for the audit log (default $CREDIT_RISK_ACTOR or OS user)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="credit-risk",
        description="Enterprise credit-risk scoring for market regulators (市场监管企业信用风险分类).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common()
    for name in _command_modules():
        importlib.import_module(name).register(sub, common)
    return parser


def _command_modules() -> list[str]:
    """``<package>/cli.py`` and ``<package>/cli_*.py`` modules of every package, in a stable order."""
    root = Path(__file__).resolve().parent.parent
    names = []
    for package in PACKAGES:
        for path in sorted((root / package).glob("cli*.py")):
            if (path.stem == "cli" or path.stem.startswith("cli_")) and f"{package}.{path.stem}" != "core.cli":
                names.append(f"{package}.{path.stem}")
    return names


def _default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=_default)


def main(argv: Sequence[str] | None = None) -> int:
    apply_offline_env()
    logging.basicConfig(level=os.environ.get("CREDIT_RISK_LOG_LEVEL", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env(args.home)
    previous = os.environ.get("CREDIT_RISK_HOME")
    os.environ["CREDIT_RISK_HOME"] = str(settings.home)  # code without settings at hand (the tree cache) finds it
    try:
        outcome: Outcome = args.handler(args, settings)
    except UserError as exc:
        if args.json:
            print(to_json({"error": str(exc)}))
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    finally:  # in-process callers (tests, the demo) get their environment back
        if previous is None:
            os.environ.pop("CREDIT_RISK_HOME", None)
        else:
            os.environ["CREDIT_RISK_HOME"] = previous
    if args.json:
        print(to_json(outcome.data))
    else:
        print("\n".join(outcome.lines) if outcome.lines else to_json(outcome.data))
    return outcome.exit_code


if __name__ == "__main__":  # pragma: no cover - module entry point
    sys.exit(main())
