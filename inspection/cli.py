"""CLI: `plan`, `inspection results|overdue|publish`, `evaluate-plan`, `evaluate-tiers`, `evaluate-schedule`."""

from __future__ import annotations

import argparse

from core.cli import Outcome, actor_of, iso_date
from core.errors import UserError
from core.settings import Settings


def register(sub, common) -> None:
    p = sub.add_parser("plan", parents=[common], help="draw a tier-differentiated double-random inspection plan")
    p.add_argument("--period", required=True, help="plan period id, year first (e.g. 2026 or 2026-Q1)")
    p.add_argument("--capacity", required=True, type=_nonneg_int, help="most random inspections in this plan")
    p.add_argument("--seed", required=True, type=int, help="seed of the draw (recorded with the plan)")
    p.add_argument("--inspectors", help="inspector registry CSV/Parquet (default: generated for the district)")
    p.add_argument("--publication", help="publication id to plan from (default: newest published)")
    p.set_defaults(handler=_plan)

    p = sub.add_parser("inspection", help="inspection results: record, publish, overdue")
    isub = p.add_subparsers(dest="inspection_command", metavar="ACTION", required=True)
    r = isub.add_parser("results", parents=[common], help="record inspection outcomes (one, or a CSV file)")
    r.add_argument("--file", help="CSV with inspection_id, result, checked_on[, published_on]")
    r.add_argument("--inspection-id")
    r.add_argument("--result", help="result code (core/rules/inspection_results.toml): no_issue, issue_corrected, ...")
    r.add_argument("--checked-on", type=iso_date, help="last day of the check (YYYY-MM-DD)")
    r.add_argument("--correct", action="store_true", help="replace a result already recorded")
    r.set_defaults(handler=_results)
    o = isub.add_parser("overdue", parents=[common], help="results not published within 20 working days")
    o.add_argument("--on", type=iso_date, help="reference date (default today)")
    o.add_argument("--plan", help="only this plan")
    o.set_defaults(handler=_overdue)
    b = isub.add_parser("publish", parents=[common], help="record that results were published (一公开)")
    b.add_argument("--inspection-id", action="append", required=True, dest="inspection_ids")
    b.add_argument("--on", type=iso_date, required=True, help="publication date")
    b.set_defaults(handler=_publish)

    e = sub.add_parser("evaluate-plan", parents=[common],
                       help="findings per 100 inspections: tiered plan vs uniform draw, on the hidden ground truth")
    e.add_argument("--ground-truth", required=True, help="synth's ground_truth folder (latent_monthly.parquet)")
    e.add_argument("--capacity", type=_nonneg_int, help="random inspections (default: what the ratios ask for)")
    e.add_argument("--seed", type=int, default=20260101)
    e.add_argument("--repeats", type=int, default=10, help="draws averaged (default 10)")
    e.add_argument("--month", type=iso_date, help="evaluation month (default: first month at/after as_of)")
    e.add_argument("--scores", help="stand-in scores Parquet (uscc, tier[, as_of]) instead of the publication")
    e.add_argument("--publication", help="publication id (default newest published)")
    e.set_defaults(handler=_evaluate_plan)

    t = sub.add_parser("evaluate-tiers", parents=[common],
                       help="each tier's rate of adverse findings from random inspections, weighted by 1/π")
    which = t.add_mutually_exclusive_group()
    which.add_argument("--publication", help="publication id (default newest published)")
    which.add_argument("--as-of", type=iso_date, help="the publication of this date")
    t.add_argument("--ground-truth", help="synth's ground_truth folder: also print each tier's true rate")
    t.set_defaults(handler=_evaluate_tiers)

    s = sub.add_parser("evaluate-schedule", parents=[common],
                       help="re-order a historical inspection calendar by score: how much earlier positives are found")
    s.add_argument("--table", required=True, help="inspection history (.parquet or .csv)")
    s.add_argument("--date-col", required=True)
    s.add_argument("--score-col", required=True)
    s.add_argument("--label-col", required=True)
    s.set_defaults(handler=_evaluate_schedule)


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _plan(args, settings: Settings) -> Outcome:
    from core import progress
    from inspection.plan import make_plan

    with progress.step(f"drawing plan {args.period}"):
        s = make_plan(settings, period=args.period, capacity=args.capacity, seed=args.seed, actor=actor_of(args),
                      inspectors_path=args.inspectors, publication_id=args.publication)
    lines = [f"plan {s['plan_id']}{' (already drawn)' if s.get('existing') else ''}: "
             f"{s['inspections']} inspections ({s['random']} random, {s['triggered']} triggered), seed {s['seed']}",
             f"publication {s['publication_id']} (as of {s['as_of']}), registries targets={s['registries']['targets']} "
             f"inspectors={s['registries']['inspectors']}",
             "tier  entities  random  share   policy  triggered"]
    for code, t in s["by_tier"].items():
        lines.append(f"{code:<5} {t['entities']:>8} {t['random']:>7} {t['drawn_share']:>6.1%} {t['policy_ratio']:>7.0%}"
                     f" {t['triggered']:>9}")
    f = s["floor"]
    lines.append(f"public-information floor: {f['already_this_year'] + f['drawn']}/{f['required_this_year']} "
                 f"enterprises this year ({'met' if f['met'] else 'NOT met'}), by tier {f.get('drawn_by_tier', {})}")
    for r in s.get("required", []):
        lines.append(f"required by law, {r['item']}: {r['already_this_year'] + r['drawn']}/{r['required_this_year']} "
                     f"this year ({'met' if r['met'] else 'NOT met'}), by tier {r['drawn_by_tier']}")
    lines += [f"note: {n}" for n in s["notes"]]
    if s.get("files"):
        lines.append(f"exported {s['files']['csv']} and {s['files']['json']}")
    return Outcome(data=s, lines=lines)


def _results(args, settings: Settings) -> Outcome:
    from inspection.results import record_results

    if args.file:
        import pandas as pd

        rows = pd.read_csv(args.file, dtype=str, keep_default_na=False).to_dict("records")
    elif args.inspection_id and args.result and args.checked_on:
        rows = [{"inspection_id": args.inspection_id, "result": args.result, "checked_on": args.checked_on}]
    else:
        raise UserError("give --file, or --inspection-id with --result and --checked-on")
    out = record_results(settings, results=rows, actor=actor_of(args), correct=args.correct)
    lines = [f"recorded {out['recorded']} results (the warehouse learns of them in the next batch step)"]
    lines += [f"  {r['inspection_id']} {r['result']} checked {r['checked_on']} publish by {r['due']}"
              for r in out["results"][:10]]
    return Outcome(data=out, lines=lines)


def _overdue(args, settings: Settings) -> Outcome:
    from inspection.results import overdue

    out = overdue(settings, on=args.on, plan_id=args.plan)
    lines = [f"{out['overdue']} results overdue for publication on {out['on']}"]
    lines += [f"  {r['inspection_id']} due {r['result_due']} ({r['workdays_overdue']} working days late)"
              for r in out["items"][:20]]
    return Outcome(data=out, lines=lines, exit_code=0)


def _publish(args, settings: Settings) -> Outcome:
    from inspection.results import mark_published

    out = mark_published(settings, inspection_ids=args.inspection_ids, published_on=args.on, actor=actor_of(args))
    return Outcome(data=out, lines=[f"published {out['published']} results, {len(out['late'])} late"])


def _evaluate_plan(args, settings: Settings) -> Outcome:
    from core import progress
    from inspection.evaluate_plan import evaluate_plan_for_district

    with progress.step("evaluating the tiered plan against a uniform draw"):
        out = evaluate_plan_for_district(settings, ground_truth_dir=args.ground_truth, capacity=args.capacity,
                                         seed=args.seed, repeats=args.repeats, month=args.month,
                                         scores_path=args.scores, publication_id=args.publication)
    lines = [f"month {out['month']}, {out['inspections']} inspections per draw, {out['repeats']} draws",
             f"adverse findings per 100 inspections: tiered {out['findings_per_100_tiered']:.2f} vs uniform "
             f"{out['findings_per_100_uniform']:.2f} (×{out['ratio']})",
             f"expected (propensity): tiered {out['expected_per_100_tiered']:.2f} vs uniform "
             f"{out['expected_per_100_uniform']:.2f} (×{out['expected_ratio']})",
             f"tiered mix per draw: {out['tiered_mix']}"]
    return Outcome(data=out, lines=lines)


def _evaluate_tiers(args, settings: Settings) -> Outcome:
    from core import progress
    from inspection.evaluate_tiers import evaluate_tiers, lines

    with progress.step("weighting the random inspections by their inclusion probabilities"):
        result = evaluate_tiers(settings, publication_id=args.publication, as_of=args.as_of,
                                ground_truth_dir=args.ground_truth)
    return Outcome(data=result.to_dict(), lines=lines(result))


def _evaluate_schedule(args, settings: Settings) -> Outcome:
    from inspection.evaluate_schedule import evaluate_schedule_file

    ev = evaluate_schedule_file(args.table, date_col=args.date_col, score_col=args.score_col,
                                label_col=args.label_col)
    lines = [f"{ev.inspections} inspections, {ev.positives} positives, {ev.period_start} – {ev.period_end}"]
    if ev.positives:
        q = ev.days_earlier_quantiles
        lo, hi = ev.days_earlier_ci
        p = "n/a" if ev.paired_p is None else f"{ev.paired_p:.3g}"
        lines += [f"days earlier per positive: mean {ev.days_earlier_mean} (95% bootstrap CI {lo} – {hi}), "
                  f"median {ev.days_earlier_median}, p10 {q['p10']}, p90 {q['p90']}",
                  f"paired t-test, historical vs re-ordered date: t = {ev.paired_t}, p = {p}",
                  f"found earlier {ev.share_found_earlier:.1%}, later {ev.share_found_later:.1%}",
                  f"positives found in the first half: actual {ev.first_half_share_actual:.1%}, "
                  f"re-ordered {ev.first_half_share_model:.1%}"]
    return Outcome(data=ev.to_dict(), lines=lines)
