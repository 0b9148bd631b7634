"""Which enterprises an opinion item names, and which of them its negative content counts against.

One row of ``opinion_mentions`` per (item, named enterprise): the item's matched company and every name in
``mentioned_names``, each matched to a credit code by exact unique name (:mod:`features.name_match`).
``is_target`` says whether the item, when negative, counts against that enterprise; ``method`` says how that was
decided (``METHODS``: the sole named one; the attribution model's targets, :mod:`features.opinion_targets`; or
every named one when no model was trained with entities, as before attribution existed).

Rows are kept once made, so a snapshot's features do not move when later items arrive; a revised item gets rows
for its new version beside the old ones (``version_key``), so a snapshot reads the version it knew; a classifier
with another attribution model remakes the rows of multi-enterprise items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from core import rules
from features import fingerprints
from features import opinion_targets as ot
from features.name_match import match_names, normalise_names
from features.warehouse import has_table

TABLE = "opinion_mentions"
COLUMNS = (  # (name, DuckDB type, 中文, English): the table's declaration, also rendered in the data dictionary
    ("opinion_id", "VARCHAR", "舆情编号", "the item"),
    ("version_key", "VARCHAR", "版本键", "md5 of the item version's uscc, company_name and mentioned_names: a revised "
     "item gets rows of its own, and a snapshot reads those of the version it knew"),
    ("uscc", "VARCHAR", "统一社会信用代码", "credit code of the named enterprise; empty when its name matched none"),
    ("name", "VARCHAR", "企业名称", "the name as the item gives it; empty when only the vendor's code names it"),
    ("is_target", "BOOLEAN", "是否负面指向对象", "the item, when negative, counts against this enterprise"),
    ("target_probability", "DOUBLE", "指向概率", "attribution model's pair score; empty unless method is model"),
    ("method", "VARCHAR", "判定方式", "how is_target was decided: sole, model or every_named"),
    ("model_id", "VARCHAR", "模型编号", "the opinion classifier that decided, for method model"),
)
METHODS = {  # how is_target was decided
    "sole": "the item names one enterprise: it is the target (the item-level classifier alone decides)",
    "model": "the item names several; the opinion classifier trained with entities scores each pair, and targets "
             "are those reaching [opinion] target_threshold",
    "every_named": "the item names several and no attribution model was trained: every named enterprise counts, "
                   "until a classifier trained with entities attributes the item",
}


def version_key_sql(alias: str) -> str:
    """Standard SQL for the ``version_key`` of the opinion rows aliased ``alias``."""
    return (f"md5(COALESCE({alias}.uscc, '') || '|' || COALESCE({alias}.company_name, '') || '|' || "
            f"COALESCE({alias}.mentioned_names, ''))")


def create_table(con) -> None:
    """Create ``opinion_mentions`` if missing (nothing is written when it exists: a read-only copy stays usable)."""
    if not has_table(con, TABLE):
        con.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{n} {t}' for n, t, *_ in COLUMNS)})")


def ensure_mentions(con, *, classifier=None, rematch: bool = False) -> int:
    """Make the mention rows of items whose current version has none, and attribute multi-enterprise items.

    Args:
        con: warehouse connection holding ``opinions`` and ``entities``.
        classifier: the opinion classifier (:class:`features.opinions.OpinionClassifier`); when it was trained
            with entities, multi-enterprise items attributed otherwise (another model, or ``every_named``) are
            attributed again by it.
        rematch: try names that matched no credit code again (ingest: entities may have arrived).

    Returns:
        how many mention rows were written.
    """
    create_table(con)
    if rematch:
        _rematch(con)
    model = classifier if classifier is not None and classifier.targets is not None else None
    if model is not None:
        remade = (f"opinion_id IN (SELECT opinion_id FROM {TABLE} WHERE method = 'every_named' "
                  "OR (method = 'model' AND model_id IS DISTINCT FROM ?))")
        with fingerprints.changing(con, TABLE, f"t.{remade}", [model.model_id]):
            con.execute(f"DELETE FROM {TABLE} WHERE {remade}", [model.model_id])
    items = con.execute(
        f"SELECT o.opinion_id, {version_key_sql('o')} AS version_key, o.uscc, o.company_name, o.mentioned_names, "
        f"COALESCE(o.title, '') AS title, COALESCE(o.text, '') AS text FROM opinions o WHERE NOT EXISTS (SELECT 1 "
        f"FROM {TABLE} m WHERE m.opinion_id = o.opinion_id AND m.version_key = {version_key_sql('o')}) "
        "AND (o.uscc IS NOT NULL OR o.company_name IS NOT NULL "
        "OR o.mentioned_names IS NOT NULL) ORDER BY o.opinion_id").df()
    if items.empty:
        return 0
    rows = _mentions(con, items)
    _attribute(rows, items, model)
    frame = pa.Table.from_pandas(rows[[c for c, *_ in COLUMNS]], preserve_index=False)
    con.register("_new_mentions", frame)
    try:
        new = "EXISTS (SELECT 1 FROM _new_mentions n WHERE n.opinion_id = t.opinion_id AND n.version_key = t.version_key)"
        with fingerprints.changing(con, TABLE, new):  # items without rows of their version: none before
            con.execute(f"INSERT INTO {TABLE} SELECT * FROM _new_mentions")
    finally:
        con.unregister("_new_mentions")
    return int(len(rows))


def _named(items: pd.DataFrame) -> list[list[str]]:
    """Per item, its named enterprises: the matched company first, then the mentioned ones, each name once
    (names compared normalised, :func:`features.name_match.normalise_names`)."""
    raw = [([c.strip()] if isinstance(c, str) and c.strip() else []) + ot.as_list(m)
           for c, m in zip(items["company_name"], items["mentioned_names"], strict=True)]
    unique = sorted({n for ns in raw for n in ns})
    norm = dict(zip(unique, normalise_names(pa.array(unique, type=pa.string())).to_pylist(), strict=True))
    out = []
    for ns in raw:
        seen, kept = set(), []
        for n in ns:
            if norm[n] and norm[n] not in seen:
                seen.add(norm[n])
                kept.append(n)
        out.append(kept)
    return out


def _mentions(con, items: pd.DataFrame) -> pd.DataFrame:
    """One row per (item, named enterprise) with its credit code: for the item's company the code it carries (the
    vendor's, or ingest's name match: the item's own record of it), an exact unique name match for the others; one
    enterprise named twice (two spellings) is kept once."""
    names = _named(items)
    matched = match_names(con, sorted({n for ns in names for n in ns}))
    rows = []
    for i, (oid, key, code, company) in enumerate(zip(items["opinion_id"], items["version_key"], items["uscc"],
                                                      items["company_name"], strict=True)):
        code = code if isinstance(code, str) else None
        company = company.strip() if isinstance(company, str) else None
        seen: set[str] = set()
        for name in names[i]:
            uscc = code if name == company else matched.get(name)
            if uscc in seen:
                continue
            if uscc:
                seen.add(uscc)
            rows.append((i, oid, key, uscc, name))
        if code and code not in seen:  # the vendor's code, its company not (or differently) named
            rows.append((i, oid, key, code, None))
    return pd.DataFrame(rows, columns=["item", "opinion_id", "version_key", "uscc", "name"])


def _attribute(rows: pd.DataFrame, items: pd.DataFrame, model) -> None:
    """Fill ``is_target``, ``target_probability``, ``method`` and ``model_id`` of the rows in place."""
    per_item = rows.groupby("item")["item"].transform("size").to_numpy()
    rows["is_target"] = True
    rows["target_probability"] = np.nan
    rows["method"] = np.where(per_item == 1, "sole", "every_named")
    rows["model_id"] = None
    multi = np.flatnonzero(per_item > 1)
    if model is None or not len(multi):
        return
    sub = rows.iloc[multi]
    by_item = sub.groupby("item")["name"].agg(lambda s: [n for n in s if isinstance(n, str)]).to_dict()
    contexts = [ot.context(items["title"].iat[i], items["text"].iat[i], name if isinstance(name, str) else "",
                           [n for n in by_item[i] if n != name])
                for i, name in zip(sub["item"].to_numpy(), sub["name"].to_numpy(), strict=True)]
    prob = model.targets.predict_proba(contexts)[:, 1]
    threshold = float(rules.load("features")["opinion"]["target_threshold"])
    rows.loc[rows.index[multi], "target_probability"] = prob
    rows.loc[rows.index[multi], "is_target"] = prob >= threshold
    rows.loc[rows.index[multi], "method"] = "model"
    rows.loc[rows.index[multi], "model_id"] = model.model_id


def _rematch(con) -> None:
    """Give a credit code to mention names that matched none before, where they now match one entity."""
    names = [r[0] for r in con.execute(f"SELECT DISTINCT name FROM {TABLE} WHERE uscc IS NULL AND name IS NOT NULL"
                                       ).fetchall()]
    matched = match_names(con, names) if names else {}
    if not matched:
        return
    con.register("_mention_match", pa.table({"name": pa.array(list(matched), type=pa.string()),
                                             "uscc": pa.array(list(matched.values()), type=pa.string())}))
    try:
        # the update keeps name: the rows of these names are the rows it changes, before and after
        with fingerprints.changing(con, TABLE, "t.name IN (SELECT name FROM _mention_match)"):
            con.execute(f"UPDATE {TABLE} SET uscc = m.uscc FROM _mention_match m "
                        f"WHERE {TABLE}.uscc IS NULL AND {TABLE}.name = m.name")
    finally:
        con.unregister("_mention_match")
