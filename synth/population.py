"""The district's market entities: registrations, exits, types, industries, towns, groups, codes and names."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from synth import entity_text
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
from synth.text_store import NameSet, TextColumn

EXIT_NONE, EXIT_VOLUNTARY, EXIT_FORCED = 0, 1, 2


@dataclass
class Population:
    """One row per entity that existed at some time in the frame (arrays aligned by entity index; credit codes
    are Arrow text, names and addresses text columns in memory or on disk, read through ``codes``, ``uscc_of``,
    ``names_of`` and ``text``)."""

    uscc: pa.Array
    name: TextColumn
    entity_type: np.ndarray
    is_ent: np.ndarray
    industry: np.ndarray  # index into district()["industry"]
    town: np.ndarray  # index into district()["town"]
    address: TextColumn
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

    def codes(self, index: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """The credit codes of entity indices as a pandas ``str`` array (an Arrow take, no Python strings)."""
        return pd.array(self.uscc.take(_take(index)), dtype="str")

    def uscc_of(self, index: np.ndarray) -> np.ndarray:
        """The credit codes of entity indices as Python strings."""
        return self.uscc.take(_take(index)).to_numpy(zero_copy_only=False)

    def names_of(self, index: np.ndarray) -> np.ndarray:
        """The names of entity indices as Python strings."""
        return np.asarray(self.name.take(index).to_pylist(), dtype=object)

    def text(self, lo: int, hi: int) -> tuple[pd.api.extensions.ExtensionArray, pd.api.extensions.ExtensionArray]:
        """Names and addresses of entities ``lo`` .. ``hi`` as pandas ``str`` arrays."""
        return pd.array(self.name.slice(lo, hi), dtype="str"), pd.array(self.address.slice(lo, hi), dtype="str")

    @cached_property
    def name_set(self) -> Container[str]:
        """Every entity's name, for ``in`` (held as hashes, not Python strings)."""
        return NameSet(self.name)


def _take(index: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(index, dtype=np.int64))


def industries() -> list[dict]:
    return district()["industry"]


def build(frame: Frame, *, entities: int, seed: int, text_dir: Path | None = None) -> Population:
    """Draw the population whose stock at the end of 2020 is about ``entities`` (one random stream, drawn in
    steps whose temporaries end with them: at most a few numbers per entity are held at once). With
    ``text_dir``, names and addresses go to Arrow files there as they are made (``Population.spill_text``)."""
    cfg = district()
    rng = np.random.default_rng([seed, 1])
    is_new, entity_type, age_years, established = _register(rng, frame, entities, cfg)
    is_ent = entity_type != "individual"
    industry, town = _industry_and_town(rng, is_ent, entity_type, cfg)
    size, capital = _size_and_capital(rng, is_ent, entity_type, cfg["population"])
    base = _base_logit(rng, is_ent, industry, size, town, seed=seed, cfg=cfg)
    exit_date, exit_kind, dormant_from = _exits(rng, frame, is_new, is_ent, age_years, established, base, cfg)
    del is_new, age_years
    group = _groups(rng, is_ent, town, cfg["population"])
    parent = _branches(rng, entity_type, established, group, industry)
    # held narrow: small labels and indices (a large district holds them for every entity)
    industry, town, size, exit_kind = (industry.astype(np.int16), town.astype(np.int16), size.astype(np.int8),
                                       exit_kind.astype(np.int8))
    parent = parent.astype(np.int32)

    _, group_id = np.unique(group, return_inverse=True)
    del group
    group_id = group_id.astype(np.int32)
    gsize = np.bincount(group_id)
    group_effect = rng.normal(0.0, cfg["latent"]["group_sd"], len(gsize))
    foreign = entity_type == "foreign_invested"

    codes = entity_text.codes(rng, entity_type, cfg["district"]["region_code"])
    name = TextColumn(entity_text.names(rng, entity_type, industry, town, parent, cfg))
    if text_dir is not None:
        name.spill(text_dir / "names.arrow")
    address, town = entity_text.addresses(rng, town, cfg,
                                          path=None if text_dir is None else text_dir / "addresses.arrow")
    return Population(
        uscc=codes, name=name, entity_type=entity_type, is_ent=entity_type != "individual",
        industry=industry, town=town, address=address, capital=capital,
        established=established, exit_date=exit_date, exit_kind=exit_kind, dormant_from=dormant_from, size=size,
        base_logit=base, group=group_id, group_effect=group_effect, group_size=gsize[group_id].astype(np.int32),
        in_group=gsize[group_id] > 1, parent=parent, foreign=foreign,
    )


def _register(rng: np.random.Generator, frame: Frame, entities: int, cfg: dict) -> tuple[np.ndarray, ...]:
    """The initial stock and the monthly registrations: (is_new, entity_type, age_years, established)."""
    pop = cfg["population"]
    scale = entities / cfg["district"]["reference_entities"]
    stock_2020 = cfg["calibration"]["stock_2020"] * scale
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
    del ent_share
    etypes = np.array(ENTERPRISE_TYPES, dtype=object)
    ent_w = [pop["enterprise_types"][t] for t in ENTERPRISE_TYPES]
    entity_type = np.where(is_ent, etypes[choice(rng, n, ent_w)], "individual").astype(object)

    # established: ages for the initial stock, a day in the month for new registrations
    age_years = np.where(is_ent, rng.gamma(1.6, 4.5, n), rng.gamma(1.4, 3.2, n))
    established = np.empty(n, dtype="datetime64[D]")
    established[~is_new] = frame.d0 - (age_years[~is_new] * 365.25).astype(np.int64) * DAY - DAY
    established[is_new] = frame.month_start(new_month) + rng.integers(0, 28, len(new_month)) * DAY
    return is_new, entity_type, age_years, established


def _industry_and_town(rng: np.random.Generator, is_ent: np.ndarray, entity_type: np.ndarray,
                       cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    n = len(is_ent)
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
    return industry, town


def _size_and_capital(rng: np.random.Generator, is_ent: np.ndarray, entity_type: np.ndarray,
                      pop: dict) -> tuple[np.ndarray, np.ndarray]:
    """Size band and registered capital."""
    n = len(is_ent)
    size = np.where(is_ent, choice(rng, n, [0.55, 0.33, 0.10, 0.02]), choice(rng, n, [0.97, 0.03, 0, 0]))
    med = np.array([pop["capital_median"][t] for t in entity_type], dtype=np.float64)
    capital = med * np.exp(rng.normal(0.0, pop["capital_logsd"], n) + 0.8 * (size - 0.6))
    del med
    capital = np.round(capital / 1000.0) * 1000.0
    capital[(entity_type == "individual") & (rng.random(n) > pop["individual_capital_reported"])] = np.nan
    capital[(entity_type == "branch") | (capital <= 0)] = np.nan
    return size, capital


def _base_logit(rng: np.random.Generator, is_ent: np.ndarray, industry: np.ndarray, size: np.ndarray,
                town: np.ndarray, *, seed: int, cfg: dict) -> np.ndarray:
    """The latent base: type, industry, size, town, idiosyncratic."""
    lat = cfg["latent"]
    town_fx = np.random.default_rng([seed, 2]).normal(0.0, lat["town_sd"], len(cfg["town"]))
    size_fx = np.array([lat["size_effect"][b] for b in SIZE_BANDS])
    risk = np.array([i["risk"] for i in industries()])
    return (np.where(is_ent, lat["intercept"]["enterprise"], lat["intercept"]["individual"])
            + risk[industry] + size_fx[size] + town_fx[town] + rng.normal(0.0, lat["individual_sd"], len(is_ent)))


def _exits(rng: np.random.Generator, frame: Frame, is_new: np.ndarray, is_ent: np.ndarray, age_years: np.ndarray,
           established: np.ndarray, base: np.ndarray, cfg: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exit dates and kinds (constant hazard, faster while young and for risky entities) and the dormancy
    before them: (exit_date, exit_kind, dormant_from)."""
    pop, lat = cfg["population"], cfg["latent"]
    n = len(is_ent)
    hz = np.where(is_ent, pop["exit_hazard"]["enterprise"], pop["exit_hazard"]["individual"])
    risk_z = base - np.where(is_ent, lat["intercept"]["enterprise"], lat["intercept"]["individual"])
    hz = hz * np.exp(0.2 * risk_z) / np.exp(0.02 * lat["individual_sd"] ** 2)
    young = np.where(is_new, True, age_years < 3)
    first = rng.exponential(1.0, n) / (hz * np.where(young, pop["young_exit_factor"], 1.0))
    del young
    span = np.where(is_new, 3.0, np.maximum(3.0 - age_years, 0.0))
    life = np.where(first < span, first, span + rng.exponential(1.0, n) / hz)
    del first, span, hz
    exit_date = np.where(is_new, established, frame.d0) + np.maximum((life * 365.25).astype(np.int64), 30) * DAY
    del life
    exit_date[exit_date > frame.d_end] = NAT
    exited = ~np.isnat(exit_date)
    forced_share = np.where(is_ent, pop["forced_exit_share"]["enterprise"], pop["forced_exit_share"]["individual"])
    forced = exited & (rng.random(n) < sigmoid(np.log(forced_share / (1 - forced_share)) + 1.2 * (risk_z - 0.5)))
    del forced_share
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
    del lead
    dormant_from[forced] = np.minimum(dormant_from[forced], silent_from[forced])
    del silent_from
    too_early = has_dorm & (dormant_from < established + 60 * DAY)
    dormant_from[too_early] = established[too_early] + 60 * DAY
    del too_early, has_dorm
    # some entities still active at the end are already dormant (they will be forced out later)
    late = ~exited & (rng.random(n) < 0.012 * np.exp(0.5 * risk_z))
    dormant_from[late] = frame.d_end - rng.integers(30, 700, n)[late] * DAY
    dormant_from[late & (dormant_from < established + 60 * DAY)] = NAT
    return exit_date, exit_kind, dormant_from


def _groups(rng: np.random.Generator, is_ent: np.ndarray, town: np.ndarray, pop: dict) -> np.ndarray:
    """Co-controlled groups, members near each other: a group id per entity (singletons have their own)."""
    n = len(is_ent)
    p_group = pop["group_share"] * np.where(is_ent, 1.8, 0.75)
    members = np.flatnonzero(rng.random(n) < p_group)
    del p_group
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
    return group


def _branches(rng: np.random.Generator, entity_type: np.ndarray, established: np.ndarray, group: np.ndarray,
              industry: np.ndarray) -> np.ndarray:
    """A branch's parent: a company registered earlier, whose group the branch joins (and often its industry);
    a branch with no earlier company is a company itself. Returns the parent per entity (-1: none) and updates
    ``entity_type``, ``group`` and ``industry`` in place."""
    parent = np.full(len(entity_type), -1, dtype=np.int64)
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
    return parent


def similar_names(rng: np.random.Generator, names: np.ndarray, existing: Container[str]) -> np.ndarray:
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
