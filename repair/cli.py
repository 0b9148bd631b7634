"""`credit-risk repair ...`: eligibility, apply, decide, status, notice, objection, due, whatif, sync,
export-shared, notices."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli import Outcome, actor_of, iso_date
from core.errors import UserError
from core.settings import Settings

if TYPE_CHECKING:
    from repair.status import CaseView



def _actions() -> list[str]:
    """Every action of every procedure in core/rules/repair.toml."""
    from repair import procedures

    return sorted({a for code in procedures.all_codes() for a in procedures.get(code).actions})


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
    p.add_argument("action", choices=_actions())
    p.add_argument("--reason", help="why (required to refuse, deny, revoke, not_accept, uphold, dismiss)")
    p.add_argument("--doc", action="append", default=[], metavar="TYPE=REF", help="a document handed in (cure)")
    p.add_argument("--correct", action="append", default=[], metavar="FIELD=VALUE",
                   help="a corrected field of the record (correct, after an upheld objection)")
    p.add_argument("--on", type=iso_date, help="the day the step takes effect (default today)")
    p.add_argument("--expect-version", type=int, help="the case version you looked at (refused if it changed)")
    p.set_defaults(handler=_decide)

    p = rsub.add_parser("status", parents=[common], help="state and next deadline by case id or credit code")
    p.add_argument("key", metavar="CASE|CODE")
    p.add_argument("--applicant", action="store_true", help="the applicant's view (no officers, no internal reasons)")
    p.set_defaults(handler=_status)

    p = rsub.add_parser("notice", parents=[common], help="a notice as issued (text; --html writes the printable page)")
    p.add_argument("notice_id", metavar="NOTICE")
    p.add_argument("--html", metavar="FILE", help="write the printable HTML page here")
    p.set_defaults(handler=_notice)

    p = rsub.add_parser("objection", parents=[common], help="file an objection (异议) to any credit record")
    p.add_argument("uscc", metavar="CODE")
    p.add_argument("--record", help="the record's id (penalty decision number, listing id, inspection id, ...)")
    p.add_argument("--record-kind", default="abnormal_list",
                   help="penalty, abnormal_list, serious_list, inspection, complaint or opinion (default abnormal_list)")
    p.add_argument("--listing", help="an abnormal-list listing id (same as --record with --record-kind abnormal_list)")
    p.add_argument("--grounds", help="short statement of the grounds")
    p.add_argument("--doc", action="append", default=[], metavar="TYPE=REF",
                   help="a document and its reference: objection= (异议申请书) and evidence=")
    p.add_argument("--on", type=iso_date, help="filing date (default today)")
    p.set_defaults(handler=_objection)

    p = rsub.add_parser("due", parents=[common], help="overdue and due-soon case steps")
    p.add_argument("--soon", type=int, help="working days ahead counted as due soon (default from the rules)")
    p.add_argument("--today", type=iso_date, help="count from this day (default today)")
    p.set_defaults(handler=_due)

    p = rsub.add_parser("close-overdue", parents=[common], help="close cases whose 补正 deadline passed "
                        "(逾期未补正 → 终止办理, with its notice)")
    p.add_argument("--today", type=iso_date, help="count from this day (default today)")
    p.set_defaults(handler=_close_overdue)

    p = rsub.add_parser("whatif", parents=[common], help="projected tier if the eligible records were repaired")
    p.add_argument("uscc", metavar="CODE")
    p.add_argument("--as-of", type=iso_date, help="default today")
    p.add_argument("--record", action="append", help="only these records (repeatable)")
    p.set_defaults(handler=_whatif)

    p = rsub.add_parser("sync", parents=[common], help="write repair and objection decisions into the warehouse "
                        "(repairs, record_corrections; idempotent)")
    p.set_defaults(handler=_sync)

    p = rsub.add_parser("export-shared", parents=[common], help="file drop of repairs and corrections for the "
                        "credit-sharing platform (audited)")
    p.add_argument("--to", required=True, metavar="DIR", help="folder to write the JSON Lines file and its schema")
    p.add_argument("--all", action="store_true", help="export every record again, not only the new ones")
    p.set_defaults(handler=_export_shared)

    p = rsub.add_parser("notices", parents=[common], help="the notice kinds; --write-docs regenerates docs/repair/")
    p.add_argument("--write-docs", action="store_true", help="rewrite docs/repair/ from the rules")
    p.set_defaults(handler=_notices)


def _pairs(pairs: list[str], option: str = "--doc", example: str = "commitment=CM-2026-01") -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, ref = pair.partition("=")
        if not sep or not name.strip() or not ref.strip():
            raise UserError(f"{option}: expected NAME=VALUE (e.g. {example}), got {pair!r}")
        out[name.strip()] = ref.strip()
    return out


def _case_lines(case: CaseView) -> list[str]:
    st, step = case.state, case.next_step
    lines = [f"{case.case_id}  {case.kind.zh} / {case.kind.en}  ({case.uscc}, {case.record_kind} {case.record_id})",
             f"  procedure: {case.procedure.zh} / {case.procedure.en}",
             f"  state: {st.zh} / {st.en} [{st.code}] since {case.state_since}"
             + (f", version {case.version}" if case.version is not None else "")]
    if step:
        flag = f" — {case.urgency}" if case.urgency else ""
        lines.append(f"  next: {step.zh} / {step.en} due {case.due_on}{flag}")
    if case.missing_documents and case.open:
        lines.append("  missing: " + ", ".join(f"{d.zh} ({d.code})" for d in case.missing_documents))
    lines += [f"  notice {n.notice_id}: {n.title} — 理由：{n.reason}" for n in case.notices]
    if case.actions:
        lines.append(f"  allowed now: {', '.join(case.actions)}")
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
                 documents=_pairs(args.doc), actor=actor_of(args), on=args.on)
    return Outcome(data=case.as_dict(), lines=["case opened:", *_case_lines(case)])


def _decide(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.workflow import transition

    case = transition(settings, args.case_id, args.action, actor=actor_of(args), reason=args.reason, on=args.on,
                      expected_version=args.expect_version, documents=_pairs(args.doc) or None,
                      corrections=_pairs(args.correct, "--correct", "fine_amount=5000") or None)
    return Outcome(data=case.as_dict(), lines=[f"{args.action}: done", *_case_lines(case)])


def _status(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.status import status

    out = status(settings, args.key, audience="applicant" if args.applicant else "officer")
    if not hasattr(out, "cases"):  # one case
        lines = _case_lines(out) + [f"  {e.on} {e.action:<12} → {e.to_state:<13}"
                                    + (f" by {e.actor}" if e.actor else "")
                                    + (f": {e.reason}" if e.reason else "") for e in out.events]
    else:
        lines = [f"{out.uscc}: {len(out.cases)} cases"]
        for case in out.cases:
            lines += _case_lines(case)
    return Outcome(data=out.as_dict(), lines=lines)


def _notice(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.status import notice

    issued, text, page = notice(settings, args.notice_id)
    lines = text.rstrip("\n").splitlines()
    if args.html:
        Path(args.html).write_text(page, encoding="utf-8")
        lines.append(f"printable page written to {args.html}")
    return Outcome(data={**issued.as_dict(), "text": text}, lines=lines)


def _objection(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.objections import file

    record = args.record or args.listing
    if not record:
        raise UserError("--record: expected the id of the record objected to (or --listing for an abnormal listing)")
    kind = "abnormal_list" if args.listing and not args.record else args.record_kind
    case = file(settings, uscc=args.uscc, record_kind=kind, record_id=record, grounds=args.grounds,
                documents=_pairs(args.doc) or None, actor=actor_of(args), on=args.on)
    return Outcome(data=case.as_dict(), lines=["objection filed:", *_case_lines(case)])


def _due(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.deadlines import due

    out = due(settings, today=args.today, soon_workdays=args.soon)
    lines = [f"{len(out.overdue)} overdue, {len(out.due_soon)} due within {out.soon_workdays} "
             f"working days of {out.today}"]
    for flag, items in (("overdue", out.overdue), ("due_soon", out.due_soon)):
        for c in items:
            lines.append(f"  {flag:<8} {c.due_on}  {c.case_id}  {c.next_step.zh} / {c.next_step.en}  ({c.uscc})")
    return Outcome(data=out.as_dict(), lines=lines)


def _close_overdue(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.workflow import close_overdue

    closed = close_overdue(settings, actor=actor_of(args), today=args.today)
    lines = [f"{len(closed)} cases closed"] + [f"  {c.case_id}  {c.state.zh} / {c.state.en}" for c in closed]
    return Outcome(data={"closed": [c.as_dict() for c in closed]}, lines=lines)


def _whatif(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.whatif import whatif
    from serving.reasons import reason_lines

    out = whatif(settings, args.uscc, as_of=args.as_of, record_ids=args.record)
    cur, new = out["current"], out["projected"]
    lines = [f"{out['uscc']} as of {out['as_of']} (model {out['model_version']}): "
             f"repairing {len(out['repaired'])} eligible records",
             f"  current:   {cur['tier']['code']} {cur['tier']['zh']}  p={cur['probability']:.4f}",
             f"  projected: {new['tier']['code']} {new['tier']['zh']}  p={new['probability']:.4f}",
             "reasons now:", *reason_lines(cur["reasons"])]
    return Outcome(data=out, lines=lines)


def _sync(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.workflow import sync_warehouse

    out = sync_warehouse(settings)
    return Outcome(data=out.as_dict(), lines=[f"warehouse written for {out.cases} decided cases: {out.repairs} repairs, "
                                              f"{out.corrections} corrections"])


def _export_shared(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair.sharing import export_shared

    out = export_shared(settings, to=args.to, actor=actor_of(args), include_exported=args.all)
    lines = [f"{out.records} records for the credit-sharing platform"
             + (f" written to {out.path} ({', '.join(out.messages)})" if out.path else ": nothing new to export")]
    return Outcome(data=out.as_dict(), lines=lines)


def _notices(args: argparse.Namespace, settings: Settings) -> Outcome:
    from repair import notices

    examples = notices.example_notices()
    lines = [f"  {n.kind:<22} {n.title}" for n in examples]
    data: dict[str, Any] = {"notices": [{"kind": n.kind, "title": n.title} for n in examples]}
    if args.write_docs:
        paths = notices.write_docs()
        data["written"] = [str(p) for p in paths]
        lines.append(f"docs/repair/: {len(paths)} files written")
    return Outcome(data=data, lines=[f"{len(examples)} notice kinds:", *lines])
