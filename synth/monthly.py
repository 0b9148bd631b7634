"""The monthly simulation kernel (numba): latent state, detection, changes and the 12-month risk, per entity.

Entities do not interact month to month (what they share, the group effect, is part of ``base``), so the
kernel runs one entity at a time through every month. Each entity draws from its own counter-based
stream (SplitMix64 keyed by the seed and the entity's global index): the result does not depend on
how the population is cut into chunks, and no large blocks of random numbers are held in memory.

``risk`` is the simulator's own probability that the design label fires (report.labels: an adverse
event known in the 12 months from the first day of the month): computed from the state entering the
month — the propensity's AR level, whether a violation is running (its domain and severity), past
cases (the targeted-inspection boost, penalties still to come), dormancy and a scheduled forced exit —
by running the generator's monthly transition forward in expectation over the next 12 months.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)
_INV53 = 1.0 / 9007199254740992.0
HORIZON = 12  # months of the design label (core/rules/labels.toml horizon_months, checked by the caller)
NO_EVENT = -1
CASE_MEMORY = 3  # cases remembered for penalties still to come
BLOCK = 2048  # entities per parallel work item


class Params(NamedTuple):
    """Scalar parameters of the kernel (district.toml [latent] and [detection], records.py constants)."""

    ar_phi: float
    ar_sd: float
    young_bonus: float
    covid_shift: float
    persist: float
    serious_logit: float
    ordinary_logit: float
    severity_slope: float
    complaint_base: float
    complaint_violating: float
    complaint_inspection: float
    news_violating: float
    news_inspection: float
    find_random: float
    find_targeted: float
    find_complaint: float
    crackdown_factor: float
    crackdown_find: float
    targeted_after_case: float
    corrected_on_site: float
    leniency_record: float
    fixed_after_finding: float
    unreachable_found: float
    unreachable_discovery: float
    change_rate: float
    change_trouble_factor: float
    crack_domain: int


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always")
def _u(state):
    state[0] += _GOLDEN
    return float(_mix(state[0]) >> _S11) * _INV53


@njit(inline="always")
def _normal(state):
    u1 = _u(state)
    u2 = _u(state)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@njit(inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, fastmath=True, error_model="numpy")
def _risk(t, v, ar, ep_dom, ep_sev, n_cases, last_case, news_prev, found, found_t, case_t, case_s, forced, exit_m,
          dorm_m, intercept, rand_rate, targ_rate, crack_share, p_complaint, p_news, mu_det, t_mult, crack_t,
          pending, unr_pending, prm, phik, shrink):
    """P(an adverse event is known in months t .. t + 11 | the state of one entity entering month t).

    ``mu_det[s]``: the deterministic part of the entity's logit in month s (base, youth, covid);
    ``t_mult[s]``: the crackdown multiplier of its targeted-inspection rate.
    """
    if forced and exit_m <= t + HORIZON - 1:  # the business licence is revoked in the window
        return 1.0
    keep = 1.0  # no pending record of an earlier case or finding reaches the window
    for c in range(CASE_MEMORY):
        k = t - case_t[c]
        if 1 <= k <= pending.shape[1]:
            keep *= 1.0 - pending[case_s[c], k - 1]
    k = t - found_t
    if 1 <= k <= unr_pending.shape[0]:
        keep *= 1.0 - unr_pending[k - 1]
    # P(no event yet and not violating), P(... and the running violation goes on), P(... and a new one)
    p0 = 0.0 if v else 1.0
    p1a = 1.0 if v else 0.0
    p1b = 0.0
    first_case = n_cases == 0
    lenient_a = prm.corrected_on_site if (first_case and ep_sev == 0) else 0.0
    r0 = mu_det[t] + ar - intercept
    pi0 = (1.0 - _sigmoid(prm.serious_logit + prm.severity_slope * r0)) * (
        1.0 - _sigmoid(prm.ordinary_logit + prm.severity_slope * r0))
    lenient_b = prm.corrected_on_site * pi0 if first_case else 0.0
    find_a = prm.crackdown_find if ep_dom == prm.crack_domain else 1.0
    find_b = 1.0 + (prm.crackdown_find - 1.0) * crack_share
    fixed = prm.fixed_after_finding
    persist = prm.persist
    random_find = rand_rate * prm.find_random
    for k in range(min(HORIZON, exit_m - t)):
        s = t + k
        p_t = targ_rate * t_mult[s]
        if s - last_case < 24:
            p_t *= 1.0 + prm.targeted_after_case
        if dorm_m <= s:  # dormant: violations stop; an inspection or a visit finds it gone
            p0 += p1a + p1b
            p1a = 0.0
            p1b = 0.0
            if not found:
                p_ins = (1.0 - (1.0 - p_t) * (1.0 - rand_rate)) * prm.unreachable_found
                p0 *= 1.0 - (p_ins + (1.0 - p_ins) * prm.unreachable_discovery)
            continue
        p = 1.0 / (1.0 + math.exp(-(mu_det[s] + phik[k] * ar) * shrink[k]))
        onset = p0 * p
        p0 = p0 * (1.0 - p) + (p1a + p1b) * (1.0 - persist)
        p1a *= persist
        p1b = p1b * persist + onset
        news = (1.0 if news_prev else 0.0) if k == 0 else p_news
        p_targ = 1.0 - (1.0 - p_t) * (1.0 - news * prm.news_inspection)
        h = p_complaint * prm.find_complaint + (1.0 - p_complaint) * (
            p_targ * prm.find_targeted + (1.0 - p_targ) * random_find)
        h_a = h
        h_b = h
        if crack_t[s]:
            h_a = min(1.0, h * find_a)
            h_b = min(1.0, h * find_b)
        fix_a = p1a * h_a * lenient_a * fixed
        fix_b = p1b * h_b * lenient_b * fixed
        p1a -= p1a * h_a * (1.0 - lenient_a) + fix_a
        p1b -= p1b * h_b * (1.0 - lenient_b) + fix_b
        p0 += fix_a + fix_b
    return 1.0 - keep * (p0 + p1a + p1b)


@njit(cache=True, nogil=True, parallel=True)
def run(seed, gidx, ind, base, intercept, consumer, rand_rate, targ_rate, covid, crack_sector, crack_share,
        forced_ent, est_m, exit_m, dorm_m, covid_t, crack_t, cum, pending, unr_pending, prm,
        alive, prop, viol, dom, dormant, risk, ins, com, nws, unr, chg):
    """Simulate entities ``0..n-1`` over ``T`` months, writing the (n, T) output arrays in place.

    ``ins`` holds one inspection per entity-month coded ``((kind * 4 + result) * 2 + leniency) * 3 +
    severity`` (NO_EVENT when none); ``com``, ``nws``, ``unr``, ``chg`` flag complaints, negative news,
    unreachable discoveries and registration changes. ``covid_t`` and ``crack_t`` run ``T + HORIZON``
    months (the risk looks past the frame as if the world went on).
    """
    n, T = alive.shape
    phi, sd = prm.ar_phi, prm.ar_sd
    stat_sd = sd / math.sqrt(1.0 - phi * phi)
    # the AR level k months ahead: mean phi^k * ar, variance of the innovations; E[sigmoid] by the probit
    # approximation sigmoid(mu / sqrt(1 + pi * var / 8))
    phik = np.empty(HORIZON)
    shrink = np.empty(HORIZON)
    for k in range(HORIZON):
        phik[k] = phi ** (k + 1)
        var = sd * sd * (1.0 - phi ** (2 * (k + 1))) / (1.0 - phi * phi)
        shrink[k] = 1.0 / math.sqrt(1.0 + math.pi * var / 8.0)
    find = np.array([prm.find_random, prm.find_targeted, prm.find_complaint])
    seed_key = _mix(np.uint64(seed) * _GOLDEN + np.uint64(0x5EED))
    for block in prange((n + BLOCK - 1) // BLOCK):  # entities are independent: blocks run in parallel
        state = np.zeros(1, dtype=np.uint64)
        case_t = np.empty(CASE_MEMORY, dtype=np.int64)
        case_s = np.empty(CASE_MEMORY, dtype=np.int64)
        mu_det = np.empty(T + HORIZON)
        t_mult = np.empty(T + HORIZON)
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            state[0] = _mix(seed_key ^ (np.uint64(gidx[i]) * _M1))
            ar = _normal(state) * stat_sd
            v = False
            ep_dom = 0
            ep_sev = 0
            n_cases = 0
            last_case = -1000
            news_prev = False
            found = False
            found_t = -1000
            case_t[:] = -1000
            case_s[:] = 0
            cons = consumer[i]
            p_complaint = min(1.0, cons * (prm.complaint_base + prm.complaint_violating)) * prm.complaint_inspection
            p_news = min(1.0, prm.news_violating * cons)
            start = max(est_m[i], 0)
            stop = min(exit_m[i], T)
            for s in range(start, min(exit_m[i] + 1, T) + HORIZON):
                mu_det[s] = base[i] + prm.young_bonus * ((s - est_m[i]) < 24)
                if covid[i] and covid_t[s]:
                    mu_det[s] += prm.covid_shift
                t_mult[s] = prm.crackdown_factor if (crack_t[s] and crack_sector[i]) else 1.0
            for t in range(start, stop):
                d = dorm_m[i] <= t
                risk[i, t] = _risk(t, v, ar, ep_dom, ep_sev, n_cases, last_case, news_prev, found, found_t, case_t,
                                   case_s, forced_ent[i], exit_m[i], dorm_m[i], intercept[i], rand_rate[i],
                                   targ_rate[i], crack_share[i], p_complaint, p_news, mu_det, t_mult, crack_t, pending,
                                   unr_pending, prm, phik, shrink)
                # ---- the month itself
                ar = phi * ar + sd * _normal(state)
                z = mu_det[t] + ar
                p = _sigmoid(z)  # dormant entities keep their propensity but do not operate, so cannot violate
                u0 = _u(state)
                if d:
                    v = False
                elif v:
                    v = u0 < prm.persist
                elif u0 < p:
                    v = True
                    u1 = _u(state)
                    row = cum[ind[i]]
                    ep_dom = 0
                    while ep_dom < row.shape[0] - 1 and row[ep_dom] < u1:
                        ep_dom += 1
                    r = z - intercept[i]
                    if _u(state) < _sigmoid(prm.serious_logit + prm.severity_slope * r):
                        ep_sev = 2
                    elif _u(state) < _sigmoid(prm.ordinary_logit + prm.severity_slope * r):
                        ep_sev = 1
                    else:
                        ep_sev = 0
                v_now = v
                crackdown = crack_t[t]
                complaint = (not d) and _u(state) < cons * (prm.complaint_base + prm.complaint_violating * v)
                news = v and _u(state) < p_news
                p_t = targ_rate[i] * t_mult[t] * (1.0 + prm.targeted_after_case * ((t - last_case) < 24))
                by_complaint = complaint and _u(state) < prm.complaint_inspection
                targeted = _u(state) < p_t
                if news_prev and not targeted:
                    targeted = _u(state) < prm.news_inspection
                random_ = _u(state) < rand_rate[i]
                uu = _u(state) if (d or by_complaint or targeted or random_) else 1.0
                if by_complaint or targeted or random_:
                    kind = 2 if by_complaint else (1 if targeted else 0)
                    f = find[kind] * (prm.crackdown_find if (crackdown and ep_dom == prm.crack_domain) else 1.0)
                    hit = v and _u(state) < f
                    lenient = hit and ep_sev == 0 and n_cases == 0 and _u(state) < prm.corrected_on_site
                    unreach = d and uu < prm.unreachable_found
                    result = 3 if unreach else (1 if lenient else 2) if hit else 0
                    leniency = lenient and uu < prm.leniency_record
                    ins[i, t] = ((kind * 4 + result) * 2 + leniency) * 3 + (ep_sev if hit else 0)
                    if result == 2:
                        n_cases += 1
                        last_case = t
                        oldest = 0
                        for c in range(1, CASE_MEMORY):
                            if case_t[c] < case_t[oldest]:
                                oldest = c
                        case_t[oldest] = t
                        case_s[oldest] = ep_sev
                    if hit and _u(state) < prm.fixed_after_finding:
                        v = False
                    if result == 3 and not found:
                        found = True
                        found_t = t
                com[i, t] = complaint
                nws[i, t] = news
                if d and not found and uu < prm.unreachable_discovery:
                    unr[i, t] = True
                    found = True
                    found_t = t
                news_prev = news
                alive[i, t] = True
                prop[i, t] = p
                viol[i, t] = v_now
                dormant[i, t] = d
                if v_now:
                    dom[i, t] = ep_dom
            if start <= exit_m[i] < T:  # the exit month: the entity exists until its exit date
                t = exit_m[i]
                risk[i, t] = _risk(t, v, ar, ep_dom, ep_sev, n_cases, last_case, news_prev, found, found_t, case_t,
                                   case_s, forced_ent[i], exit_m[i], dorm_m[i], intercept[i], rand_rate[i],
                                   targ_rate[i], crack_share[i], p_complaint, p_news, mu_det, t_mult, crack_t, pending,
                                   unr_pending, prm, phik, shrink)
                prop[i, t] = _sigmoid(mu_det[t] + phi * ar)
                dormant[i, t] = dorm_m[i] <= t
            # ---- registration changes, more frequent in the six months before trouble
            for t in range(start, stop):
                if dorm_m[i] <= t:
                    continue
                trouble = 0 < dorm_m[i] - t <= 6 or 0 < exit_m[i] - t <= 6
                for k in range(1, 7):
                    if trouble or t + k >= stop:
                        break
                    trouble = viol[i, t + k]
                rate = prm.change_rate * (1.0 + prm.change_trouble_factor * trouble)
                chg[i, t] = _u(state) < rate
