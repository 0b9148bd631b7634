"""Opinion classifier: item-level candidates on the vendor-labelled items, entity attribution on the labelled set.

A district home (``--home H``, after `credit-risk synth` + `credit-risk ingest`) gives the vendor-labelled items
(``vendor_sentiment``, ~15% of labels wrong as a vendor's are); ``--labelled F`` is the synth labelled set
(``DIR/labelled/opinion_targets.parquet``: entities, targets, truth label). Both are split as `opinions train`
splits (stratified 25% held out, seeded) and held-out items that nearly duplicate a training item are left out.

Item level: precision/recall/F1/AUC at the 0.5 threshold and the scoring time per item (median of 5 runs over
the held-out items, and one item at a time) for each candidate, the current pipeline first. Entity level:
`opinions train` with entities, its entity F1 beside the naive "every named firm of a negative item".

    .venv/bin/python bench/bench_opinions.py --home bench/out/district --labelled bench/out/synth/labelled/opinion_targets.parquet
"""

from __future__ import annotations

import argparse
import statistics
import time


def _terms(text: str) -> list[str]:
    """Word-ish tokens without a segmenter: the opinion vocabulary's terms found in the text."""
    return [t for t in _vocabulary() if t in text]


def _vocabulary() -> tuple[str, ...]:
    from synth import opinions as op

    if not _VOCAB:
        pools = [*op.ISSUES.values(), op.POSITIVE, op.NEUTRAL, op.REACTION, op.OFFICIAL]
        _VOCAB.extend(sorted({t for pool in pools for t in pool}))
    return tuple(_VOCAB)


_VOCAB: list[str] = []


def candidates(seed: int) -> dict:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import VotingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    from features.opinions import _pipeline

    def tfidf(lo, hi):
        return TfidfVectorizer(analyzer="char", ngram_range=(lo, hi), min_df=2, sublinear_tf=True,
                               max_features=200_000)

    def svm():
        return CalibratedClassifierCV(LinearSVC(C=0.5, random_state=seed), cv=3)

    words = make_pipeline(FeatureUnion([("char", tfidf(1, 3)), ("terms", TfidfVectorizer(
        analyzer=_terms, sublinear_tf=True))]), LogisticRegression(C=4.0, max_iter=2000, random_state=seed))
    return {
        "current: char 1-3 + LR": _pipeline(seed),
        "char 1-3 + opinion-term words + LR": words,
        "char 2-4 + LR": make_pipeline(tfidf(2, 4), LogisticRegression(C=4.0, max_iter=2000, random_state=seed)),
        "char 1-3 + LR C=1": make_pipeline(tfidf(1, 3), LogisticRegression(C=1.0, max_iter=2000, random_state=seed)),
        "char 1-3 + calibrated linear SVM": make_pipeline(tfidf(1, 3), svm()),
        "char 2-4 + calibrated linear SVM": make_pipeline(tfidf(2, 4), svm()),
        "ensemble: char 1-3 (LR + SVM), soft vote": make_pipeline(tfidf(1, 3), VotingClassifier(
            [("lr", LogisticRegression(C=4.0, max_iter=2000, random_state=seed)), ("svm", svm())], voting="soft")),
    }


def split(texts, y, seed: int, share: float = 0.25):
    import numpy as np
    from sklearn.model_selection import train_test_split

    from features.opinions import _near_duplicates

    tr, te = train_test_split(np.arange(len(y)), test_size=share, random_state=seed, stratify=y)
    dup = _near_duplicates(texts[tr], texts[te])
    return tr, te[~dup], int(dup.sum())


def item_level(home: str, seed: int, splits: int) -> None:
    import numpy as np
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    from core.settings import Settings
    from features import warehouse
    from features.opinions import labelled_items, negative_labels

    con = warehouse.connect(Settings.from_env(home), read_only=True)
    items = labelled_items(con)
    con.close()
    texts, y = items["content"].to_numpy(), negative_labels(items["vendor_sentiment"])
    rows: dict[str, list[tuple]] = {}
    for k in range(splits):
        tr, te, dup = split(texts, y, seed + k)
        print(f"split {k + 1}: {len(items):,} vendor-labelled items ({y.mean():.1%} negative); train {len(tr):,}, "
              f"held out {len(te):,} ({dup} near-duplicates left out)")
        for name, pipe in candidates(seed + k).items():
            t0 = time.perf_counter()
            pipe.fit(texts[tr], y[tr])
            fit = time.perf_counter() - t0
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                prob = pipe.predict_proba(texts[te])[:, 1]
                runs.append((time.perf_counter() - t0) / len(te) * 1e6)
            single = []
            for t in texts[te][:200]:
                t0 = time.perf_counter()
                pipe.predict_proba([t])
                single.append((time.perf_counter() - t0) * 1e6)
            pred = prob >= 0.5
            rows.setdefault(name, []).append((precision_score(y[te], pred), recall_score(y[te], pred),
                                              f1_score(y[te], pred), roc_auc_score(y[te], prob), fit,
                                              statistics.median(runs), statistics.median(single)))
    base = np.array([r[2] for r in rows["current: char 1-3 + LR"]])
    print(f"item level, mean over {splits} split(s); ΔF1 = F1 minus the current pipeline's on the same split "
          "(min..max)")
    print(f"  {'candidate':40s} {'P':>6s} {'R':>6s} {'F1':>6s} {'AUC':>6s} {'ΔF1':>16s} {'fit s':>6s} "
          f"{'µs/item':>8s} {'1 item µs':>9s}")
    for name, r in rows.items():
        a = np.array(r)
        d = a[:, 2] - base
        print(f"  {name:40s} {a[:, 0].mean():6.3f} {a[:, 1].mean():6.3f} {a[:, 2].mean():6.3f} {a[:, 3].mean():6.3f} "
              f"{d.mean():+7.4f} ({d.min():+.3f}..{d.max():+.3f}) {a[:, 4].mean():6.1f} "
              f"{np.median(a[:, 5]):8.0f} {np.median(a[:, 6]):9.0f}")


def entity_level(path: str, seed: int) -> None:
    import pandas as pd

    from features.opinions import train

    frame = pd.read_parquet(path)
    t0 = time.perf_counter()
    clf = train(frame, text_col="text", title_col="title", label_col="label", entities_col="entities",
                targets_col="targets", seed=seed)
    m = clf.metrics
    print(f"entity level: {len(frame):,} labelled items ({frame['entities'].str.contains(';').sum():,} naming two "
          f"firms); held out {m['n_test']:,} items ({m['near_duplicates_removed']} near-duplicates left out), "
          f"{m['entity_pairs_test']:,} item-firm pairs; {time.perf_counter() - t0:.1f} s")
    print(f"  item level      P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}")
    print(f"  attribution     P {m['entity_precision']:.3f}  R {m['entity_recall']:.3f}  F1 {m['entity_f1']:.3f}")
    print(f"  every named firm P {m['entity_naive_precision']:.3f}  R {m['entity_naive_recall']:.3f}  "
          f"F1 {m['entity_naive_f1']:.3f}")
    two = frame[frame["entities"].str.contains(";")]
    if len(two) >= 40:
        m2 = train(two, text_col="text", title_col="title", label_col="label", entities_col="entities",
                   targets_col="targets", seed=seed).metrics
        print(f"  two-firm items only: attribution F1 {m2['entity_f1']:.3f} vs every named firm "
              f"{m2['entity_naive_f1']:.3f} ({m2['entity_pairs_test']:,} pairs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", help="district home with ingested opinions (vendor-labelled items)")
    parser.add_argument("--labelled", help="labelled set with entities and targets (synth labelled/)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--splits", type=int, default=3, help="held-out splits (seeds seed, seed+1, ...)")
    args = parser.parse_args()
    if args.home:
        item_level(args.home, args.seed, args.splits)
    if args.labelled:
        entity_level(args.labelled, args.seed)


if __name__ == "__main__":
    main()
