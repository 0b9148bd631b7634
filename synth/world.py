"""The hidden world, month by month: latent propensity, true violations, and what the bureau detects.

Propensity (monthly probability that a violation starts) = base (type, industry, age, size, town)
+ a component shared by co-controlled entities + AR(1) drift + shocks (2020–2022 for tourism and
catering). A violation lasts a few months; it is observed only when an inspection (random,
targeted or complaint-driven) finds it, so the recorded history carries selection bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import rules
from features.sources import PENALTY_DOMAINS
from synth.params import DAY, Frame, district, sigmoid
from synth.population import Population, industries

KINDS = ("random", "targeted", "complaint")
RESULTS = ("no_issue", "issue_corrected", "case_opened", "not_found_at_address")
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


def simulate(pop: Population, frame: Frame, *, lo: int, hi: int, seed: int, chunk: int) -> World:
    """Run the monthly simulation for entities ``lo`` .. ``hi``."""
    cfg = district()
    lat, det = cfg["latent"], cfg["detection"]
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
    crack_sector = np.diff(np.concatenate([np.zeros((len(inds), 1)), cum], axis=1), axis=1)[ind, crack_d] >= 0.2
    intercept = np.where(is_ent, lat["intercept"]["enterprise"], lat["intercept"]["individual"])

    est_m = frame.month_of(pop.established[sl])
    exit_m = frame.month_of(pop.exit_date[sl])
    dorm_m = frame.month_of(pop.dormant_from[sl])
    base = pop.base_logit[sl] + pop.group_effect[pop.group[sl]]

    alive = np.zeros((n, T), dtype=bool)
    prop = np.zeros((n, T), dtype=np.float32)
    viol = np.zeros((n, T), dtype=bool)
    dom = np.full((n, T), -1, dtype=np.int8)
    dormant = np.zeros((n, T), dtype=bool)

    ar = rng.normal(0.0, lat["ar_sd"] / np.sqrt(1 - lat["ar_phi"] ** 2), n)
    v = np.zeros(n, dtype=bool)
    ep_dom = np.zeros(n, dtype=np.int8)
    ep_sev = np.zeros(n, dtype=np.int8)
    n_cases = np.zeros(n, dtype=np.int32)
    last_case = np.full(n, -1000, dtype=np.int64)
    news_prev = np.zeros(n, dtype=bool)
    found_unreachable = np.zeros(n, dtype=bool)
    rand_rate = np.where(is_ent, det["random_per_year"]["enterprise"], det["random_per_year"]["individual"]) / 12
    targ_rate = np.where(licensed, det["targeted_per_year"]["licensed"], det["targeted_per_year"]["other"]) / 12
    find = np.array([det["find"][k] for k in KINDS])
    ins, com, nws, unr = [], [], [], []

    for t in range(T):
        year = int(frame.year_index(t))
        a = (est_m <= t) & (t < exit_m)
        d = a & (dorm_m <= t)
        ar = lat["ar_phi"] * ar + rng.normal(0.0, lat["ar_sd"], n)
        young = (t - est_m) < 24
        z = base + ar + lat["young_bonus"] * young + (lat["covid_shift"] * covid if year in lat["covid_years"] else 0)
        p = sigmoid(z)  # dormant entities keep their propensity but do not operate, so cannot violate
        u = rng.random((8, n), dtype=np.float32)
        onset = ~v & (u[0] < p) & ~d
        v = ((v & (u[0] < lat["persist"])) | onset) & a & ~d
        v_now = v.copy()
        if onset.any():
            rows = np.flatnonzero(onset)
            ep_dom[rows] = (cum[ind[rows]] < u[1, rows, None]).sum(axis=1)
            risk = z[rows] - intercept[rows]
            sev = np.where(u[2, rows] < sigmoid(lat["severity_logit"]["serious"] + 0.8 * risk), 2,
                           np.where(u[3, rows] < sigmoid(lat["severity_logit"]["ordinary"] + 0.8 * risk), 1, 0))
            ep_sev[rows] = sev
        crackdown = year == lat["crackdown_year"]

        complaint = a & ~d & (u[4] < consumer * (det["complaint_base"] + det["complaint_violating"] * v))
        news = v & (u[5] < det["news_violating"] * consumer)
        targ_p = targ_rate * (1 + det["targeted_after_case"] * ((t - last_case) < 24))
        if crackdown:
            targ_p = targ_p * np.where(crack_sector, lat["crackdown_factor"], 1.0)
        u2 = rng.random((5, n), dtype=np.float32)
        by_complaint = complaint & (u2[0] < det["complaint_inspection"])
        targeted = a & ((u2[1] < targ_p) | (news_prev & (u2[2] < det["news_inspection"])))
        random_ = a & (u2[3] < rand_rate)
        inspected = by_complaint | targeted | random_
        kind = np.where(by_complaint, 2, np.where(targeted, 1, 0))
        if inspected.any():
            rows = np.flatnonzero(inspected)
            k = kind[rows]
            f = find[k] * np.where(crackdown & (ep_dom[rows] == crack_d), 1.15, 1.0)
            hit = v[rows] & (u[6, rows] < f)
            lenient = hit & (ep_sev[rows] == 0) & (n_cases[rows] == 0) & (u[7, rows] < det["corrected_on_site"])
            unreach = d[rows] & (u2[4, rows] < det["unreachable_found"])
            result = np.where(unreach, 3, np.where(hit, np.where(lenient, 1, 2), 0))
            leniency = lenient & (u2[4, rows] < det["leniency_record"])
            ins.append((rows, np.full(len(rows), t), k, result, np.where(hit, ep_dom[rows], -1),
                        np.where(hit, ep_sev[rows], -1), leniency))
            opened = rows[result == 2]
            n_cases[opened] += 1
            last_case[opened] = t
            fixed = rows[hit & (rng.random(len(rows)) < 0.8)]
            v[fixed] = False
            found_unreachable[rows[result == 3]] = True
        if complaint.any():
            rows = np.flatnonzero(complaint)
            com.append((rows, np.full(len(rows), t), v_now[rows], ep_dom[rows]))
        if news.any():
            rows = np.flatnonzero(news)
            nws.append((rows, np.full(len(rows), t), ep_dom[rows]))
        disc = d & ~found_unreachable & (u2[4] < det["unreachable_discovery"])
        if disc.any():
            rows = np.flatnonzero(disc)
            unr.append((rows, np.full(len(rows), t)))
            found_unreachable[rows] = True
        news_prev = news
        alive[:, t], prop[:, t], viol[:, t], dormant[:, t] = a, np.where(a, p, 0), v_now, d
        dom[v_now, t] = ep_dom[v_now]

    years = sorted({int(y) for y in frame.year_index(np.arange(T))})
    yp = np.full((n, len(years)), np.nan)
    ym = frame.year_index(np.arange(T)) - years[0]
    for j in range(len(years)):
        cols = ym == j
        cnt = alive[:, cols].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            yp[:, j] = np.where(cnt > 0, prop[:, cols].sum(axis=1) / cnt, np.nan)

    def _dates(tt: np.ndarray, ents: np.ndarray) -> np.ndarray:
        """A day in month ``tt``, not before the entity was established nor after it exited."""
        d = np.maximum(frame.month_start(tt) + rng.integers(0, 28, len(tt)) * DAY, pop.established[ents])
        gone = pop.exit_date[ents]
        return np.where(np.isnat(gone), d, np.minimum(d, gone))

    def _cat(parts: list, k: int) -> list[np.ndarray]:
        if not parts:
            return [np.zeros(0, dtype=np.int64) for _ in range(k)]
        return [np.concatenate([p[i] for p in parts]) for i in range(k)]

    i_ent, i_t, i_kind, i_res, i_dom, i_sev, i_len = _cat(ins, 7)
    c_ent, c_t, c_v, c_dom = _cat(com, 4)
    n_ent, n_t, n_dom = _cat(nws, 3)
    u_ent, u_t = _cat(unr, 2)
    return World(
        lo=lo, hi=hi, alive=alive, propensity=prop, violating=viol, domain=dom, dormant=dormant,
        inspections={"ent": i_ent + lo, "date": _dates(i_t, i_ent + lo), "kind": i_kind, "result": i_res, "domain": i_dom,
                     "severity": i_sev, "leniency": i_len.astype(bool)},
        complaints={"ent": c_ent + lo, "date": _dates(c_t, c_ent + lo), "violating": c_v.astype(bool), "domain": c_dom},
        news={"ent": n_ent + lo, "date": _dates(n_t, n_ent + lo), "domain": n_dom},
        unreachable={"ent": u_ent + lo, "date": _dates(u_t, u_ent + lo)},
        year_propensity=yp, first_year=years[0],
    )


def inspection_items() -> list[dict]:
    """The checklist items (core/rules/inspection_items.toml), used to fill ``inspections.items``."""
    return rules.load("inspection_items")["item"]
