"""CLI: `credit-risk features` (feature snapshot) and `credit-risk opinions train|classify`."""

from __future__ import annotations

from core.cli import Outcome, iso_date


def register(sub, common) -> None:
    p = sub.add_parser("features", parents=[common], help="build a point-in-time feature snapshot into the warehouse")
    p.add_argument("--as-of", type=iso_date, required=True, help="snapshot date YYYY-MM-DD (records known before it)")
    p.add_argument("--export", help="also write the snapshot to this Parquet file")
    p.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"],
                   help="duckdb: this machine (default); spark: the same SQL on Spark over the Parquet layout")
    p.add_argument("--spark-master", help="with --engine spark: the master URL (default CREDIT_RISK_SPARK_MASTER "
                   "or local[2])")
    p.set_defaults(handler=_features)

    o = sub.add_parser("opinions", help="train or apply the negative-opinion text classifier")
    osub = o.add_subparsers(dest="opinions_command", metavar="ACTION", required=True)
    t = osub.add_parser("train", parents=[common], help="train on labelled items; prints held-out precision/recall/F1")
    t.add_argument("--table", required=True, help="Parquet file of labelled items")
    t.add_argument("--text-col", required=True, help="column with the text")
    t.add_argument("--label-col", required=True, help="label column: negative / 1 / true mean negative")
    t.add_argument("--split-col", help="column marking held-out rows (test, holdout, valid, true, 1)")
    t.add_argument("--seed", type=int, help="random seed (default from core/rules/features.toml)")
    t.add_argument("--title-col", help="optional title column, read before the text")
    t.add_argument("--entities-col", help="enterprises each item names (list or ';'-separated): with "
                   "--targets-col, also train which of them the item is negative about")
    t.add_argument("--targets-col", help="the named enterprises the item is negative about (list or ';'-separated)")
    t.set_defaults(handler=_train)
    c = osub.add_parser("classify", parents=[common], help="add negative_probability with the last trained model")
    c.add_argument("--table", required=True, help="Parquet file of items")
    c.add_argument("--text-col", required=True, help="column with the text")
    c.add_argument("--out", required=True, help="Parquet file to write")
    c.add_argument("--title-col", help="optional title column, read before the text")
    c.add_argument("--entities-col", help="enterprises each item names: adds negative_targets (needs a model "
                   "trained with --entities-col/--targets-col)")
    c.set_defaults(handler=_classify)


def _features(args, settings) -> Outcome:
    from features.snapshot import run

    if args.engine == "spark":
        from features.spark import run as spark_run

        snap = spark_run.snapshot(settings, as_of=args.as_of, master=args.spark_master)
        data = spark_run.summary(snap)
        if args.export:
            from pathlib import Path

            Path(args.export).parent.mkdir(parents=True, exist_ok=True)
            snap.frame.to_parquet(args.export, index=False)
            data["export"] = str(Path(args.export).resolve())
    else:
        data = run(settings, as_of=args.as_of, export=args.export)
    lines = [f"snapshot {data['snapshot_id']}",
             f"  as of {data['as_of']}: {data['entities']} entities × {data['features']} features "
             f"({data['feature_set']}, {data['build_seconds']:.1f} s, {data.get('engine', 'duckdb')})",
             f"  opinion model: {data['opinion_model'] or 'none (vendor sentiment only)'}"]
    if data.get("export"):
        lines.append(f"  exported to {data['export']}")
    return Outcome(data=data, lines=lines)


def _train(args, settings) -> Outcome:
    from features.opinions import train_table

    data = train_table(settings, table=args.table, text_col=args.text_col, label_col=args.label_col,
                       split_col=args.split_col, seed=args.seed, title_col=args.title_col,
                       entities_col=args.entities_col, targets_col=args.targets_col)
    lines = [f"opinion classifier {data['model_id']} (seed {data['seed']}) saved to {data['path']}",
             f"  held-out ({data['n_test']} items, {data['near_duplicates_removed']} near-duplicates of training "
             f"items left out): precision {data['precision']:.3f}  recall {data['recall']:.3f}  F1 {data['f1']:.3f}"]
    if "entity_f1" in data:
        lines.append(f"  entity attribution ({data['entity_pairs_test']} item-entity pairs): precision "
                     f"{data['entity_precision']:.3f}  recall {data['entity_recall']:.3f}  F1 {data['entity_f1']:.3f}")
    return Outcome(data=data, lines=lines)


def _classify(args, settings) -> Outcome:
    from features.opinions import classify_table

    data = classify_table(settings, table=args.table, text_col=args.text_col, out=args.out,
                          title_col=args.title_col, entities_col=args.entities_col)
    lines = [f"classified {data['rows']} items with {data['model_id']}: {data['negative']} negative",
             f"  written to {data['out']}"]
    return Outcome(data=data, lines=lines)
