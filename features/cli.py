"""CLI: ``ingest DIR`` (load a drop of source extracts) and ``catalog`` (source contract and feature catalog)."""

from __future__ import annotations

import argparse

from core.cli import Outcome, actor_of, iso_date
from core.settings import Settings


def register(sub, common) -> None:
    p = sub.add_parser("ingest", parents=[common],
                       help="validate and load a folder of source extracts (CSV/Excel/Parquet) into the warehouse")
    p.add_argument("dir", help="folder with <table>.parquet|.csv|.xlsx files named after the source tables")
    p.add_argument("--as-of", type=iso_date,
                   help="date the drop was extracted; later event dates are rejected "
                        "(default: the drop manifest's date, else today)")
    p.set_defaults(handler=_ingest)

    c = sub.add_parser("catalog", parents=[common], help="print the source contract and the feature catalog")
    c.add_argument("--sources", action="store_true", help="only the source contract")
    c.add_argument("--write-dictionary", action="store_true", help="rewrite docs/data_dictionary.md")
    c.set_defaults(handler=_catalog)


def _ingest(args: argparse.Namespace, settings: Settings) -> Outcome:
    from features.ingest import ingest
    from features.warehouse import batch

    with batch(settings, purpose=f"ingest {args.dir}", actor=actor_of(args)):
        summary = ingest(settings, args.dir, as_of=args.as_of, actor=actor_of(args))
    lines = [f"ingest {summary['ingest_id']} of {summary['drop_dir']} (as of {summary['as_of']}, "
             f"{summary['seconds']} s)",
             f"{'table':<15}{'loaded':>10}{'new':>9}{'revised':>9}{'quarant.':>10}{'dupl.':>8}  repaired"]
    for table, loaded in summary["loaded"].items():
        ch = summary["changes"].get(table, {})
        quarantined = sum(summary["quarantined"].get(table, {}).values())
        fixes = ", ".join(f"{k} {v}" for k, v in summary["repaired"].get(table, {}).items())
        lines.append(f"{table:<15}{loaded:>10,}{ch.get('new', 0):>9,}{ch.get('revised', 0):>9,}"
                     f"{quarantined:>10,}{summary['deduplicated'].get(table, 0):>8,}  {fixes}")
    rules = {}
    for by_rule in summary["quarantined"].values():
        for rule, n in by_rule.items():
            rules[rule] = rules.get(rule, 0) + n
    if rules:
        lines.append("quarantined by rule: " + ", ".join(f"{r} {n:,}" for r, n in sorted(rules.items())))
    for f in summary["files"]:
        if f["status"] in ("corrupt", "refused"):
            lines.append(f"{f['status'].upper()} {f['file']}: {f['error']}")
    if summary["ignored"]:
        lines.append("ignored: " + ", ".join(summary["ignored"]))
    unusable = summary["corrupt"] + summary["refused"]
    if unusable:  # bad input: exit 2 after loading the rest of the drop
        lines.append(f"error: {len(unusable)} file(s) not loaded ({', '.join(unusable)}); the rest of the drop loaded")
    return Outcome(data=summary, lines=lines, exit_code=2 if unusable else 0)


def _catalog(args: argparse.Namespace, settings: Settings) -> Outcome:
    from features import dictionary

    data: dict = {"sources": dictionary.sources_catalog()}
    lines = []
    if args.write_dictionary:
        path = dictionary.write()
        data["dictionary"] = str(path)
        lines.append(f"wrote {path}")
    for t in data["sources"]:
        lines.append(f"{t['table']} — {t['zh']} / {t['en']} (key {', '.join(t['key'])})")
        for c in t["columns"]:
            flags = ("required" if c["required"] else "") + (" PERSONAL" if c["personal"] else "")
            lines.append(f"  {c['name']:<24}{c['type']:<7}{flags.strip():<18}{c['zh']} / {c['en']}")
    if not args.sources:
        from features.catalog import FEATURE_SET

        features, note = dictionary.features_catalog()
        data.update(feature_set=FEATURE_SET, features=features)
        lines.append(f"features ({FEATURE_SET}): {len(features)}")
        if note:
            data["features_note"] = note
            lines.append(f"  {note}")
        for f in features:
            lines.append(f"  {f['name']:<40}{f['dimension']:<15}{f['unit']:<10}{f['zh']} / {f['en']}")
    return Outcome(data=data, lines=lines)
