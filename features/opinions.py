"""Chinese negative-opinion classifier (char n-gram TF-IDF + logistic regression): train, evaluate, classify.

Optionally with entity-level attribution (:mod:`features.opinion_targets`): trained on items labelled with
the enterprises they name and the ones they are negative about, it says for a new item which of its named
enterprises are targets. Held-out figures leave out held-out items that nearly duplicate a training item
(TF-IDF cosine ≥ ``NEAR_DUPLICATE``), so templated copies do not flatter them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import rules
from core.errors import UserError
from features import fingerprints

MODEL_FILE = "classifier.joblib"
META_FILE = "classifier.json"
SCORES_TABLE = "opinion_scores"
HOLDOUT_VALUES = {"test", "holdout", "valid", "validation", "eval", "true", "1"}
NEGATIVE_VALUES = {"negative", "neg", "1", "true", "yes", "负面"}
MIN_LABELLED = 20  # fewer labelled items (or fewer than 5 of a class) make no usable default model
NEAR_DUPLICATE = 0.9  # cosine of char 2-4-gram TF-IDF at or above which a held-out item copies a training one


@dataclass
class OpinionClassifier:
    """A fitted text pipeline and what it was trained on: ``metrics`` are on held-out items."""

    pipeline: Any = field(repr=False)
    model_id: str
    seed: int
    metrics: dict[str, Any]
    trained_at: str
    source: dict[str, Any] = field(default_factory=dict)
    targets: Any = field(default=None, repr=False)  # the entity-attribution pipeline, when trained with entities

    def predict_proba(self, texts) -> np.ndarray:
        """Probability that each text is negative / risk-relevant."""
        clean = pd.Series(list(texts), dtype=object).fillna("").astype(str).tolist()
        return self.pipeline.predict_proba(clean)[:, 1]

    def negative_targets(self, frame: pd.DataFrame, *, text_col: str, entities_col: str,
                         title_col: str | None = None) -> list[list[str]]:
        """Per item: which of the entities it names (``entities_col``) it is negative about."""
        from features import opinion_targets as ot

        if self.targets is None:
            raise UserError("this opinion classifier was trained without entities; train it with "
                            "--entities-col and --targets-col to attribute items to enterprises")
        threshold = float(self.metrics.get("threshold", 0.5))
        negative = self.predict_proba(_joined(frame, text_col, title_col)) >= threshold
        rows = ot.pairs(frame, title_col=title_col, text_col=text_col, entities_col=entities_col)
        prob = self.targets.predict_proba(rows["context"].tolist())[:, 1] if len(rows) else np.zeros(0)
        return ot.negative_targets(rows, prob, negative, threshold=float(self.metrics["target_threshold"]),
                                   items=len(frame))

    def save(self, folder: str | Path) -> Path:
        """Write the model and its metadata (metrics, seed, source) to ``folder``."""
        import joblib

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"item": self.pipeline, "targets": self.targets}, folder / MODEL_FILE)
        meta = {"model_id": self.model_id, "seed": self.seed, "metrics": self.metrics,
                "trained_at": self.trained_at, "source": self.source}
        (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> OpinionClassifier:
        import joblib

        folder = Path(folder)
        if not (folder / MODEL_FILE).is_file():
            raise UserError(f"expected an opinion classifier in {folder}, found none (run `credit-risk opinions train`)")
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        models = joblib.load(folder / MODEL_FILE)
        if not isinstance(models, dict):  # a classifier saved before entity attribution: the item model alone
            models = {"item": models, "targets": None}
        return cls(models["item"], meta["model_id"], int(meta["seed"]), meta["metrics"], meta["trained_at"],
                   meta.get("source", {}), models["targets"])


def negative_labels(values: pd.Series) -> np.ndarray:
    """Labels as booleans: True for negative (``negative``, 1, true, 负面), False for anything else given."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.fillna(0).astype(float).to_numpy() > 0
    return values.astype(str).str.strip().str.lower().isin(NEGATIVE_VALUES).to_numpy()


def _pipeline(seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=200_000),
        LogisticRegression(C=4.0, max_iter=2000, random_state=seed),
    )


def _joined(frame: pd.DataFrame, text_col: str, title_col: str | None) -> np.ndarray:
    text = frame[text_col].fillna("").astype(str)
    if title_col:
        text = frame[title_col].fillna("").astype(str) + "。" + text
    return text.to_numpy()


def _near_duplicates(train_texts: np.ndarray, test_texts: np.ndarray) -> np.ndarray:
    """Held-out items whose char 2-4-gram TF-IDF cosine with some training item is ≥ NEAR_DUPLICATE."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not len(test_texts):
        return np.zeros(0, dtype=bool)
    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 4), sublinear_tf=True).fit(train_texts)
    a, b = vec.transform(test_texts), vec.transform(train_texts)
    best = np.zeros(len(test_texts))
    for start in range(0, len(test_texts), 2000):  # bounded memory: 2,000 held-out rows at a time
        block = (a[start:start + 2000] @ b.T).max(axis=1).toarray().ravel()
        best[start:start + len(block)] = block
    return best >= NEAR_DUPLICATE


def _prf(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score, precision_score, recall_score

    return {"precision": round(float(precision_score(truth, pred, zero_division=0)), 4),
            "recall": round(float(recall_score(truth, pred, zero_division=0)), 4),
            "f1": round(float(f1_score(truth, pred, zero_division=0)), 4)}


def train(frame: pd.DataFrame, *, text_col: str, label_col: str, split_col: str | None = None,
          seed: int | None = None, holdout_share: float | None = None,
          source: dict[str, Any] | None = None, title_col: str | None = None,
          entities_col: str | None = None, targets_col: str | None = None) -> OpinionClassifier:
    """Fit on the training items and measure precision, recall and F1 on the held-out ones.

    Args:
        frame: labelled items.
        text_col: the Chinese text (title and body joined, for instance).
        label_col: negative / risk-relevant label (``negative`` or 1/true mean negative).
        split_col: optional column marking held-out rows (test/holdout/valid/true/1); else a stratified
            random share ``holdout_share`` is held out with ``seed``.
        title_col: optional title column, read before the text.
        entities_col, targets_col: the enterprises each item names and those it is negative about (lists or
            ``;``-separated names); given both, the entity-attribution model is trained and measured too.

    Returns:
        The fitted :class:`OpinionClassifier` (fitted on the training part only; its metrics are held-out).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    cfg = rules.load("features")["opinion"]
    seed = int(cfg["classifier_seed"] if seed is None else seed)
    holdout_share = float(cfg["holdout_share"] if holdout_share is None else holdout_share)
    if bool(entities_col) != bool(targets_col):
        raise UserError("entity attribution needs both --entities-col and --targets-col, got only one")
    for col in (text_col, label_col, split_col, title_col, entities_col, targets_col):
        if col and col not in frame.columns:
            raise UserError(f"expected a column {col!r}, got columns {list(frame.columns)}")
    rows = frame[frame[label_col].notna()].reset_index(drop=True)
    texts = _joined(rows, text_col, title_col)
    y = negative_labels(rows[label_col])
    if len(rows) < MIN_LABELLED or y.sum() < 5 or (~y).sum() < 5:
        raise UserError(f"expected at least {MIN_LABELLED} labelled items with 5 of each class, got "
                        f"{len(rows)} items ({int(y.sum())} negative)")
    if split_col:
        test = rows[split_col].astype(str).str.strip().str.lower().isin(HOLDOUT_VALUES).to_numpy()
        if test.all() or not test.any():
            raise UserError(f"expected {split_col!r} to mark some but not all rows as held out "
                            f"(values {sorted(HOLDOUT_VALUES)}), got {int(test.sum())} of {len(test)}")
        idx_train, idx_test = np.flatnonzero(~test), np.flatnonzero(test)
    else:
        idx_train, idx_test = train_test_split(np.arange(len(rows)), test_size=holdout_share,
                                               random_state=seed, stratify=y)
    dup = _near_duplicates(texts[idx_train], texts[idx_test])
    idx_eval = idx_test[~dup]
    if not len(idx_eval) or y[idx_eval].all() or not y[idx_eval].any():
        raise UserError(f"every held-out item but {len(idx_eval)} nearly duplicates a training item; expected "
                        f"held-out items of both classes that differ from the training ones")
    pipe = _pipeline(seed).fit(texts[idx_train], y[idx_train])
    prob = pipe.predict_proba(texts[idx_eval])[:, 1]
    threshold = float(cfg["negative_threshold"])
    pred, truth = prob >= threshold, y[idx_eval]
    metrics = {
        **_prf(truth, pred),
        "roc_auc": round(float(roc_auc_score(truth, prob)), 4) if 0 < truth.sum() < len(truth) else None,
        "threshold": threshold, "n_train": int(len(idx_train)), "n_test": int(len(idx_eval)),
        "near_duplicates_removed": int(dup.sum()), "negative_share_test": round(float(truth.mean()), 4),
    }
    targets = None
    if entities_col:
        targets, target_metrics = _train_targets(rows, idx_train, idx_eval, pred, text_col=text_col,
                                                 title_col=title_col, entities_col=entities_col,
                                                 targets_col=targets_col, seed=seed)
        metrics.update(target_metrics)
    digest = hashlib.sha256()
    digest.update(str(seed).encode())
    for t, label in zip(texts[idx_train], y[idx_train], strict=True):
        digest.update(f"{int(label)}\t{t}\n".encode())
    model_id = "opn-" + digest.hexdigest()[:12]
    return OpinionClassifier(pipe, model_id, seed, metrics, datetime.now(UTC).isoformat(timespec="seconds"),
                             source or {}, targets)


def _train_targets(rows: pd.DataFrame, idx_train: np.ndarray, idx_eval: np.ndarray, item_pred: np.ndarray, *,
                   text_col: str, title_col: str | None, entities_col: str, targets_col: str,
                   seed: int) -> tuple[Any, dict[str, Any]]:
    """Fit the entity-attribution model on the training items; entity-level P/R/F1 on the held-out ones.

    A held-out (item, entity) pair counts as predicted when the item is predicted negative and the pair
    passes the target threshold; as true when the entity is among the item's labelled targets.
    """
    from features import opinion_targets as ot

    threshold = float(rules.load("features")["opinion"]["target_threshold"])
    tr = ot.pairs(rows.iloc[idx_train], title_col=title_col, text_col=text_col, entities_col=entities_col,
                  targets_col=targets_col)
    if tr["target"].nunique() < 2:
        raise UserError(f"expected training items whose {entities_col!r} holds both targets and non-targets, "
                        f"got {int(tr['target'].sum())} targets among {len(tr)} named entities")
    model = ot.pipeline(seed).fit(tr["context"].tolist(), tr["target"].to_numpy())
    te = ot.pairs(rows.iloc[idx_eval], title_col=title_col, text_col=text_col, entities_col=entities_col,
                  targets_col=targets_col)
    prob = model.predict_proba(te["context"].tolist())[:, 1] if len(te) else np.zeros(0)
    negative = item_pred[te["item"].to_numpy()]
    truth = te["target"].to_numpy()
    scores = _prf(truth, negative & (prob >= threshold))
    naive = _prf(truth, negative)  # what item-level matching does: every named enterprise of a negative item
    return model, {"target_threshold": threshold, "entity_pairs_test": int(len(te)),
                   **{f"entity_{k}": v for k, v in scores.items()},
                   **{f"entity_naive_{k}": v for k, v in naive.items()}}


def model_dir(settings) -> Path:
    """Where the home keeps the current opinion classifier."""
    return settings.home / "opinions"


def train_table(settings, *, table: str | Path, text_col: str, label_col: str, split_col: str | None = None,
                seed: int | None = None, title_col: str | None = None, entities_col: str | None = None,
                targets_col: str | None = None) -> dict[str, Any]:
    """Train on a labelled Parquet table and make the result the home's current classifier."""
    frame = _read_table(table)
    clf = train(frame, text_col=text_col, label_col=label_col, split_col=split_col, seed=seed,
                title_col=title_col, entities_col=entities_col, targets_col=targets_col,
                source={"kind": "table", "path": str(Path(table).resolve()), "rows": int(len(frame)),
                        "text_col": text_col, "label_col": label_col, "split_col": split_col,
                        "title_col": title_col, "entities_col": entities_col, "targets_col": targets_col})
    clf.save(model_dir(settings))
    return {"model_id": clf.model_id, "seed": clf.seed, **clf.metrics, "path": str(model_dir(settings))}


def classify_table(settings, *, table: str | Path, text_col: str, out: str | Path, title_col: str | None = None,
                   entities_col: str | None = None) -> dict[str, Any]:
    """Add ``negative_probability`` (and, with ``entities_col``, ``negative_targets``) to a Parquet table."""
    clf = OpinionClassifier.load(model_dir(settings))
    frame = _read_table(table)
    for col in (text_col, title_col, entities_col):
        if col and col not in frame.columns:
            raise UserError(f"expected a column {col!r}, got columns {list(frame.columns)}")
    frame["negative_probability"] = clf.predict_proba(_joined(frame, text_col, title_col))
    if entities_col:
        frame["negative_targets"] = clf.negative_targets(frame, text_col=text_col, entities_col=entities_col,
                                                         title_col=title_col)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    threshold = float(clf.metrics.get("threshold", 0.5))
    return {"model_id": clf.model_id, "rows": int(len(frame)), "out": str(out.resolve()),
            "negative": int((frame["negative_probability"] >= threshold).sum())}


def _read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected a Parquet table, got {path} which does not exist")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for non-Parquet input
        raise UserError(f"expected a Parquet table at {path}, could not read it: {exc}") from None


def labelled_items(con, *, at_most: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Warehouse opinion items with a vendor sentiment: the default labelled set (in opinion_id order). With
    ``at_most``, a larger set is sampled down to that many items, the same ones for the same seed."""
    where = "FROM opinions WHERE vendor_sentiment IS NOT NULL"
    sample = "" if at_most is None else (  # every item when there are no more than at_most
        f"AND opinion_id IN (SELECT opinion_id {where} ORDER BY md5(opinion_id || '|{int(seed or 0)}'), opinion_id "
        f"LIMIT {int(at_most)})")
    return con.execute(
        "SELECT opinion_id, COALESCE(title, '') || ' ' || COALESCE(text, '') AS content, "
        f"vendor_sentiment {where} {sample} ORDER BY opinion_id").df()


def default_from_warehouse(con, *, seed: int | None = None) -> OpinionClassifier | None:
    """Train the default classifier on the vendor-labelled items; None when there are too few."""
    cfg = rules.load("features")["opinion"]
    seed = int(cfg["classifier_seed"] if seed is None else seed)
    items = labelled_items(con, at_most=int(cfg["default_max_labelled"]), seed=seed)
    y = negative_labels(items["vendor_sentiment"]) if len(items) else np.array([], dtype=bool)
    if len(items) < MIN_LABELLED or y.sum() < 5 or (~y).sum() < 5:
        return None
    return train(items, text_col="content", label_col="vendor_sentiment", seed=seed,
                 source={"kind": "warehouse", "table": "opinions", "rows": int(len(items)),
                         "label": "vendor_sentiment == negative"})


def current(settings, con) -> OpinionClassifier | None:
    """The home's classifier (last `opinions train`), else the default trained now from the warehouse and kept."""
    folder = model_dir(settings)
    if (folder / MODEL_FILE).is_file():
        return OpinionClassifier.load(folder)
    clf = default_from_warehouse(con)
    if clf is not None:
        clf.save(folder)
    return clf


def ensure_scores(con, *, classifier: OpinionClassifier | None = None) -> int:
    """Score warehouse items without vendor sentiment that have no score yet; return how many were scored.

    With a ``classifier``, scores made by another model are replaced. Without one, unscored items are
    scored by the default model (vendor-labelled items); existing scores are kept, so a snapshot's
    opinion features do not move when later items arrive. The items' named enterprises and targets are made
    too (:func:`features.opinion_mentions.ensure_mentions`, with the classifier's attribution model if any).
    """
    from features.opinion_mentions import ensure_mentions

    ensure_mentions(con, classifier=classifier)
    con.execute(f"CREATE TABLE IF NOT EXISTS {SCORES_TABLE} "
                "(opinion_id VARCHAR, negative_probability DOUBLE, model_id VARCHAR)")
    if classifier is not None:
        with fingerprints.changing(con, SCORES_TABLE, "t.model_id <> ?", [classifier.model_id]):
            con.execute(f"DELETE FROM {SCORES_TABLE} WHERE model_id <> ?", [classifier.model_id])
    todo = (f"FROM opinions o WHERE o.vendor_sentiment IS NULL AND NOT EXISTS (SELECT 1 FROM {SCORES_TABLE} s "
            "WHERE s.opinion_id = o.opinion_id)")
    if not con.execute(f"SELECT EXISTS (SELECT 1 {todo})").fetchall()[0][0]:
        return 0
    clf = classifier or default_from_warehouse(con)
    if clf is None:
        return 0
    batches = con.sql(f"SELECT o.opinion_id, COALESCE(o.title, '') || ' ' || COALESCE(o.text, '') AS content "
                      f"{todo} ORDER BY o.opinion_id").to_arrow_reader(
        int(rules.load("features")["opinion"]["score_batch_items"]))
    parts = []  # the scores only (an id and a float an item); the texts go batch by batch
    for batch in batches:
        items = batch.to_pandas()
        parts.append(pd.DataFrame({"opinion_id": items["opinion_id"].astype(object),
                                   "negative_probability": clf.predict_proba(items["content"]),
                                   "model_id": clf.model_id}))
    scores = pd.concat(parts, ignore_index=True)
    con.register("_new_scores", scores)
    try:
        with fingerprints.changing(con, SCORES_TABLE, "t.opinion_id IN (SELECT opinion_id FROM _new_scores)"):
            con.execute(f"INSERT INTO {SCORES_TABLE} SELECT opinion_id, negative_probability, model_id "
                        "FROM _new_scores")
    finally:
        con.unregister("_new_scores")
    return int(len(scores))
