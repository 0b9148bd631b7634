"""The hidden world, month by month: latent propensity, true violations, and what the bureau detects.

Propensity (monthly probability that a violation starts) = base (type, industry, age, size, town)
+ a component shared by co-controlled entities + AR(1) drift + shocks (2020–2022 for tourism and
catering). A violation lasts a few months; it is observed only when an inspection (random,
targeted or complaint-driven) finds it, so the recorded history carries selection bias.

The month-by-month loop runs in a numba kernel (synth/monthly.py), one entity at a time on its own
random stream, which also computes ``risk``: the simulator's probability that the design label fires
in the 12 months from each month (the evaluation ceiling written to the ground truth as ``risk_12m``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from core import rules
from features.sources import PENALTY_DOMAINS
from synth import monthly
from synth.params import DAY, Frame, district
from synth.population import EXIT_FORCED, Population, industries

KINDS = ("random", "targeted", "complaint")
RESULTS = ("no_issue", "issue_corrected", "case_opened", "not_found_at_address")  # the kernel's outcomes, refined
# into the result codes of core/rules/inspection_results.toml by synth/records.py
SEVERITY = ("minor", "ordinary", "serious")


@dataclass
class World:
    """Latent state and detected events of one chunk of entities (indices ``lo`` .. ``hi``)."""

    lo: int
    hi: int
    alive: np.ndarray  # (n, T) bool
    propensity: np.ndarray  # (n, T) float32
    violating: np.ndarray  # (n, T) bool
    domain: np.ndarray  # (n, T) int8, -1 when not violating
    dormant: np.ndarray  # (n, T) bool
    risk: np.ndarray  # (n, T) float32: P(design label fires | state entering the month), see synth.monthly
    changes: np.ndarray  # (n, T) bool: a registration change in the month
    inspections: dict  # arrays: ent, date, kind, result, domain, severity, leniency
    complaints: dict  # arrays: ent, date, violating, domain
    news: dict  # arrays: ent, date, domain
    unreachable: dict  # arrays: ent, date (found unreachable without an inspection)
    year_propensity: np.ndarray  # (n, years) mean propensity per calendar year (NaN when not alive)
    first_year: int


def _licensed(inds: list[dict]) -> np.ndarray:
    return np.array([bool(set(i["licences"]) & {"food_business", "food_production", "special_equipment",
                                                  "drug_retail", "medical_device"}) for i in inds])


def domain_cum() -> np.ndarray:
    """Cumulative penalty-domain weights per industry, shape (industries, domains)."""
    inds = industries()
    w = np.array([[i["domains"].get(d, 0.0) for d in PENALTY_DOMAINS] for i in inds], dtype=np.float64)
    return np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)


def params() -> monthly.Params:
    """The kernel's scalar parameters from district.toml."""
    cfg = district()
    lat, det, rec = cfg["latent"], cfg["detection"], cfg["records"]
    return monthly.Params(
        ar_phi=lat["ar_phi"], ar_sd=lat["ar_sd"], young_bonus=lat["young_bonus"], covid_shift=lat["covid_shift"],
        persist=lat["persist"], serious_logit=lat["severity_logit"]["serious"],
        ordinary_logit=lat["severity_logit"]["ordinary"], severity_slope=lat["severity_slope"],
        complaint_base=det["complaint_base"], complaint_violating=det["complaint_violating"],
        complaint_inspection=det["complaint_inspection"], news_violating=det["news_violating"],
        news_inspection=det["news_inspection"], find_random=det["find"]["random"],
        find_targeted=det["find"]["targeted"], find_complaint=det["find"]["complaint"],
        crackdown_factor=lat["crackdown_factor"], crackdown_find=lat["crackdown_find"],
        targeted_after_case=det["targeted_after_case"], corrected_on_site=det["corrected_on_site"],
        leniency_record=det["leniency_record"], fixed_after_finding=det["fixed_after_finding"],
        unreachable_found=det["unreachable_found"], unreachable_discovery=det["unreachable_discovery"],
        change_rate=rec["change_per_year"] / 12, change_trouble_factor=rec["change_trouble_factor"],
        crack_domain=PENALTY_DOMAINS.index(lat["crackdown_domain"]),
    )


@cache
def pending_tables(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Chance that a record of an event in month ``t - k`` is first known after the start of month ``t``.

    ``pending[severity, k - 1]``: a case opened in month ``t - k`` (its inspection record, or a penalty
    that counts for the label); ``unreachable[k - 1]``: an entity found unreachable in month ``t - k``
    (its abnormal listing). Estimated once by drawing the record timings of records.py.
    """
    rec = district()["records"]
    rng = np.random.default_rng([seed, 300])
    m = 200_000
    month = 365.25 / 12
    day = rng.integers(0, 28, m)

    def lag() -> np.ndarray:
        late = rng.random(m) < rec["known_lag_share"]
        return np.where(late, np.ceil(rng.exponential(rec["known_lag_days"], m)), 0)

    inspection = day + lag()
    penalty = day + rng.integers(*rec["penalty_decided_days"], m) + rng.integers(*rec["penalty_known_days"], m) + lag()
    minor = (1 - rec["penalty_simple_share"]) * (1 - rec["penalty_warning_only"])  # published: a label event
    counts = rng.random(m)
    ks = np.arange(1, 9)
    pending = np.array([[np.mean((inspection > k * month) | ((counts < (minor if sev == 0 else 1.0))
                                                             & (penalty > k * month))) for k in ks]
                        for sev in range(3)])
    listed = day + rng.integers(*rec["unreachable_listing_days"], m)
    unreachable = np.array([np.mean(listed > k * month) for k in (1, 2)])
    return pending, unreachable


def simulate(pop: Population, frame: Frame, *, lo: int, hi: int, seed: int, chunk: int) -> World:
    """Run the monthly simulation for entities ``lo`` .. ``hi``."""
    cfg = district()
    lat, det = cfg["latent"], cfg["detection"]
    horizon = int(rules.load("labels")["label"]["horizon_months"])
    if horizon != monthly.HORIZON:
        raise ValueError(f"expected a {monthly.HORIZON}-month label horizon in core/rules/labels.toml, got {horizon}")
    rng = np.random.default_rng([seed, 100, chunk])
    n, T = hi - lo, frame.months
    sl = slice(lo, hi)
    inds = industries()
    ind = pop.industry[sl]
    is_ent = pop.is_ent[sl]
    consumer = np.array([i["consumer"] for i in inds])[ind]
    licensed = _licensed(inds)[ind]
    cum = domain_cum()
    groups = np.array([i["group"] for i in inds], dtype=object)
    covid = np.isin(groups[ind], lat["covid_groups"])
    crack_d = PENALTY_DOMAINS.index(lat["crackdown_domain"])
    share = np.diff(np.concatenate([np.zeros((len(inds), 1)), cum], axis=1), axis=1)[:, crack_d]
    crack_sector = share[ind] >= 0.2
    intercept = np.where(is_ent, lat["intercept"]["enterprise"], lat["intercept"]["individual"])
    years_t = frame.year_index(np.arange(T + monthly.HORIZON))
    rand_rate = np.where(is_ent, det["random_per_year"]["enterprise"], det["random_per_year"]["individual"]) / 12
    targ_rate = np.where(licensed, det["targeted_per_year"]["licensed"], det["targeted_per_year"]["other"]) / 12
    pending, unr_pending = pending_tables(seed)

    alive = np.zeros((n, T), dtype=bool)
    prop = np.zeros((n, T), dtype=np.float32)
    viol = np.zeros((n, T), dtype=bool)
    dom = np.full((n, T), -1, dtype=np.int8)
    dormant = np.zeros((n, T), dtype=bool)
    risk = np.zeros((n, T), dtype=np.float32)
    ins = np.full((n, T), monthly.NO_EVENT, dtype=np.int8)
    com, nws, unr, chg = (np.zeros((n, T), dtype=bool) for _ in range(4))
    monthly.run(
        seed, np.arange(lo, hi, dtype=np.int64), ind.astype(np.int64),
        pop.base_logit[sl] + pop.group_effect[pop.group[sl]],
        intercept.astype(np.float64), consumer.astype(np.float64), rand_rate, targ_rate, covid, crack_sector,
        share[ind], is_ent & (pop.exit_kind[sl] == EXIT_FORCED), frame.month_of(pop.established[sl]),
        frame.month_of(pop.exit_date[sl]), frame.month_of(pop.dormant_from[sl]),
        np.isin(years_t, lat["covid_years"]), years_t == lat["crackdown_year"], cum, pending, unr_pending, params(),
        alive, prop, viol, dom, dormant, risk, ins, com, nws, unr, chg)

    years = sorted({int(y) for y in frame.year_index(np.arange(T))})
    yp = np.full((n, len(years)), np.nan)
    ym = frame.year_index(np.arange(T)) - years[0]
    for j in range(len(years)):
        cols = ym == j
        cnt = alive[:, cols].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            yp[:, j] = np.where(cnt > 0, (prop[:, cols] * alive[:, cols]).sum(axis=1) / cnt, np.nan)

    def _dates(tt: np.ndarray, ents: np.ndarray) -> np.ndarray:
        """A day in month ``tt``, not before the entity was established nor after it exited."""
        d = np.maximum(frame.month_start(tt) + rng.integers(0, 28, len(tt)) * DAY, pop.established[ents])
        gone = pop.exit_date[ents]
        return np.where(np.isnat(gone), d, np.minimum(d, gone))

    def _events(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entity row, month) of flagged cells, month by month."""
        i, t = np.nonzero(flags)
        order = np.lexsort((i, t))
        return i[order], t[order]

    i_ent, i_t = _events(ins != monthly.NO_EVENT)
    code = ins[i_ent, i_t].astype(np.int64)
    i_sev, code = code % 3, code // 3
    i_len, code = code % 2, code // 2
    i_res, i_kind = code % 4, code // 4
    hit = (i_res == 1) | (i_res == 2)
    c_ent, c_t = _events(com)
    n_ent, n_t = _events(nws)
    u_ent, u_t = _events(unr)
    return World(
        lo=lo, hi=hi, alive=alive, propensity=prop, violating=viol, domain=dom, dormant=dormant, risk=risk,
        changes=chg,
        inspections={"ent": i_ent + lo, "date": _dates(i_t, i_ent + lo), "kind": i_kind, "result": i_res,
                     "domain": np.where(hit, dom[i_ent, i_t], -1).astype(np.int64),
                     "severity": np.where(hit, i_sev, -1), "leniency": i_len.astype(bool)},
        complaints={"ent": c_ent + lo, "date": _dates(c_t, c_ent + lo), "violating": viol[c_ent, c_t],
                    "domain": dom[c_ent, c_t].astype(np.int64)},
        news={"ent": n_ent + lo, "date": _dates(n_t, n_ent + lo), "domain": dom[n_ent, n_t].astype(np.int64)},
        unreachable={"ent": u_ent + lo, "date": _dates(u_t, u_ent + lo)},
        year_propensity=yp, first_year=years[0],
    )


def inspection_items() -> list[dict]:
    """The checklist items (core/rules/inspection_items.toml), used to fill ``inspections.items``."""
    return rules.load("inspection_items")["item"]
