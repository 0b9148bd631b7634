"""CLI: ``lookup --file F --out G``: a list of codes or names back with tiers, reasons, status and match notes."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli import Outcome
from core.errors import UserError
from core.progress import step
from core.settings import Settings


def register(sub, common) -> None:
    p = sub.add_parser("lookup", parents=[common], help="annotate a CSV (UTF-8/GBK) or .xlsx list of credit codes "
                       "or names with tier, reasons, status and match notes")
    p.add_argument("--file", required=True, type=Path, help="the list: .csv (UTF-8 or GBK) or .xlsx")
    p.add_argument("--out", required=True, type=Path, help="where the annotated list goes (same format)")
    p.set_defaults(handler=_lookup)


def _lookup(args: argparse.Namespace, settings: Settings) -> Outcome:
    from serving.lists import annotate_list, warehouse_names
    from serving.outcomes import CodeLookup
    from serving.runtime import PublishedIndex

    if not args.file.is_file():
        raise UserError(f"--file: expected an existing .csv or .xlsx file, got {args.file}")
    if args.out.resolve() == args.file.resolve():
        raise UserError("--out: expected a different file than --file (the list is never overwritten)")
    codes = CodeLookup(settings, PublishedIndex(settings))
    with step(f"looking up {args.file.name}"), warehouse_names(settings) as names, \
            args.file.open("rb") as src, args.out.open("wb") as dst:
        summary = annotate_list(src, dst, resolve=codes.outcomes, match_names=names, filename=args.file.name)
    lines = [f"{summary.rows:,} rows of {args.file} ({summary.fmt}{', ' + summary.encoding if summary.encoding else ''})"
             f" → {args.out}",
             f"codes from column {summary.code_column!r}, names from {summary.name_column!r}; "
             f"{summary.matched_by_name:,} matched by name"]
    lines += [f"  {k:<20} {v:>9,}" for k, v in sorted(summary.outcomes.items())]
    return Outcome({"rows": summary.rows, "outcomes": summary.outcomes, "matched_by_name": summary.matched_by_name,
                    "format": summary.fmt, "encoding": summary.encoding, "out": str(args.out),
                    "notes": summary.notes}, lines + summary.notes)
