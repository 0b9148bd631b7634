"""``credit-risk cycle``: run (or resume) the monthly reclassification cycle of one as_of date."""

from __future__ import annotations

import argparse

from core.cli import Outcome, actor_of, iso_date
from core.settings import Settings


def register(sub, common) -> None:
    p = sub.add_parser("cycle", parents=[common], help="monthly cycle: ingest, snapshot, publish, monitor, retrain",
                       description="Ingest the month's drop, build the snapshot, publish tiers with the champion, "
                                   "monitor drift and migration, retrain when due, write the HTML report. "
                                   "Re-running an interrupted month resumes it.")
    p.add_argument("--as-of", type=iso_date, required=True, help="the cycle date YYYY-MM-DD (snapshot as_of)")
    p.add_argument("--drop", help="folder with the month's extracts to ingest first")
    p.add_argument("--retrain", default="auto", choices=["auto", "never", "always"],
                   help="auto: core/rules/cycle.toml decides (default); never; always")
    p.add_argument("--rules", help="a cycle rules file instead of core/rules/cycle.toml")
    p.add_argument("--wait", action="store_true", help="when another cycle of this home runs, wait for it "
                   "(default: refuse at once with exit code 75, naming the running cycle)")
    p.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"],
                   help="snapshot and scoring: duckdb on this machine (default); spark: the same SQL on Spark over the Parquet layout")
    p.add_argument("--spark-master", help="with --engine spark: the master URL (default CREDIT_RISK_SPARK_MASTER "
                   "or local[2])")
    p.set_defaults(handler=_cycle)


def _cycle(args: argparse.Namespace, settings: Settings) -> Outcome:
    from cycle.run import run_cycle

    out = run_cycle(settings, as_of=args.as_of, drop=args.drop, actor=actor_of(args), retrain=args.retrain,
                    rules_file=args.rules, wait=args.wait, engine=args.engine, spark_master=args.spark_master)
    return Outcome(data=out, lines=summary_lines(out))


def summary_lines(out: dict) -> list[str]:
    """One screen: publication, tiers, drift, alerts, retraining, report."""
    pub = out["published"]
    total = max(pub["entities"], 1)
    lines = [f"cycle {out['as_of']}" + ("  [already done]" if out.get("already_done") else "")
             + f"  publication {pub['publication_id']}  model v{pub['model_version']}",
             f"{pub['entities']:,} entities: " + ", ".join(f"{k} {v:,} ({v / total:.1%})"
                                                          for k, v in out["tier_counts"].items())]
    fired = {k: v for k, v in (out.get("trigger_counts") or {}).items() if v}
    if fired:
        lines.append("direct triggers: " + ", ".join(f"{k} {v:,}" for k, v in fired.items()))
    mig = out.get("migration")
    if mig:
        lines.append(f"vs {mig['previous_publication_id']}: {mig['moved_up']:,} to higher risk, "
                     f"{mig['moved_down']:,} to lower, {sum(mig['new'].values()):,} new, "
                     f"{sum(mig['gone'].values()):,} gone")
    psi = out.get("psi_score")
    lines.append("score PSI " + (f"{psi:.3f}" if psi is not None else "n/a (first month)")
                 + f"; features drifting: {len(out.get('features_drifting') or [])}")
    dq = out.get("data_quality") or {}
    if dq.get("ingested"):
        lines.append(f"ingest {dq['ingest_id']}: {dq['loaded']:,} rows, {dq['quarantined']:,} quarantined")
    lines.append(f"jumpers {out['jumpers']['count']:,}; repairs taking effect {out['repairs']['count']:,}")
    for a in out.get("alerts", []):
        lines.append(f"  ! {a['code']}: {a['zh']} / {a['en']} ({a.get('value')})")
    dec = out["retrain"]["decision"]
    lines.append(("retrained" if out["retrained"] else "not retrained") + ": " + "; ".join(dec["reasons"]))
    tr = out["retrain"].get("training")
    if tr:
        lines.append(f"challenger v{tr['model_version']}: " + ("promoted" if out["promoted"] else "not promoted")
                     + " — " + "; ".join(tr.get("promotion_reasons") or []))
    lines.append(f"report: {out.get('report')}")
    return lines
