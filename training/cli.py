"""CLI: ``train`` (warehouse spine or --table), ``promote`` and ``score`` (--table here, --as-of publishes)."""

from __future__ import annotations

import argparse

from core.cli import Outcome, actor_of, iso_date
from core.errors import UserError
from core.settings import Settings


def register(sub, common) -> None:
    p = sub.add_parser("train", parents=[common],
                       help="train, calibrate, evaluate and register a model; promote it if it beats the champion")
    p.add_argument("--table", help="bring-your-own labelled table (.parquet/.csv) instead of the warehouse")
    p.add_argument("--id-col", help="with --table: the entity id column")
    p.add_argument("--time-col", help="with --table: the time column (newest rows are held out)")
    p.add_argument("--label", help="with --table: the 0/1 label column")
    p.add_argument("--split-col", help="with --table: a column saying train/valid/test, or train/test (valid is then "
                   "carved from the newest train rows)")
    p.add_argument("--start", type=iso_date, help="first as_of of the warehouse spine (default: 5 years back)")
    p.add_argument("--end", type=iso_date, help="last as_of (default: newest with a complete 12-month label)")
    p.add_argument("--freq", default="quarterly", choices=["monthly", "quarterly"], help="spine frequency")
    p.add_argument("--data-end", type=iso_date, help="last date the sources are complete (default: newest known_date)")
    p.add_argument("--ground-truth", help="simulator ground-truth folder: adds the ceiling AUC to the evaluation")
    p.add_argument("--seed", type=int, default=20260101, help="seed of every random draw (default 20260101)")
    p.add_argument("--calibration", default="platt", choices=["platt", "isotonic"])
    p.add_argument("--tier-policy", choices=["target_shares", "pd_bands"], help="default: core/rules/tiers.toml")
    p.add_argument("--rounds", type=int, help="most boosting rounds (early stopping picks fewer)")
    p.add_argument("--budget-s", type=float, help="wall seconds for the LightGBM parameter search on temporal "
                   "folds (default 120; 0 scores the default parameters only)")
    p.add_argument("--search-configs", type=int, help="try exactly this many parameter configurations instead of "
                   "a time budget (repeats a run exactly; the first is always the default parameters)")
    p.add_argument("--no-promote", action="store_true", help="register only; do not apply the promotion gate")
    p.add_argument("--label-correction", default="none", choices=["none", "random-checks"],
                   help="warehouse spine: re-label train/valid rows by random inspections, weighted by 1/π "
                        "(default none)")
    p.set_defaults(handler=_train)

    p = sub.add_parser("promote", parents=[common], help="move the champion alias to a candidate version")
    p.add_argument("--auto", action="store_true", help="apply the promotion gate (core/rules/promotion.toml)")
    p.add_argument("--version", help="candidate version (default: the newest registered)")
    p.add_argument("--force", action="store_true", help="promote without the gate (needs --reason)")
    p.add_argument("--reason", help="why a forced promotion is made (audited)")
    p.set_defaults(handler=_promote)

    p = sub.add_parser("score", parents=[common],
                       help="score a table (--table/--model/--out) or publish tiers for a snapshot date (--as-of)")
    p.add_argument("--table", help="table of features to score (.parquet/.csv)")
    p.add_argument("--model", default="champion", help="version number, alias or bundle folder (default champion)")
    p.add_argument("--out", help="with --table: where to write the scored table")
    p.add_argument("--reasons", action="store_true", help="with --table: add the top reasons per row")
    p.add_argument("--as-of", type=iso_date, help="publish tiers of every active entity at this snapshot date")
    p.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"],
                   help="duckdb: this machine (default); spark: the same SQL on Spark over the Parquet layout")
    p.add_argument("--spark-master", help="with --as-of --engine spark: the master URL (default CREDIT_RISK_SPARK_MASTER "
                   "or local[2])")
    p.set_defaults(handler=_score)


def _train(args: argparse.Namespace, settings: Settings) -> Outcome:
    from training import run

    options = {"seed": args.seed, "ground_truth": args.ground_truth, "promote": not args.no_promote,
               "calibration": args.calibration, "tier_kind": args.tier_policy, "num_boost_round": args.rounds,
               "budget_s": args.budget_s, "max_configs": args.search_configs}
    if args.table:
        if args.label_correction != "none":
            raise UserError("--label-correction needs the warehouse spine (its inspections), not --table")
        missing = [f"--{n.replace('_', '-')}" for n in ("id_col", "time_col", "label") if not getattr(args, n)]
        if missing:
            raise UserError(f"--table needs {', '.join(missing)}")
        result = run.train_table(settings, table=args.table, id_col=args.id_col, time_col=args.time_col,
                                 label_col=args.label, split_col=args.split_col, actor=actor_of(args), **options)
    else:
        result = run.train_warehouse(settings, actor=actor_of(args), start=args.start, end=args.end,
                                     freq=args.freq, data_end=args.data_end,
                                     label_correction=args.label_correction, **options)
    m = result["metrics"]
    lines = [f"model version {result['model_version']} (run {result['run_id']}), {result['num_trees']} trees",
             "newest slice: " + ", ".join(f"{k} {m[k]:.3f}" for k in ("auc", "ks", "brier", "ece", "baseline_auc",
                                                                       "ground_truth_auc") if k in m),
             "tier event rates: " + ", ".join(f"{k} {v:.1%}" for k, v in result["tier_event_rates"].items()),
             ("promoted to champion: " if result["promoted"] else "not promoted: ")
             + "; ".join(result["promotion_reasons"]),
             f"report: {result['report']}"]
    return Outcome(data=result, lines=lines)


def _promote(args: argparse.Namespace, settings: Settings) -> Outcome:
    from training.promote import promote

    result = promote(settings, version=args.version, auto=args.auto, force=args.force, actor=actor_of(args),
                     reason=args.reason)
    word = "promoted to champion" if result["promoted"] else "not promoted"
    lines = [f"version {result['version']}: {word} (previous champion: {result['previous_champion']})"]
    lines += [f"  - {r}" for r in result["reasons"]]
    return Outcome(data=result, lines=lines, exit_code=0 if result["promoted"] else 1)


def _score(args: argparse.Namespace, settings: Settings) -> Outcome:
    if bool(args.table) == bool(args.as_of):
        raise UserError("expected either --table FILE --out FILE, or --as-of YYYY-MM-DD")
    if args.as_of:
        from serving.publish import publish, summary_lines

        if args.engine == "spark":
            from training import spark_scoring

            result = spark_scoring.publish(settings, as_of=args.as_of, actor=actor_of(args), master=args.spark_master)
        else:
            result = publish(settings, as_of=args.as_of, actor=actor_of(args))
        return Outcome(data=result, lines=summary_lines(result))
    if not args.out:
        raise UserError("--table needs --out FILE for the scored table")
    from training.batch import score_table

    result = score_table(settings, table=args.table, out=args.out, model=args.model, reasons=args.reasons)
    lines = [f"scored {result['rows']:,} rows with model {result['model_version']} → {result['out']}",
             "tiers: " + ", ".join(f"{k} {v}" for k, v in result["tier_counts"].items())]
    return Outcome(data=result, lines=lines)
