"""`credit-risk repair ...`: eligibility, apply, decide, status, objection, due, whatif, sync."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli import Outcome, actor_of, iso_date
from core.errors import UserError
from core.settings import Settings

ACTIONS = ("accept", "refuse", "review", "approve", "deny", "complete", "revoke",  # repair cases
           "not_accept", "uphold", "dismiss", "correct")  # objections (accept too)


def register(sub, common) -> None:
    group = sub.add_parser("repair", help="credit repair (信用修复): eligibility, cases, objections, deadlines")
    rsub = group.add_subparsers(dest="repair_command", metavar="SUBCOMMAND", required=True)

    p = rsub.add_parser("eligibility", parents=[common], help="every negative record: repairable, earliest date, "
                        "missing conditions")
    p.add_argument("uscc", metavar="CODE", help="unified social credit code")
    p.add_argument("--as-of", type=iso_date, help="apply the rules on this date (default today)")
    p.set_defaults(handler=_eligibility)

    p = rsub.add_parser("apply", parents=[common], help="open a repair case for one record")
    p.add_argument("uscc", metavar="CODE")
    p.add_argument("--record", required=True, help="penalty decision number or listing id")
    p.add_argument("--record-kind", choices=("penalty", "abnormal_list", "serious_list"))
    p.add_argument("--doc", action="append", default=[], metavar="TYPE=REF",
                   help="a document and its reference; needs application=, commitment= (守信承诺书) and proof=")
    p.add_argument("--on", type=iso_date, help="application date (default today)")
    p.set_defaults(handler=_apply)

    p = rsub.add_parser("decide", parents=[common], help="move a repair case or objection one step")
    p.add_argument("case_id", metavar="CASE")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--reason", help="why (required to refuse, deny, revoke, not_accept, uphold, dismiss)")
    p.add_argument("--on", type=iso_date, help="the day the step takes effect (default today)")
    p.add_argument("--expect-version", type=int, help="the case version you looked at (refused if it changed)")
    p.set_defaults(handler=_decide)

    p = rsub.add_parser("status", parents=[common], help="state and next deadline by case id or credit code")
    p.add_argument("key", metavar="CASE|CODE")
    p.add_argument("--applicant", action="store_true", help="the applicant's view (no officers, no internal reasons)")
    p.set_defaults(handler=_status)

    p = rsub.add_parser("objection", parents=[common], help="file an objection (异议) to an abnormal listing")
    p.add_argument("uscc", metavar="CODE")
    p.add_argument("--listing", required=True, help="abnormal-list listing id")
    p.add_argument("--grounds", help="short statement of the grounds")
    p.add_argument("--on", type=iso_date, help="filing date (default today)")
    p.set_defaults(handler=_objection)

    p = rsub.add_parser("due", parents=[common], help="overdue and due-soon case steps")
    p.add_argument("--soon", type=int, help="working days ahead counted as due soon (default from the rules)")
    p.add_argument("--today", type=iso_date, help="count from this day (default today)")
    p.set_defaults(handler=_due)

    p = rsub.add_parser("whatif", parents=[common], help="projected tier if the eligible records were repaired")
    p.add_argument("uscc", metavar="CODE")
    p.add_argument("--as-of", type=iso_date, help="default today")
    p.add_argument("--record", action="append", help="only these records (repeatable)")
    p.set_defaults(handler=_whatif)

    p = rsub.add_parser("sync", parents=[common], help="rewrite warehouse repairs from the cases (idempotent)")
    p.set_defaults(handler=_sync)


def _docs(pairs: list[str]) -> dict[str, str]:
    docs = {}
    for pair in pairs:
        name, sep, ref = pair.partition("=")
        if not sep or not name.strip() or not ref.strip():
            raise UserError(f"--doc: expected TYPE=REF (e.g. commitment=CM-2026-01), got {pair!r}")
        docs[name.strip()] = ref.strip()
    return docs


def _case_lines(case: dict[str, Any]) -> list[str]:
    st, step = case["state"], case["next_step"]
    lines = [f"{case['case_id']}  {case['kind']['zh']} / {case['kind']['en']}  ({case['uscc']}, "
             f"{case['record_kind']} {case['record_id']})",
             f"  state: {st['zh']} / {st['en']} [{st['code']}] since {case['state_since']}"
             + (f", version {case['version']}" if "version" in case else "")]
    if step:
        flag = f" — {case['urgency']}" if case.get("urgency") else ""
        lines.append(f"  next: {step['zh']} / {step['en']} due {case['due_on']}{flag}")
    return lines


def _eligibility(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.eligibility import check

    out = check(settings, args.uscc, as_of=args.as_of)
    lines = [f"{out['uscc']} as of {out['as_of']}: {len(out['records'])} negative records, "
             f"{out['eligible_now']} eligible for repair now"]
    for r in out["records"]:
        if r["repairable"]:
            verdict = "eligible now" if r["eligible_now"] else f"missing {', '.join(r['missing_conditions'])}"
            verdict += f"; earliest {r['earliest_date'] or 'once the conditions are met'}"
        else:
            verdict = f"not repairable ({r['not_repairable_label']['en']})"
        lines.append(f"  {r['record_kind']:<13} {r['record_id']:<22} {r['state']:<9} {verdict}")
    return Outcome(data=out, lines=lines)


def _apply(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.workflow import apply

    case = apply(settings, uscc=args.uscc, record_id=args.record, record_kind=args.record_kind,
                 documents=_docs(args.doc), actor=actor_of(args), on=args.on)
    return Outcome(data=case, lines=["case opened:", *_case_lines(case)])


def _decide(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.workflow import transition

    case = transition(settings, args.case_id, args.action, actor=actor_of(args), reason=args.reason, on=args.on,
                      expected_version=args.expect_version)
    return Outcome(data=case, lines=[f"{args.action}: done", *_case_lines(case)])


def _status(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.status import status

    out = status(settings, args.key, audience="applicant" if args.applicant else "officer")
    if "case" in out:
        case = out["case"]
        lines = _case_lines(case) + [f"  {e['on']} {e['action']:<10} → {e['to_state']:<13}"
                                     + (f" by {e['actor']}" if e.get("actor") else "")
                                     + (f": {e['reason']}" if e.get("reason") else "") for e in case["events"]]
    else:
        lines = [f"{out['uscc']}: {len(out['cases'])} cases"]
        for case in out["cases"]:
            lines += _case_lines(case)
    return Outcome(data=out, lines=lines)


def _objection(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.objections import file

    case = file(settings, uscc=args.uscc, listing_id=args.listing, grounds=args.grounds, actor=actor_of(args),
                on=args.on)
    return Outcome(data=case, lines=["objection filed:", *_case_lines(case)])


def _due(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.deadlines import due

    out = due(settings, today=args.today, soon_workdays=args.soon)
    lines = [f"{len(out['overdue'])} overdue, {len(out['due_soon'])} due within {out['soon_workdays']} "
             f"working days of {out['today']}"]
    for flag in ("overdue", "due_soon"):
        for c in out[flag]:
            lines.append(f"  {flag:<8} {c['due_on']}  {c['case_id']}  {c['next_step']['zh']} / "
                         f"{c['next_step']['en']}  ({c['uscc']})")
    return Outcome(data=out, lines=lines)


def _whatif(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.whatif import whatif

    out = whatif(settings, args.uscc, as_of=args.as_of, record_ids=args.record)
    cur, new = out["current"], out["projected"]
    lines = [f"{out['uscc']} as of {out['as_of']} (model {out['model_version']}): "
             f"repairing {len(out['repaired'])} eligible records",
             f"  current:   {cur['tier']['code']} {cur['tier']['zh']}  p={cur['probability']:.4f}",
             f"  projected: {new['tier']['code']} {new['tier']['zh']}  p={new['probability']:.4f}"]
    return Outcome(data=out, lines=lines)


def _sync(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.workflow import sync_warehouse

    out = sync_warehouse(settings)
    return Outcome(data=out, lines=[f"warehouse repairs rewritten for {out['written']} of {out['cases']} cases"])
