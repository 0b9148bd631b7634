"""Entity-level attribution of opinion items: of the enterprises an item names, which is it negative about.

An item often names several enterprises ("游客投诉A店宰客，隔壁B店明码标价获点赞") and is negative about
only some. For each (item, named entity) pair the model reads the text around that entity's mentions,
with the entity itself replaced by ``Ⓔ`` and every other named entity by ``Ⓞ`` (so it learns the roles,
not the names), plus markers for "named first" and "named in the title"; a char n-gram TF-IDF + logistic
regression scores the pair. An item's targets are the named entities whose pair score passes the
threshold, and only when the item itself is negative.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from core.errors import UserError

TARGET, OTHER = "Ⓔ", "Ⓞ"
WINDOW = 24  # characters each side of a mention
FIRST, IN_TITLE, ABSENT = "〔首位〕", "〔标题〕", "〔未提及〕"
_SPLIT = re.compile(r"[;；]")


def as_list(value: Any) -> list[str]:
    """A list column's cell as a list of names: a list/array, or a ``;``-separated string; empty for none."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [v.strip() for v in _SPLIT.split(value) if v.strip()]
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    raise UserError(f"expected a list of names or a ';'-separated string, got {type(value).__name__}")


def context(title: str, text: str, entity: str, others: list[str]) -> str:
    """The masked text around ``entity``'s mentions, with the position markers."""
    full = f"{title}。{text}"
    names = sorted({entity, *others}, key=len, reverse=True)  # longer names first: no partial replacement
    masked = full
    for name in names:
        if name:
            masked = masked.replace(name, TARGET if name == entity else OTHER)
    spots = [m.start() for m in re.finditer(TARGET, masked)]
    if not spots:
        return ABSENT + masked[: 2 * WINDOW]
    marks = []
    first_other = masked.find(OTHER)
    if first_other < 0 or spots[0] < first_other:
        marks.append(FIRST)
    if spots[0] < len(title) + 1:
        marks.append(IN_TITLE)
    windows = [masked[max(0, i - WINDOW): i + WINDOW + 1] for i in spots]
    return "".join(marks) + " … ".join(windows)


def pairs(frame: pd.DataFrame, *, title_col: str | None, text_col: str, entities_col: str,
          targets_col: str | None = None) -> pd.DataFrame:
    """One row per (item, named entity): ``item`` (row position), ``entity``, ``context`` and ``target``."""
    rows: list[dict[str, Any]] = []
    titles = frame[title_col].fillna("").astype(str).to_numpy() if title_col else np.full(len(frame), "")
    texts = frame[text_col].fillna("").astype(str).to_numpy()
    ents = [as_list(v) for v in frame[entities_col].to_numpy(dtype=object)]
    tgts = [set(as_list(v)) for v in frame[targets_col].to_numpy(dtype=object)] if targets_col else None
    for i, names in enumerate(ents):
        if tgts is not None and not tgts[i] <= set(names):
            raise UserError(f"row {i}: targets {sorted(tgts[i] - set(names))} are not among the named entities "
                            f"{names}; expected targets to be a subset of {entities_col!r}")
        for name in names:
            others = [n for n in names if n != name]
            rows.append({"item": i, "entity": name, "context": context(titles[i], texts[i], name, others),
                         "target": bool(tgts is not None and name in tgts[i])})
    return pd.DataFrame(rows, columns=["item", "entity", "context", "target"])


def pipeline(seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
                         LogisticRegression(C=4.0, max_iter=2000, random_state=seed))


def negative_targets(pair_rows: pd.DataFrame, pair_prob: np.ndarray, item_negative: np.ndarray, *,
                     threshold: float, items: int) -> list[list[str]]:
    """Per item: the named entities its negative content is about (empty for a non-negative item)."""
    out: list[list[str]] = [[] for _ in range(items)]
    for i, name, p in zip(pair_rows["item"].to_numpy(), pair_rows["entity"].to_numpy(), pair_prob, strict=True):
        if item_negative[i] and p >= threshold:
            out[i].append(name)
    return out
