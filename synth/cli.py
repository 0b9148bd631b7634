"""``credit-risk synth``: write a simulated district (or one month's drop of it)."""

from __future__ import annotations

import argparse
from datetime import date

from core.cli import Outcome, iso_date
from core.settings import Settings


def register(sub, common) -> None:
    p = sub.add_parser("synth", parents=[common], help="write a simulated district with a hidden ground truth",
                       description="Write one extract per source table, the hidden ground truth "
                                   "(ground_truth/) and synth_report.json into --out.")
    p.add_argument("--out", required=True, help="folder for the extracts")
    p.add_argument("--entities", type=int, default=34000, help="market entities at the end of 2020 (default 34000)")
    p.add_argument("--seed", type=int, default=20260101, help="random seed (default 20260101)")
    p.add_argument("--dirty-rate", type=float, default=0.0, help="share of rows given each fault class (default 0)")
    p.add_argument("--start", type=iso_date, default=date(2016, 1, 1), help="first simulated day (YYYY-MM-DD)")
    p.add_argument("--end", type=iso_date, default=date(2025, 12, 31), help="last simulated day (YYYY-MM-DD)")
    p.add_argument("--until", type=iso_date, help="write only records known by this date")
    p.add_argument("--month", help="write only the drop of this month (YYYY-MM): new, corrected and changed rows")
    p.set_defaults(handler=_synth)


def _synth(args: argparse.Namespace, settings: Settings) -> Outcome:
    from synth.district import emit_drop, generate
    from synth.report import summary_lines

    if args.month and args.until:
        from core.errors import UserError

        raise UserError("expected either --until or --month, got both")
    common = {"entities": args.entities, "seed": args.seed, "dirty_rate": args.dirty_rate, "start": args.start,
              "end": args.end}
    if args.month:
        report = emit_drop(args.out, month=args.month, **common)
    else:
        report = generate(args.out, until=args.until, **common)
    return Outcome(data=report, lines=summary_lines(report))
