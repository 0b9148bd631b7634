"""``credit-risk demo``: the whole chain on the embedded defaults, one step per command a user would type."""

from __future__ import annotations

import argparse
import shlex
import time
from datetime import date

from core.cli import Outcome, build_parser
from core.progress import say
from core.settings import Settings

# The simulated district's records and hidden ground truth end in December 2025: publish for that month
# so that the plan can be judged against the ground truth.
DEMO_AS_OF = date(2025, 12, 1)


def register(sub, common) -> None:
    p = sub.add_parser("demo", parents=[common],
                       help="run the end-to-end demo: synth → ingest → train → publish → plan → repair")
    p.add_argument("--entities", type=int, default=34000, help="size of the simulated district (default 34,000)")
    p.add_argument("--seed", type=int, default=20260101, help="seed of every random draw")
    p.add_argument("--capacity", type=int, default=1500, help="inspections in the demo plan")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace, settings: Settings) -> Outcome:
    home = settings.ensure_home()
    district = home / "district"
    truth = district / "ground_truth"
    common = ["--home", str(home)] + (["--actor", args.actor] if args.actor else [])
    steps = [
        ("synth", ["synth", "--out", str(district), "--entities", str(args.entities), "--seed", str(args.seed)]),
        ("ingest", ["ingest", str(district)]),
        ("train", ["train", "--ground-truth", str(truth), "--seed", str(args.seed)]),
        ("publish", ["score", "--as-of", DEMO_AS_OF.isoformat()]),
        ("plan", ["plan", "--period", f"{DEMO_AS_OF:%Y-%m}", "--capacity", str(args.capacity),
                  "--seed", str(args.seed)]),
        ("evaluate-plan", ["evaluate-plan", "--ground-truth", str(truth), "--capacity", str(args.capacity)]),
    ]
    parser = build_parser()
    results: dict[str, dict] = {}
    lines = [f"credit-risk demo — home {home}", ""]
    for name, argv in _with_repair_example(steps, settings):
        command = ["credit-risk", *argv]
        say(f"\n$ {shlex.join(command)}")
        ns = parser.parse_args([*argv, *common])
        start = time.perf_counter()
        outcome: Outcome = ns.handler(ns, settings)
        seconds = time.perf_counter() - start
        results[name] = {"seconds": round(seconds, 1), **outcome.data}
        say("\n".join(outcome.lines))
        lines.append(f"[{name}] {seconds:.0f} s — {shlex.join(command)}")
        lines.extend(f"    {line}" for line in outcome.lines[:6])
    from serving.cli import serve_hint

    lines += ["", *serve_hint(settings)]
    return Outcome(data={"home": str(home), "steps": results}, lines=lines)


def _with_repair_example(steps, settings: Settings):
    """Yield the steps, then a repair-eligibility check of an entity with a repairable record."""
    yield from steps
    code = _repairable_code(settings)
    if code:
        yield ("repair", ["repair", "eligibility", code, "--as-of", DEMO_AS_OF.isoformat()])


def _repairable_code(settings: Settings) -> str | None:
    """An entity whose newest in-effect penalty is eligible for repair now (the demo's example)."""
    from features.warehouse import connect
    from repair.eligibility import evaluate

    con = connect(settings, read_only=True)
    try:
        candidates = [r[0] for r in con.execute(
            "SELECT uscc FROM penalties WHERE procedure = 'ordinary' AND fine_paid_date IS NOT NULL "
            "AND decided_date < ? ORDER BY decided_date DESC, uscc LIMIT 50", [DEMO_AS_OF]).fetchall()]
        for code in candidates:
            if any(r.eligible_now for r in evaluate(con, code, as_of=DEMO_AS_OF)):
                return code
        return candidates[0] if candidates else None
    finally:
        con.close()
