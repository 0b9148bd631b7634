"""The district's market entities: registrations, exits, types, industries, towns, groups, codes and names."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa

from core import uscc
from synth import names as nm
from synth.params import (
    DAY,
    ENTERPRISE_TYPES,
    NAT,
    SIZE_BANDS,
    Frame,
    choice,
    district,
    publicity,
    sigmoid,
)

TYPE_CODE = {"cooperative": "3", "individual": "2"}  # everything else is an enterprise: "1"
EXIT_NONE, EXIT_VOLUNTARY, EXIT_FORCED = 0, 1, 2


@dataclass
class Population:
    """One row per entity that existed at some time in the frame (arrays aligned by entity index)."""

    uscc: np.ndarray
    name: np.ndarray
    entity_type: np.ndarray
    is_ent: np.ndarray
    industry: np.ndarray  # index into district()["industry"]
    town: np.ndarray  # index into district()["town"]
    address: np.ndarray
    capital: np.ndarray  # yuan, NaN when not reported
    established: np.ndarray  # datetime64[D]
    exit_date: np.ndarray  # NaT while active at the end
    exit_kind: np.ndarray  # EXIT_*
    dormant_from: np.ndarray  # NaT when never dormant
    size: np.ndarray  # index into SIZE_BANDS
    base_logit: np.ndarray  # type, industry, size, town and idiosyncratic parts
    group: np.ndarray  # co-controlled group id (singletons have their own)
    group_effect: np.ndarray  # per group id
    group_size: np.ndarray
    in_group: np.ndarray  # member of a multi-entity group
    parent: np.ndarray  # entity index of a branch's parent, else -1
    foreign: np.ndarray

    @property
    def n(self) -> int:
        return len(self.uscc)

    @cached_property
    def _uscc_arrow(self) -> pa.Array:
        return pa.array(self.uscc, type=pa.string())

    def codes(self, index: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """The credit codes of entity indices as a pandas ``str`` array (an Arrow take, no Python strings)."""
        return pd.array(self._uscc_arrow.take(pa.array(np.asarray(index, dtype=np.int64))), dtype="str")


def industries() -> list[dict]:
    return district()["industry"]


def build(frame: Frame, *, entities: int, seed: int) -> Population:
    """Draw the population whose stock at the end of 2020 is about ``entities``."""
    cfg, pop = district(), district()["population"]
    rng = np.random.default_rng([seed, 1])
    scale = entities / cfg["district"]["reference_entities"]
    stock_2020 = cfg["calibration"]["stock_2020"] * scale

    # initial stock and monthly registrations
    n0 = int(round(pop["initial_stock_share"] * stock_2020))
    months = np.arange(frame.months)
    years = frame.year_index(months)
    rate = cfg["calibration"]["new_registrations_per_year"] * scale / 12.0
    factor = np.array([pop["registration_factor"].get(str(y), 1.0) for y in years])
    per_month = rng.poisson(rate * factor)
    new_month = np.repeat(months, per_month)
    n = n0 + len(new_month)
    is_new = np.arange(n) >= n0

    ent_share = np.where(is_new, pop["enterprise_share_new"], pop["enterprise_share_initial"])
    is_ent = rng.random(n) < ent_share
    etypes = np.array(ENTERPRISE_TYPES, dtype=object)
    ent_w = [pop["enterprise_types"][t] for t in ENTERPRISE_TYPES]
    entity_type = np.where(is_ent, etypes[choice(rng, n, ent_w)], "individual").astype(object)

    # established: ages for the initial stock, a day in the month for new registrations
    age_years = np.where(is_ent, rng.gamma(1.6, 4.5, n), rng.gamma(1.4, 3.2, n))
    established = np.empty(n, dtype="datetime64[D]")
    established[~is_new] = frame.d0 - (age_years[~is_new] * 365.25).astype(np.int64) * DAY - DAY
    established[is_new] = frame.month_start(new_month) + rng.integers(0, 28, len(new_month)) * DAY

    inds = industries()
    industry = np.empty(n, dtype=np.int64)
    industry[is_ent] = choice(rng, int(is_ent.sum()), [i["ent"] for i in inds])
    industry[~is_ent] = choice(rng, int((~is_ent).sum()), [i["ind"] for i in inds])
    groups = [i["group"] for i in inds]
    coop = entity_type == "cooperative"
    coop_w = [i["ent"] if i["group"] in ("agriculture", "food_mfg") or i["code"] == "9030" else 0 for i in inds]
    industry[coop] = choice(rng, int(coop.sum()), coop_w)

    towns = cfg["town"]
    tw = np.array([t["weight"] for t in towns])
    urban = np.array([t["code"][-3] == "0" for t in towns])
    rural_groups = {"agriculture", "energy", "building"}
    rural = np.isin(np.array(groups, dtype=object)[industry], list(rural_groups))
    town = np.empty(n, dtype=np.int64)
    town[~rural] = choice(rng, int((~rural).sum()), tw * np.where(urban, 1.3, 1.0))
    town[rural] = choice(rng, int(rural.sum()), tw * np.where(urban, 0.15, 1.0))

    # size and registered capital
    size = np.where(is_ent, choice(rng, n, [0.55, 0.33, 0.10, 0.02]), choice(rng, n, [0.97, 0.03, 0, 0]))
    med = np.array([pop["capital_median"][t] for t in entity_type], dtype=np.float64)
    capital = med * np.exp(rng.normal(0.0, pop["capital_logsd"], n) + 0.8 * (size - 0.6))
    capital = np.round(capital / 1000.0) * 1000.0
    capital[(entity_type == "individual") & (rng.random(n) > pop["individual_capital_reported"])] = np.nan
    capital[(entity_type == "branch") | (capital <= 0)] = np.nan

    # latent base: type, industry, size, town, idiosyncratic
    lat = cfg["latent"]
    town_fx = np.random.default_rng([seed, 2]).normal(0.0, lat["town_sd"], len(towns))
    size_fx = np.array([lat["size_effect"][b] for b in SIZE_BANDS])
    risk = np.array([i["risk"] for i in inds])
    base = (np.where(is_ent, lat["intercept"]["enterprise"], lat["intercept"]["individual"])
            + risk[industry] + size_fx[size] + town_fx[town] + rng.normal(0.0, lat["individual_sd"], n))

    # exits: constant hazard, faster while young and for risky entities
    hz = np.where(is_ent, pop["exit_hazard"]["enterprise"], pop["exit_hazard"]["individual"])
    risk_z = base - np.where(is_ent, lat["intercept"]["enterprise"], lat["intercept"]["individual"])
    hz = hz * np.exp(0.2 * risk_z) / np.exp(0.02 * lat["individual_sd"] ** 2)
    ref = np.where(is_new, established, frame.d0)
    young = np.where(is_new, True, age_years < 3)
    first = rng.exponential(1.0, n) / (hz * np.where(young, pop["young_exit_factor"], 1.0))
    span = np.where(is_new, 3.0, np.maximum(3.0 - age_years, 0.0))
    life = np.where(first < span, first, span + rng.exponential(1.0, n) / hz)
    exit_date = ref + np.maximum((life * 365.25).astype(np.int64), 30) * DAY
    exit_date[exit_date > frame.d_end] = NAT
    exited = ~np.isnat(exit_date)
    forced_share = np.where(is_ent, pop["forced_exit_share"]["enterprise"], pop["forced_exit_share"]["individual"])
    forced = exited & (rng.random(n) < sigmoid(np.log(forced_share / (1 - forced_share)) + 1.2 * (risk_z - 0.5)))
    # a forced exit comes only after years_missing_before_revocation report seasons missed while dormant: the
    # dormancy starts before the season of the earliest of those reports opened (1 Jan)
    silent_from = silent_before_exit(exit_date)
    forced &= silent_from >= established + 60 * DAY  # too young to have missed them: the exit is voluntary
    exit_kind = np.where(exited, np.where(forced, EXIT_FORCED, EXIT_VOLUNTARY), EXIT_NONE)

    # dormancy before exit: long before a forced one (no reports, unreachable), short before some others
    dormant_from = np.full(n, NAT)
    lead = np.where(forced, rng.integers(560, 900, n), rng.integers(30, 240, n))
    has_dorm = forced | (exited & (rng.random(n) < 0.3))
    dormant_from[has_dorm] = exit_date[has_dorm] - lead[has_dorm] * DAY
    dormant_from[forced] = np.minimum(dormant_from[forced], silent_from[forced])
    too_early = has_dorm & (dormant_from < established + 60 * DAY)
    dormant_from[too_early] = established[too_early] + 60 * DAY
    # some entities still active at the end are already dormant (they will be forced out later)
    late = ~exited & (rng.random(n) < 0.012 * np.exp(0.5 * risk_z))
    dormant_from[late] = frame.d_end - rng.integers(30, 700, n)[late] * DAY
    dormant_from[late & (dormant_from < established + 60 * DAY)] = NAT

    # co-controlled groups: members near each other, shared latent component
    p_group = pop["group_share"] * np.where(is_ent, 1.8, 0.75)
    members = np.flatnonzero(rng.random(n) < p_group)
    members = members[np.lexsort((rng.random(len(members)), town[members]))]
    sizes = 2 + rng.poisson(pop["group_size_mean"] - 2, len(members))
    cuts = np.cumsum(sizes)
    cuts = cuts[cuts < len(members)]
    group = np.arange(n, dtype=np.int64) + 1_000_000_000  # singleton ids
    member_group = np.zeros(len(members), dtype=np.int64)
    member_group[cuts] = 1
    member_group = np.cumsum(member_group)
    group[members] = member_group
    # a trailing group of one is not a group
    counts = np.bincount(member_group)
    lone = members[counts[member_group] < 2]
    group[lone] = lone + 1_000_000_000

    # branches: a parent company registered earlier; the branch joins the parent's group
    parent = np.full(n, -1, dtype=np.int64)
    companies = np.flatnonzero(np.isin(entity_type, ["limited_company", "joint_stock", "foreign_invested"]))
    order = companies[np.argsort(established[companies], kind="stable")]
    branches = np.flatnonzero(entity_type == "branch")
    k = np.searchsorted(established[order], established[branches])
    ok = k > 0
    entity_type[branches[~ok]] = "limited_company"
    branches, k = branches[ok], k[ok]
    parent[branches] = order[(rng.random(len(branches)) * k).astype(np.int64)]
    group[branches] = group[parent[branches]]
    industry[branches] = np.where(rng.random(len(branches)) < 0.7, industry[parent[branches]], industry[branches])

    _, group_id = np.unique(group, return_inverse=True)
    gsize = np.bincount(group_id)
    group_effect = rng.normal(0.0, lat["group_sd"], len(gsize))
    foreign = entity_type == "foreign_invested"

    codes = _codes(rng, entity_type, cfg["district"]["region_code"])
    name, address, town = _names_and_addresses(rng, entity_type, industry, town, parent, cfg)
    return Population(
        uscc=codes, name=name, entity_type=entity_type, is_ent=entity_type != "individual", industry=industry,
        town=town, address=address, capital=capital, established=established, exit_date=exit_date,
        exit_kind=exit_kind, dormant_from=dormant_from, size=size, base_logit=base, group=group_id,
        group_effect=group_effect, group_size=gsize[group_id], in_group=gsize[group_id] > 1, parent=parent,
        foreign=foreign,
    )


def _codes(rng: np.random.Generator, entity_type: np.ndarray, region: str) -> np.ndarray:
    """Unique valid credit codes: '9' + type code + region + 9-character organisation code + check."""
    n = len(entity_type)
    alphabet = np.array(list(uscc.ALPHABET))
    body = rng.integers(0, 31, (n, 9))
    body[:, 0] = rng.integers(0, 10, n)  # organisation codes mostly start with a digit
    weights = 31 ** np.arange(9, dtype=np.int64)
    while True:  # redraw collisions
        dup = pd.Series(body @ weights).duplicated().to_numpy()
        if not dup.any():
            break
        body[dup] = rng.integers(0, 31, (int(dup.sum()), 9))
    type_digit = np.array([TYPE_CODE.get(t, "1") for t in entity_type])
    values = np.zeros((n, 17), dtype=np.int64)
    values[:, 0] = 9
    values[:, 1] = type_digit.astype(np.int64)
    values[:, 2:8] = np.array([int(c) for c in region])
    values[:, 8:] = body
    check = (31 - (values @ np.array(uscc.WEIGHTS)) % 31) % 31
    chars = alphabet[np.concatenate([values, check[:, None]], axis=1)]
    return np.ascontiguousarray(chars).view("<U18").ravel().astype(object)


def _names_and_addresses(rng, entity_type, industry, town, parent, cfg):
    inds, towns = cfg["industry"], cfg["town"]
    dname = cfg["district"]["name"]
    dshort = dname[:-1]
    n = len(entity_type)
    town_zh = np.array([t["zh"] for t in towns], dtype=object)
    brand = nm.brands(rng, n)
    word = nm.pick_by_group(rng, industry, [i["word"] for i in inds])
    shop = nm.pick_by_group(rng, industry, [i["shop"] for i in inds])
    surname = nm.person_names(np.arange(n), seed=int(rng.integers(1 << 30)))
    surname = np.array([s[0] for s in surname], dtype=object)

    prefix = np.where(rng.random(n) < 0.75, dshort, np.where(rng.random(n) < 0.5, "贵州", "黔"))
    suffix = np.where(rng.random(n) < 0.8, "有限公司", "有限责任公司").astype(object)
    name = prefix + brand + word + suffix
    t = entity_type
    name = np.where(t == "joint_stock", prefix + brand + word + "股份有限公司", name)
    name = np.where(t == "sole_proprietorship", dshort + brand + word + "店", name)
    name = np.where(t == "partnership", dshort + brand + word + "企业（有限合伙）", name)
    name = np.where(t == "foreign_invested", "贵州" + brand + word + "有限公司", name)
    name = np.where(t == "cooperative", dshort + town_zh[town] + brand + word + "专业合作社", name)
    ind_style = rng.random(n)
    ind_name = np.where(ind_style < 0.5, dname + town_zh[town] + surname + "记" + shop,
                        dname + brand + shop)
    name = np.where(t == "individual", ind_name, name).astype(object)
    br = np.flatnonzero(parent >= 0)
    name[br] = name[parent[br]] + town_zh[town[br]] + "分公司"
    name = _unique(rng, name)

    road = np.array(nm.ROADS, dtype=object)[rng.integers(0, len(nm.ROADS), n)]
    number = rng.integers(1, 400, n).astype(str).astype(object)
    address = cfg["district"]["province"] + dname + town_zh[town] + road + number + "号"
    # dense clusters: many entities registered at one address (一址多企)
    pop = cfg["population"]
    in_cluster = np.flatnonzero(rng.random(n) < pop["address_cluster_share"])
    n_sites = max(3, int(round(len(in_cluster) / 30)))
    urban = np.flatnonzero(np.array([tw["code"][-3] == "0" for tw in towns]))
    site_town = urban[rng.integers(0, len(urban), n_sites)]
    site_name = np.array(nm.CLUSTER_SITES, dtype=object)[np.arange(n_sites) % len(nm.CLUSTER_SITES)]
    site_no = (np.arange(n_sites) // len(nm.CLUSTER_SITES) * 17 + 8).astype(str).astype(object)
    site = choice(rng, len(in_cluster), 1.0 / (1 + np.arange(n_sites)) ** 0.7)
    town = town.copy()
    town[in_cluster] = site_town[site]
    room = rng.integers(101, 1220, len(in_cluster)).astype(str).astype(object)
    address[in_cluster] = (cfg["district"]["province"] + dname + town_zh[site_town[site]] + site_name[site]
                           + site_no[site] + "号" + room + "室")
    return name, address, town


def _unique(rng: np.random.Generator, name: np.ndarray) -> np.ndarray:
    """Make names unique the way a registry would: a later duplicate gets another character in its 字号."""
    pool = np.array(list(nm.BRANDS), dtype=object)
    extra = 0
    while True:
        dup = pd.Series(name).duplicated().to_numpy()
        if not dup.any():
            return name
        rows = np.flatnonzero(dup)
        cut = np.array([max(len(s) - 4 - extra % 3, 2) for s in name[rows]])
        add = pool[rng.integers(0, len(pool), len(rows))]
        name[rows] = np.array([s[:c] + a + s[c:] for s, c, a in zip(name[rows], cut, add, strict=True)],
                              dtype=object)
        extra += 1


def similar_names(rng: np.random.Generator, names: np.ndarray, existing: set[str]) -> np.ndarray:
    """Names of other companies that look like ``names`` (another place, an extra word) and are not in ``existing``."""
    variants = np.array(["管理", "服务", "发展", "实业", "科技"], dtype=object)
    places = np.array(["遵义", "铜仁", "安顺", "毕节", "凯里", "都匀", "六盘水"], dtype=object)
    out = []
    for s in names:
        for _ in range(10):
            if rng.random() < 0.5 and "有限公司" in s:
                cand = s.replace("有限公司", variants[rng.integers(len(variants))] + "有限公司", 1)
            else:
                cand = places[rng.integers(len(places))] + s[2:]
            if cand not in existing:
                break
        out.append(cand)
    return np.array(out, dtype=object)


def town_tables() -> tuple[list[str], list[str]]:
    towns = district()["town"]
    return [t["code"] for t in towns], [t["zh"] for t in towns]


def silent_before_exit(exit_date: np.ndarray) -> np.ndarray:
    """For each exit date: 1 Jan of the season of the earliest of the last ``years_missing_before_revocation``
    annual reports due before it (core/rules/publicity.toml [annual_report]); NaT where there is no exit."""
    rule = publicity()["annual_report"]
    k = int(rule["years_missing_before_revocation"])
    years = exit_date.astype("datetime64[Y]").astype(np.int64) + 1970
    due = (np.array(years - 1970, dtype="datetime64[Y]").astype("datetime64[M]")
           + np.timedelta64(int(rule["season_end_month"]) - 1, "M")).astype("datetime64[D]") \
        + np.timedelta64(int(rule["season_end_day"]) - 1, "D")
    last = np.where(exit_date > due, years, years - 1)  # season (year of the deadline) of the last report due
    first = last - (k - 1)
    out = np.array(first - 1970, dtype="datetime64[Y]").astype("datetime64[D]")
    return np.where(np.isnat(exit_date), NAT, out)
