"""`credit-risk opinions ledger list|show|transition|open`: the 舆情台账 from the command line."""

from __future__ import annotations

import argparse

from core.cli import Outcome, actor_of


def _opinions_actions(sub) -> argparse._SubParsersAction:
    """The ``opinions`` command's subcommands (registered by features/cli_snapshot.py, a package below)."""
    parser = sub.choices["opinions"]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def register(sub, common) -> None:
    group = _opinions_actions(sub).add_parser("ledger", help="舆情台账: negative items with a 48-clock-hour deadline")
    lsub = group.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    at = dict(help="the instant to judge deadlines at, ISO 8601 (an offset, else Asia/Shanghai; default now)")

    p = lsub.add_parser("list", parents=[common], help="entries by deadline (overdue marked)")
    p.add_argument("--overdue", action="store_true", help="only entries past the deadline and not responded")
    p.add_argument("--state", help="only entries in this state (pending, verified, unfounded, responded, followed_up)")
    p.add_argument("--uscc", help="only entries about this entity")
    p.add_argument("--at", **at)
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--page-size", type=int, default=50)
    p.set_defaults(handler=_list)

    p = lsub.add_parser("show", parents=[common], help="one entry with its state changes")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("--at", **at)
    p.set_defaults(handler=_show)

    p = lsub.add_parser("transition", parents=[common], help="move an entry to its next state (audited)")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("to", metavar="STATE", help="verified, unfounded, responded or followed_up")
    p.add_argument("--reason", required=True, help="why (required)")
    p.add_argument("--expect-version", type=int, help="the entry version you looked at (refused if it changed)")
    p.set_defaults(handler=_transition)

    p = lsub.add_parser("open", parents=[common], help="batch step: open entries for the warehouse's new negative "
                        "items (idempotent; also run after every ingest and cycle)")
    p.add_argument("--at", **at)
    p.set_defaults(handler=_open)


def _line(e) -> str:
    from opinion_ledger import rules

    due = e.due_at.astimezone(rules.zone()).strftime("%Y-%m-%d %H:%M")
    flag = {"overdue": "逾期", "due_soon": "将到期", "on_time": "", "met": ""}[e.urgency]
    return f"  {e.entry_id:<28} {e.state_zh:<4} due {due} {flag:<4} {e.uscc or '-':<18} {e.title[:30]}"


def _list(args, settings) -> Outcome:
    from opinion_ledger.workflow import list_entries, parse_at

    out = list_entries(settings, at=parse_at(args.at), state=args.state, overdue=True if args.overdue else None,
                       uscc=args.uscc, page=args.page, page_size=args.page_size)
    lines = [f"{out.total} entries (page {out.page}); times in Asia/Shanghai", *[_line(e) for e in out.entries]]
    return Outcome(data=out.model_dump(mode="json"), lines=lines)


def _show(args, settings) -> Outcome:
    from opinion_ledger.workflow import parse_at, show

    e = show(settings, args.entry_id, at=parse_at(args.at))
    lines = [_line(e), f"  opened because {', '.join(e.opened_because)}; next: {', '.join(e.next_states) or '—'}",
             *[f"    {ev.seq}. {ev.from_state or '—'} -> {ev.to_state} by {ev.actor}: {ev.reason}" for ev in e.events]]
    return Outcome(data=e.model_dump(mode="json"), lines=lines)


def _transition(args, settings) -> Outcome:
    from opinion_ledger.workflow import transition

    e = transition(settings, args.entry_id, to=args.to, reason=args.reason, actor=actor_of(args), role="cli",
                   expected_version=args.expect_version)
    return Outcome(data=e.model_dump(mode="json"), lines=[_line(e)])


def _open(args, settings) -> Outcome:
    from opinion_ledger.workflow import open_entries, parse_at

    out = open_entries(settings, at=parse_at(args.at), actor=actor_of(args))
    return Outcome(data=out.as_dict(), lines=[f"{out.candidates} qualifying items: {out.opened} entries opened, "
                                              f"{out.already_open} already open ({out.by_reason})"])
