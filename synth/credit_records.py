"""Credit commitments, their breaches and sampling results of one chunk, generated from the hidden world.

Rates and where they come from: synth/district.toml ``[commitments]`` and ``[sampling]``. A breach is found only
while the entity really violates during the commitment's term; a sample fails more often while the entity
violates in the sample's domain (food for food, quality for products) and for riskier entities. Separate random
streams from synth/records.py, so adding these tables changes no other table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.sources import PENALTY_DOMAINS
from synth.params import DAY, NAT, Frame, add_months, district, sigmoid
from synth.population import Population, industries
from synth.world import World

_FOOD = PENALTY_DOMAINS.index("food")
_QUALITY = PENALTY_DOMAINS.index("quality")
PRODUCTS = {
    "food": ("红薯粉条", "豆腐干", "腊肉", "辣椒酱", "绿茶", "白酒", "糕点", "食用植物油", "羊肉汤锅底料", "米粉"),
    "edible_agri": ("韭菜", "豇豆", "芹菜", "鸡蛋", "羊肉", "辣椒", "白菜", "生姜"),
    "industrial_product": ("电线电缆", "水泥", "建筑用砂", "电动自行车头盔", "塑料管材", "瓷砖", "防水卷材"),
}
FAILING = {
    "food": ("菌落总数", "大肠菌群", "二氧化硫残留量", "苯甲酸及其钠盐", "过氧化值", "铅（以Pb计）", "铝的残留量"),
    "edible_agri": ("毒死蜱", "腐霉利", "氯氟氰菊酯", "恩诺沙星", "克百威", "甲拌磷"),
    "industrial_product": ("导体电阻", "抗压强度", "冲击性能", "标志", "吸水率", "拉伸性能"),
}


def _ids(prefix: str, n: int, chunk: int) -> np.ndarray:
    return np.array([f"{prefix}{chunk:03d}{i:07d}" for i in range(n)], dtype=object)


def _alive_span(world: World) -> tuple[np.ndarray, np.ndarray]:
    """First and last alive month of each entity of the chunk (last < first when never alive)."""
    alive = world.alive
    any_ = alive.any(axis=1)
    first = np.where(any_, alive.argmax(axis=1), 0)
    last = np.where(any_, alive.shape[1] - 1 - alive[:, ::-1].argmax(axis=1), -1)
    return first, last


def _events(rng, rate_per_year: np.ndarray, first: np.ndarray, last: np.ndarray,
            from_month: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events over each entity's alive months from ``from_month``: (chunk row, month index) per event."""
    lo = np.maximum(first, from_month)
    months = np.maximum(last - lo + 1, 0)
    k = rng.poisson(rate_per_year * months / 12.0)
    rows = np.repeat(np.arange(len(k)), k)
    t = lo[rows] + np.floor(rng.random(len(rows)) * months[rows]).astype(np.int64)
    return rows, t


def _days(rng, frame: Frame, t: np.ndarray) -> np.ndarray:
    """A day inside month ``t``."""
    return frame.month_start(t) + rng.integers(0, 28, len(t)) * DAY


def _pick(rng, cat: np.ndarray, vocab: dict[str, tuple[str, ...]]) -> np.ndarray:
    """One word of each row's category vocabulary, drawn uniformly."""
    out = np.empty(len(cat), dtype=object)
    for k, words in vocab.items():
        rows = np.flatnonzero(cat == k)
        out[rows] = np.array(words, dtype=object)[rng.integers(0, len(words), len(rows))]
    return out


def credit_records(pop: Population, world: World, frame: Frame, *, seed: int, chunk: int,
                   records: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``commitments``, ``commitment_breaches`` and ``sampling_results`` of the chunk's entities; ``records`` are
    the chunk's other tables (a repair commitment comes with a listing's removal; no 告知承诺 while listed)."""
    rng = np.random.default_rng([seed, 215, chunk])
    commitments, breaches = _commitments(rng, pop, world, frame, chunk, records)
    return {"commitments": commitments, "commitment_breaches": breaches,
            "sampling_results": _sampling(rng, pop, world, frame, chunk)}


# ------------------------------------------------------------------------------------------------ commitments
def _commitments(rng, pop: Population, world: World, frame: Frame, chunk: int,
                 records: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = district()["commitments"]
    inds = industries()
    ent = np.arange(world.lo, world.hi)
    ind = pop.industry[ent]
    first, last = _alive_span(world)
    licences = [i["licences"] for i in inds]
    licensed = np.array([bool(x) for x in licences])[ind]
    month_of_year = lambda y: int(frame.month_of(np.array([np.datetime64(f"{y}-01-01")]))[0])  # noqa: E731
    parts = []
    # 告知承诺 for a licence of the entity's industry
    rows, t = _events(rng, np.where(licensed, cfg["notify_per_year"], 0.0), first, last,
                      month_of_year(cfg["notify_start_year"]))
    lic = np.array([licences[ind[r]][rng.integers(len(licences[ind[r]]))] for r in rows], dtype=object)
    parts.append(pd.DataFrame({"_row": rows, "kind": "notify_commit", "licence_type": lic,
                               "made_date": _days(rng, frame, t),
                               "content": "申请人承诺已符合许可条件，如有不实愿承担违诺责任并接受撤销许可"}))
    # 行业自律承诺 in consumer-facing industries
    groups = np.array([i["group"] for i in inds], dtype=object)[ind]
    rate = np.where(np.isin(groups, cfg["self_discipline_groups"]), cfg["self_discipline_per_year"], 0.0)
    rows, t = _events(rng, rate, first, last, month_of_year(cfg["self_discipline_start_year"]))
    parts.append(pd.DataFrame({"_row": rows, "kind": "self_discipline", "licence_type": None,
                               "made_date": _days(rng, frame, t),
                               "content": "遵守行业自律公约，诚信经营，明码标价，不销售假冒伪劣商品"}))
    # 信用修复承诺 (守信承诺书) with each repaired listing
    rem = [df[["_ent", "removed_date", "removal_reason"]] for name in ("abnormal_list", "serious_list")
           if (df := records.get(name)) is not None and len(df)]
    if rem:
        r = pd.concat(rem, ignore_index=True)
        r = r[r["removal_reason"].isin(cfg["repair_removals"]).to_numpy() & r["removed_date"].notna().to_numpy()]
        made = r["removed_date"].to_numpy("datetime64[D]") - rng.integers(3, 20, len(r)) * DAY
        parts.append(pd.DataFrame({"_row": r["_ent"].to_numpy() - world.lo, "kind": "repair_commit",
                                   "licence_type": None, "made_date": made,
                                   "content": "已纠正失信行为、履行法定义务，承诺今后守法诚信经营"}))
    c = pd.concat(parts, ignore_index=True)
    c = c[c["made_date"].to_numpy("datetime64[D]") <= frame.d_end]
    c = _not_while_listed(c, world, records.get("serious_list"))
    n = len(c)
    made = c["made_date"].to_numpy("datetime64[D]")
    kind = c["kind"].to_numpy(object)
    term = np.array([cfg["term_months"][k] for k in kind], dtype=np.int64)
    end = add_months(made, term)
    rows = c["_row"].to_numpy(np.int64)
    # a breach is found only while the entity violates during the term
    t0 = frame.month_of(made)
    t1 = np.minimum(frame.month_of(end), frame.months - 1)
    viol = world.violating
    cs = np.concatenate([np.zeros((viol.shape[0], 1), np.int32), np.cumsum(viol, axis=1, dtype=np.int32)], axis=1)
    v = cs[rows, t1 + 1] - cs[rows, np.minimum(t0, frame.months - 1)]
    hit = rng.random(n) < 1.0 - (1.0 - cfg["breach_found_monthly"]) ** v
    found = np.full(n, NAT)
    for i in np.flatnonzero(hit):  # a violating month of the term (few rows)
        months = t0[i] + np.flatnonzero(viol[rows[i], t0[i]:t1[i] + 1])
        found[i] = _days(rng, frame, np.array([months[rng.integers(len(months))]]))[0]
    hit &= ~np.isnat(found) & (found <= frame.d_end)
    status = np.where(hit, "breached", np.where(end <= frame.d_end, "fulfilled", "in_force")).astype(object)
    status_date = np.where(hit, found, np.where(end <= frame.d_end, end, NAT))
    ents = rows + world.lo
    cid = _ids("CN", n, chunk)
    depts = {"notify_commit": "区市场监管局行政审批科", "repair_commit": "区市场监管局信用监管科",
             "self_discipline": "区餐饮与旅游行业协会"}
    commitments = pd.DataFrame({
        "commitment_id": cid, "uscc": pop.codes(ents), "kind": kind, "licence_type": c["licence_type"].to_numpy(),
        "made_date": made, "term_end": end, "content": c["content"].to_numpy(),
        "department": np.array([depts[k] for k in kind], dtype=object), "status": status, "status_date": status_date,
        "known_date": made, "_ent": ents,
    })
    b = np.flatnonzero(hit)
    by = list(cfg["breach_found_by"])
    w = np.array([cfg["breach_found_by"][k] for k in by])
    lo, hi = cfg["breach_known_days"]
    breaches = pd.DataFrame({
        "breach_id": _ids("WN", len(b), chunk), "commitment_id": cid[b], "uscc": pop.codes(ents[b]),
        "found_date": found[b], "found_by": np.array(by, dtype=object)[rng.choice(len(by), len(b), p=w / w.sum())],
        "record_id": None, "description": "经核查承诺内容与实际情况不符",
        "known_date": found[b] + rng.integers(lo, hi, len(b)) * DAY, "_ent": ents[b],
    })
    return commitments.reset_index(drop=True), breaches


def _not_while_listed(c: pd.DataFrame, world: World, serious: pd.DataFrame | None) -> pd.DataFrame:
    """No 告知承诺 from an entity while its serious-list entry runs (core/rules/commitments.toml)."""
    if serious is None or not len(serious) or not len(c):
        return c
    s = serious[["_ent", "listed_date", "removed_date"]].copy()
    s["_row"] = s["_ent"].to_numpy() - world.lo
    m = c.reset_index().merge(s[["_row", "listed_date", "removed_date"]], on="_row")
    made = m["made_date"].to_numpy("datetime64[D]")
    removed = m["removed_date"].to_numpy("datetime64[D]")
    inside = ((m["kind"] == "notify_commit").to_numpy() & (made >= m["listed_date"].to_numpy("datetime64[D]"))
              & (np.isnat(removed) | (made < removed)))
    return c.drop(index=m.loc[inside, "index"].unique())


# ------------------------------------------------------------------------------------------------- sampling
def _sampling(rng, pop: Population, world: World, frame: Frame, chunk: int) -> pd.DataFrame:
    cfg = district()["sampling"]
    inds = industries()
    ent = np.arange(world.lo, world.hi)
    groups = np.array([i["group"] for i in inds], dtype=object)[pop.industry[ent]]
    category = np.full(len(ent), "", dtype=object)
    category[np.isin(groups, cfg["food_groups"])] = "food"
    category[np.isin(groups, cfg["agri_groups"])] = "edible_agri"
    category[np.isin(groups, cfg["product_groups"])] = "industrial_product"
    rate = np.array([cfg["per_year"].get(k, 0.0) for k in category])
    first, last = _alive_span(world)
    rows, t = _events(rng, rate, first, last)
    cat = category[rows]
    domain = world.domain[rows, t]
    violating = world.violating[rows, t] & np.where(cat == "industrial_product", domain == _QUALITY, domain == _FOOD)
    risk = pop.base_logit[ent[rows]] - np.median(pop.base_logit)
    fail = rng.random(len(rows)) < sigmoid(cfg["fail_logit"] + cfg["fail_violating"] * violating
                                           + cfg["fail_risk_slope"] * risk)
    day = _days(rng, frame, t)
    known = day + rng.integers(*cfg["known_days"], len(rows)) * DAY
    closed = fail & (rng.random(len(rows)) < cfg["followup_closed"])
    closed_d = np.where(closed, known + rng.integers(*cfg["followup_days"], len(rows)) * DAY, NAT)
    closed_d[closed_d > frame.d_end] = NAT  # lifecycle: closed later than the frame is still being handled
    status = np.where(~fail, None, np.where(~np.isnat(closed_d), "closed",
                                            np.where(rng.random(len(rows)) < 0.5, "pending", "handling"))).astype(object)
    product, failing = _pick(rng, cat, PRODUCTS), _pick(rng, cat, FAILING)
    failing[~fail] = None
    batch = pd.Series(day - rng.integers(1, 60, len(rows)) * DAY).dt.strftime("%Y%m%d").to_numpy(object)
    df = pd.DataFrame({
        "sample_id": _ids("CJ", len(rows), chunk), "uscc": pop.codes(ent[rows]), "sample_date": day,
        "category": cat, "product": product, "batch": batch, "result": np.where(fail, "fail", "pass").astype(object),
        "failing_item": failing, "followup_status": status, "followup_date": closed_d, "known_date": known,
        "_ent": ent[rows],
    })
    return df[df["sample_date"].to_numpy("datetime64[D]") <= frame.d_end].reset_index(drop=True)
