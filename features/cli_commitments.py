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


def _audit(settings: Settings, args, *, action: str, subject: str, inputs: dict, outcome: str,
           version: str) -> None:
    from core import audit, opdb

    with opdb.engine(settings).begin() as conn:
        audit.record(conn, actor=actor_of(args), action=action, subject=subject, inputs=inputs,
                     versions={"rules": version}, outcome=outcome)


def _check(args: argparse.Namespace, settings: Settings) -> Outcome:
    from core.uscc import validate
    from features.commitments import KIND_LABELS, commitment_eligibility
    from features.warehouse import connect

    uscc = validate(args.uscc)
    as_of = args.as_of or date.today()
    con = connect(settings, read_only=True)
    try:
        e = commitment_eligibility(con, uscc, args.kind, as_of=as_of)
    finally:
        con.close()
    _audit(settings, args, action="commitments.check", subject=uscc, inputs={"kind": args.kind, "as_of": as_of},
           outcome="allowed" if e.allowed else "refused: " + ",".join(r.code for r in e.refusals),
           version=e.rules_version)
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
    from features.warehouse import connect

    con = connect(settings, read_only=True)
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
    from features.leniency import leniency_eligibility
    from features.warehouse import connect

    uscc = validate(args.uscc)
    as_of = args.as_of or date.today()
    con = connect(settings, read_only=True)
    try:
        e = leniency_eligibility(con, uscc, args.domain, as_of=as_of)
    finally:
        con.close()
    _audit(settings, args, action="leniency.check", subject=uscc, inputs={"domain": args.domain, "as_of": as_of},
           outcome="eligible" if e.eligible else f"second offence after {e.prior_decision}", version=e.rules_version)
    return Outcome(data=asdict(e), lines=[f"{uscc}: {e.zh} / {e.en}", f"  依据 basis: {e.basis}"])
