"""The population's text (credit codes, names, addresses): drawn for every entity as small numbers, composed
into strings a slice of entities at a time and held as Arrow text, so no Python string lives per entity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core import uscc
from synth import names as nm
from synth.params import choice
from synth.text_store import TEXT, TextColumn

SLICE = 500_000  # entities composed as Python strings at a time


def _slices(n: int) -> Iterator[slice]:
    for lo in range(0, n, SLICE):
        yield slice(lo, min(lo + SLICE, n))


def _text(parts: list[pa.Array], typ: pa.DataType = TEXT) -> pa.Array:
    return pa.chunked_array(parts, type=typ).combine_chunks() if parts else pa.array([], type=typ)


# ----------------------------------------------------------------------------------------------- credit codes
def codes(rng: np.random.Generator, entity_type: np.ndarray, region: str) -> pa.Array:
    """Unique valid credit codes: '9' + type code + region + 9-character organisation code + check."""
    n = len(entity_type)
    body = np.empty((n, 9), dtype=np.uint8)
    for s in _slices(n):  # the same draws as one (n, 9) draw
        body[s] = rng.integers(0, 31, (s.stop - s.start, 9))
    body[:, 0] = rng.integers(0, 10, n)  # organisation codes mostly start with a digit
    weights = 31 ** np.arange(9, dtype=np.int64)
    key = np.empty(n, dtype=np.int64)
    for s in _slices(n):
        key[s] = body[s].astype(np.int64) @ weights
    while True:  # redraw collisions
        dup = pd.Series(key).duplicated().to_numpy()
        if not dup.any():
            break
        body[dup] = rng.integers(0, 31, (int(dup.sum()), 9))
        key[dup] = body[dup].astype(np.int64) @ weights
    type_digit = np.where(entity_type == "cooperative", 3, np.where(entity_type == "individual", 2, 1))
    alphabet = np.frombuffer(uscc.ALPHABET.encode("ascii"), dtype="S1")
    region_digits = np.array([int(c) for c in region])
    parts = []
    for s in _slices(n):
        values = np.zeros((s.stop - s.start, 17), dtype=np.int64)
        values[:, 0] = 9
        values[:, 1] = type_digit[s]
        values[:, 2:8] = region_digits
        values[:, 8:] = body[s]
        check = (31 - (values @ np.array(uscc.WEIGHTS)) % 31) % 31
        chars = alphabet[np.concatenate([values, check[:, None]], axis=1)]
        parts.append(pa.array(np.ascontiguousarray(chars).view("S18").ravel(), type=pa.binary()).cast(pa.string()))
    return _text(parts, pa.string())


# ------------------------------------------------------------------------------------------------------ names
@dataclass
class _NameDraws:
    """Per entity, the draws its name is made of (indices into the word pools)."""

    brand: np.ndarray  # (n, 2) into BRANDS
    word: np.ndarray  # into the industry's words
    shop: np.ndarray  # into the industry's shop words
    surname_seed: int
    prefix: np.ndarray  # 0: the district's short name, 1: 贵州, 2: 黔
    long_suffix: np.ndarray  # 有限责任公司 rather than 有限公司
    shop_style: np.ndarray  # individual businesses: district + brand + shop rather than town + surname + 记 + shop


def _group_index(rng: np.random.Generator, group: np.ndarray, options: list[list[str]]) -> np.ndarray:
    """``names.pick_by_group``'s draw as an index into ``options[group[row]]``."""
    u = rng.random(len(group))
    return (u * np.array([len(o) for o in options])[group]).astype(np.int16)


def _draw_names(rng: np.random.Generator, industry: np.ndarray, inds: list[dict]) -> _NameDraws:
    n = len(industry)
    pool = len(nm.BRANDS)
    brand = np.empty((n, 2), dtype=np.uint8)
    brand[:, 0] = rng.integers(0, pool, n)
    brand[:, 1] = rng.integers(0, pool, n)
    word = _group_index(rng, industry, [i["word"] for i in inds])
    shop = _group_index(rng, industry, [i["shop"] for i in inds])
    surname_seed = int(rng.integers(1 << 30))
    first, second = rng.random(n) < 0.75, rng.random(n) < 0.5
    prefix = np.where(first, 0, np.where(second, 1, 2)).astype(np.uint8)
    long_suffix = ~(rng.random(n) < 0.8)
    shop_style = ~(rng.random(n) < 0.5)
    return _NameDraws(brand, word, shop, surname_seed, prefix, long_suffix, shop_style)


class _Words:
    """The vocabularies as object arrays, words of every industry in one flat array."""

    def __init__(self, cfg: dict) -> None:
        inds = cfg["industry"]
        self.dname = cfg["district"]["name"]
        self.dshort = self.dname[:-1]
        self.province = cfg["district"]["province"]
        self.town_zh = np.array([t["zh"] for t in cfg["town"]], dtype=object)
        self.brands = np.array(list(nm.BRANDS), dtype=object)
        self.prefix = np.array([self.dshort, "贵州", "黔"], dtype=object)
        self.word, self.word_at = self._flat([i["word"] for i in inds])
        self.shop, self.shop_at = self._flat([i["shop"] for i in inds])

    @staticmethod
    def _flat(options: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        at = np.concatenate([[0], np.cumsum([len(o) for o in options])[:-1]]).astype(np.int64)
        return np.array([w for o in options for w in o], dtype=object), at


def _compose(d: _NameDraws, words: _Words, idx: np.ndarray, entity_type: np.ndarray, industry: np.ndarray,
             town: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """The names of entities ``idx`` before they are made unique (a branch: its parent's name + town + 分公司)."""
    t, ind = entity_type[idx], industry[idx]
    brand = words.brands[d.brand[idx, 0]] + words.brands[d.brand[idx, 1]]
    stem = brand + words.word[words.word_at[ind] + d.word[idx]]
    prefix = words.prefix[d.prefix[idx]]
    name = prefix + stem + np.where(d.long_suffix[idx], "有限责任公司", "有限公司").astype(object)
    for kind, make in (("joint_stock", lambda r: prefix[r] + stem[r] + "股份有限公司"),
                       ("sole_proprietorship", lambda r: words.dshort + stem[r] + "店"),
                       ("partnership", lambda r: words.dshort + stem[r] + "企业（有限合伙）"),
                       ("foreign_invested", lambda r: "贵州" + stem[r] + "有限公司"),
                       ("cooperative", lambda r: words.dshort + words.town_zh[town[idx[r]]] + stem[r] + "专业合作社")):
        rows = np.flatnonzero(t == kind)
        name[rows] = make(rows)
    rows = np.flatnonzero(t == "individual")
    if len(rows):
        e = idx[rows]
        shop = words.shop[words.shop_at[ind[rows]] + d.shop[e]]
        surname = nm.surnames(e, seed=d.surname_seed)
        name[rows] = np.where(d.shop_style[e], words.dname + brand[rows] + shop,
                              words.dname + words.town_zh[town[e]] + surname + "记" + shop)
    br = np.flatnonzero(parent[idx] >= 0)
    if len(br):
        name[br] = (_compose(d, words, parent[idx[br]], entity_type, industry, town, parent)
                    + words.town_zh[town[idx[br]]] + "分公司")
    return name


def names(rng: np.random.Generator, entity_type: np.ndarray, industry: np.ndarray, town: np.ndarray,
          parent: np.ndarray, cfg: dict) -> pa.Array:
    """Every entity's registered name, unique (a later namesake gets another character in its 字号)."""
    d = _draw_names(rng, industry, cfg["industry"])
    words = _Words(cfg)
    book = _Codebook()
    ids = np.empty(len(entity_type), dtype=np.int64)
    for s in _slices(len(ids)):
        ids[s] = book.codes(pa.array(_compose(d, words, np.arange(s.start, s.stop), entity_type, industry, town,
                                              parent), type=TEXT))
    return _unique(rng, ids, book)


class _Codebook:
    """A code per text: the same text always gets the same code, a text met for the first time the next one."""

    def __init__(self) -> None:
        self.texts = pa.array([], type=TEXT)

    def codes(self, texts: pa.Array) -> np.ndarray:
        got = pc.index_in(texts, value_set=self.texts).fill_null(-1).to_numpy().astype(np.int64)
        unseen = got < 0
        if unseen.any():
            fresh = pc.dictionary_encode(texts.filter(pa.array(unseen)))
            got[unseen] = len(self.texts) + fresh.indices.to_numpy()
            self.texts = pa.concat_arrays([self.texts, fresh.dictionary])
        return got

    def text(self, codes: np.ndarray) -> pa.Array:
        return self.texts.take(pa.array(codes))


def _unique(rng: np.random.Generator, ids: np.ndarray, book: _Codebook) -> pa.Array:
    """Make the names (codes ``ids`` of ``book``) unique the way a registry would: a later duplicate gets another
    character in its 字号. Only a slice of duplicates at a time becomes Python strings."""
    pool = np.array(list(nm.BRANDS), dtype=object)
    extra = 0
    while True:
        dup = pd.Series(ids).duplicated().to_numpy()
        if not dup.any():
            return book.text(ids)
        rows = np.flatnonzero(dup)
        del dup
        add = rng.integers(0, len(pool), len(rows)).astype(np.uint8)
        for s in _slices(len(rows)):
            old = book.text(ids[rows[s]]).to_pylist()
            cut = [max(len(o) - 4 - extra % 3, 2) for o in old]
            ids[rows[s]] = book.codes(pa.array([o[:c] + a + o[c:] for o, c, a in zip(old, cut, pool[add[s]],
                                                                                       strict=True)], type=TEXT))
        extra += 1


# -------------------------------------------------------------------------------------------------- addresses
def addresses(rng: np.random.Generator, town: np.ndarray, cfg: dict, *,
              path: Path | None = None) -> tuple[TextColumn, np.ndarray]:
    """Registered addresses, some entities crowded at a few sites (一址多企), written to ``path`` slice by slice
    (held in memory when None); returns them and the towns (a crowded entity's town is its site's)."""
    n = len(town)
    words = _Words(cfg)
    road = rng.integers(0, len(nm.ROADS), n).astype(np.uint8)
    number = rng.integers(1, 400, n).astype(np.int16)
    pop = cfg["population"]
    in_cluster = np.flatnonzero(rng.random(n) < pop["address_cluster_share"])
    n_sites = max(3, int(round(len(in_cluster) / 30)))
    urban = np.flatnonzero(np.array([tw["code"][-3] == "0" for tw in cfg["town"]]))
    site_town = urban[rng.integers(0, len(urban), n_sites)]
    site_name = np.array(nm.CLUSTER_SITES, dtype=object)[np.arange(n_sites) % len(nm.CLUSTER_SITES)]
    site_no = (np.arange(n_sites) // len(nm.CLUSTER_SITES) * 17 + 8).astype(str).astype(object)
    site = np.full(n, -1, dtype=np.int64)
    site[in_cluster] = choice(rng, len(in_cluster), 1.0 / (1 + np.arange(n_sites)) ** 0.7)
    room = np.zeros(n, dtype=np.int16)
    room[in_cluster] = rng.integers(101, 1220, len(in_cluster))
    town = town.copy()
    town[in_cluster] = site_town[site[in_cluster]]
    roads = np.array(nm.ROADS, dtype=object)
    head = words.province + words.dname

    def compose() -> Iterator[pa.Array]:
        for s in _slices(n):
            address = head + words.town_zh[town[s]] + roads[road[s]] + number[s].astype(str).astype(object) + "号"
            c = np.flatnonzero(site[s] >= 0)
            k = site[s][c]
            address[c] = (head + words.town_zh[site_town[k]] + site_name[k] + site_no[k] + "号"
                          + room[s][c].astype(str).astype(object) + "室")
            yield pa.array(address, type=TEXT)

    return TextColumn.written(compose(), path), town
