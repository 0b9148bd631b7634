"""Training defaults on real-shaped tables: the tuned procedure against the previous defaults and the logistic.

Two data sets, each scored on its own test rows (never seen by the choice):
- ``--home H``: a district home (synth + ingest); the warehouse spine with its label embargo, as `train` uses it;
- a public-shaped inspection history (``training.toy.inspection_history``: high-cardinality inspector and
  district ids, ~8% positives, a train/test split column), for each of ``--seeds``.

"previous" is the procedure before the search: the default parameters fitted on train with early stopping on
valid. "tuned" is `train`'s procedure (search on temporal folds within ``--budget-s``, refit on train + valid);
"logistic" is its sign-constrained logistic candidate. Prints test AUC of each and the seconds taken.

    .venv/bin/python bench/bench_tables.py --home bench/out/district --budget-s 120
    .venv/bin/python bench/bench_tables.py --rows 30000 --seeds 11 12 13
"""

from __future__ import annotations

import argparse
import time


def previous_defaults_auc(ds) -> float:
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    from training.model import to_matrix
    from training.train import DEFAULT_EARLY_STOPPING, DEFAULT_PARAMS, DEFAULT_ROUNDS

    feats = ds.features
    tr, va, te = (ds.part(s) for s in ("train", "valid", "test"))
    cat = [i for i, f in enumerate(feats) if f["kind"] == "categorical"]
    mono = [int(f.get("direction", 0)) if f.get("kind") != "categorical" else 0 for f in feats]
    params = {**DEFAULT_PARAMS, "seed": 1, "monotone_constraints": mono}
    d_tr = lgb.Dataset(to_matrix(tr, feats), tr[ds.label_col], categorical_feature=cat)
    d_va = lgb.Dataset(to_matrix(va, feats), va[ds.label_col], reference=d_tr, categorical_feature=cat)
    booster = lgb.train(params, d_tr, DEFAULT_ROUNDS, valid_sets=[d_va],
                        callbacks=[lgb.early_stopping(DEFAULT_EARLY_STOPPING, verbose=False)])
    return float(roc_auc_score(te[ds.label_col], booster.predict(to_matrix(te, feats),
                                                                 num_iteration=booster.best_iteration)))


def compare(ds, *, name: str, budget_s: float) -> None:
    from sklearn.metrics import roc_auc_score

    from training.train import train_candidates

    te = ds.part("test")
    t0 = time.perf_counter()
    prev = previous_defaults_auc(ds)
    t1 = time.perf_counter()
    sel = train_candidates(ds, seed=20260101, budget_s=budget_s)
    t2 = time.perf_counter()
    auc = {k: float(roc_auc_score(te[ds.label_col], m.predict_proba(te))) for k, m in sel.models.items()}
    trials = len(sel.record["trials"].get("lightgbm", []))
    print(f"{name}: test AUC previous {prev:.4f} | tuned lightgbm {auc['lightgbm']:.4f} "
          f"({auc['lightgbm'] - prev:+.4f}) | logistic {auc['logistic']:.4f} | registered {sel.record['winner']} "
          f"(fold AUC {sel.record['chosen'][sel.record['winner']]['auc']:.4f}); {trials} configurations, "
          f"{len(sel.record['folds'])} folds; previous {t1 - t0:.1f} s, tuned {t2 - t1:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", help="district home: compare on its warehouse spine")
    ap.add_argument("--rows", type=int, default=30_000, help="rows of the public-shaped inspection table")
    ap.add_argument("--seeds", type=int, nargs="*", default=[11, 12, 13])
    ap.add_argument("--budget-s", type=float, default=120.0)
    args = ap.parse_args()
    from core.settings import apply_offline_env

    apply_offline_env()
    if args.home:
        from core.settings import Settings
        from features.warehouse import connect
        from training import labels
        from training.dataset import default_spine, from_warehouse

        settings = Settings.from_env(args.home)
        con = connect(settings)  # the spine's snapshots are stored for the next run
        try:
            data_end = labels.data_end(con)
            start, end = default_spine(data_end)
            t0 = time.perf_counter()
            ds = from_warehouse(con, start=start, end=end, data_end=data_end)
            print(f"district spine {start} … {end}: {len(ds.frame):,} rows in {time.perf_counter() - t0:.1f} s")
        finally:
            con.close()
        compare(ds, name="district (newest slice)", budget_s=args.budget_s)
        return
    from training.dataset import from_frame
    from training.toy import inspection_history

    for seed in args.seeds:
        frame = inspection_history(rows=args.rows, seed=seed)
        ds = from_frame(frame, id_col="inspection_id", time_col="inspection_date", label_col="critical_found",
                        split_col="split")
        compare(ds, name=f"inspection table {args.rows:,} rows, seed {seed}", budget_s=args.budget_s)


if __name__ == "__main__":
    main()
