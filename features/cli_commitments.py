"""CLI: ``commitments check CODE --kind K`` and ``commitments ineligible`` (信用承诺), ``leniency check CODE
--domain D`` (首违不罚). Each check is audited (who, when, entity, answer, rules version)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date

from core.cli import Outcome, actor_of, iso_date
from core.settings import Settings
from features.sources import COMMITMENT_KINDS, PENALTY_DOMAINS


def register(sub, common) -> None:
    c = sub.add_parser("commitments", parents=[common], help="credit commitments (信用承诺): eligibility by kind")
    csub = c.add_subparsers(dest="commitments_command", metavar="ACTION", required=True)
    chk = csub.add_parser("check", parents=[common],
                          help="may the entity make a commitment of this kind now (e.g. 告知承诺 while serious-listed)?")
    chk.add_argument("uscc", help="unified social credit code")
    chk.add_argument("--kind", required=True, choices=COMMITMENT_KINDS, help="commitment kind")
    chk.add_argument("--as-of", type=iso_date, help="date of the check (default today)")
    chk.set_defaults(handler=_check)
    inel = csub.add_parser("ineligible", parents=[common],
                           help="commitments made while a bar applied to their kind (kept, listed for follow-up)")
    inel.set_defaults(handler=_ineligible)

    le = sub.add_parser("leniency", parents=[common], help="first-violation leniency (首违不罚): is it still open?")
    lsub = le.add_subparsers(dest="leniency_command", metavar="ACTION", required=True)
    lchk = lsub.add_parser("check", parents=[common],
                           help="is a new offence in this domain a second one (not eligible for 首违不罚 again)?")
    lchk.add_argument("uscc", help="unified social credit code")
    lchk.add_argument("--domain", required=True, choices=PENALTY_DOMAINS, help="domain of the offence")
    lchk.add_argument("--as-of", type=iso_date, help="date of the check (default today)")
    lchk.set_defaults(handler=_leniency)


def _check(args: argparse.Namespace, settings: Settings) -> Outcome:
    from core.uscc import validate
    from features.commitments import KIND_LABELS, check

    uscc = validate(args.uscc)
    as_of = args.as_of or date.today()
    e = check(settings, uscc, args.kind, as_of=as_of, actor=actor_of(args))
    zh, en = KIND_LABELS[args.kind]
    if e.allowed:
        lines = [f"{uscc}: 可适用{zh} / {en} allowed (as of {as_of.isoformat()})"]
    else:
        lines = [f"{uscc}: 不适用{zh} / {en} refused (as of {as_of.isoformat()})"]
        lines += [f"  {r.zh} / {r.en}\n    依据 basis: {r.basis}\n    记录 record: {r.record_kind} {r.record_id} "
                  f"(listed {r.listed_date.isoformat()})" for r in e.refusals]
    return Outcome(data=asdict(e), lines=lines)


def _ineligible(args: argparse.Namespace, settings: Settings) -> Outcome:
    from features.commitments import ineligible_commitments
    from features.warehouse import reader

    con = reader(settings)
    try:
        rows = ineligible_commitments(con)
    finally:
        con.close()
    lines = [f"{len(rows)} commitment(s) made while barred"]
    lines += [f"  {r.commitment_id} {r.uscc} {r.kind} made {r.made_date.isoformat()}: {r.bar} ({r.record_id})"
              for r in rows]
    return Outcome(data={"commitments": [asdict(r) for r in rows]}, lines=lines)


def _leniency(args: argparse.Namespace, settings: Settings) -> Outcome:
    from core.uscc import validate
    from features.leniency import check

    uscc = validate(args.uscc)
    as_of = args.as_of or date.today()
    e = check(settings, uscc, args.domain, as_of=as_of, actor=actor_of(args))
    return Outcome(data=asdict(e), lines=[f"{uscc}: {e.zh} / {e.en}", f"  依据 basis: {e.basis}"])
