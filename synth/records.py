"""Observed records of one chunk, each generated from the hidden world (not from each other).

Every frame carries the contract columns plus internal ``_``-prefixed columns used to slice the
history by date (``_appear``: when the row first became known; lifecycle dates are masked in views).
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core import dept_lists as dept_list_rules
from core import rules
from core.workdays import WorkdayCalendar
from features.sources import PENALTY_DOMAINS
from synth import names as nm
from synth import opinions as op
from synth.credit_records import credit_records
from synth.params import DAY, NAT, Frame, add_months, district, penalty_classes_of, publicity, sigmoid
from synth.population import EXIT_FORCED, EXIT_VOLUNTARY, Population, industries, silent_before_exit
from synth.world import KINDS, RESULTS, SEVERITY, World, inspection_items

LISTABLE = ("food", "drugs", "quality", "special_equipment", "consumer_rights", "unfair_competition", "registration")
LICENCE_PREFIX = {"food_business": "JY", "food_production": "SC", "special_equipment": "TS", "drug_retail": "YPJY",
                  "medical_device": "YLQX", "industrial_product": "XK", "lodging_hygiene": "WS", "travel_agency": "LXS"}
CATEGORY = {"food": "food_safety", "drugs": "quality", "quality": "quality", "special_equipment": "safety",
            "price": "price", "advertising": "false_advertising", "consumer_rights": "service",
            "unfair_competition": "service", "registration": "contract", "licensing": "service", "other": "service"}
CHANGE_ITEMS = ("address", "scope", "legal_rep", "capital", "name", "shareholder")
CHANGE_W = (0.26, 0.3, 0.14, 0.12, 0.05, 0.13)


def _digits(values: np.ndarray, width: int) -> pa.Array:
    """Zero-padded decimal text of integers (Arrow: no Python string per value)."""
    return pc.utf8_lpad(pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string()), width=width, padding="0")


def _join(*parts) -> pd.api.extensions.ExtensionArray:
    """Concatenate text parts (constants, Arrow arrays) row by row into a pandas ``str`` array."""
    return pd.array(pc.binary_join_element_wise(*parts, ""), dtype="str")


def _ids(prefix: str, year: np.ndarray, chunk: int, width: int = 6) -> pd.api.extensions.ExtensionArray:
    """Record numbers: prefix, year, chunk and a serial."""
    return _join(prefix, _digits(year, 4), f"{chunk:03d}", _digits(np.arange(len(year)), width))


def _year(d: np.ndarray) -> np.ndarray:
    return d.astype("datetime64[Y]").astype(np.int64) + 1970


def _lag(rng: np.random.Generator, d: np.ndarray) -> np.ndarray:
    """Known date: the event date, later for some records (reporting lag)."""
    rec = district()["records"]
    late = rng.random(len(d)) < rec["known_lag_share"]
    lag = np.where(late, np.ceil(rng.exponential(rec["known_lag_days"], len(d))), 0).astype(np.int64)
    return d + lag * DAY


def _clip(d: np.ndarray, frame: Frame) -> np.ndarray:
    """Dates after the end of the frame have not happened yet."""
    d = d.copy()
    d[d > frame.d_end] = NAT
    return d


def chunk_records(pop: Population, world: World, frame: Frame, *, seed: int, chunk: int,
                  heads: np.ndarray, all_names: Container[str]) -> dict[str, pd.DataFrame]:
    """All observed records of the entities of ``world`` (one chunk)."""
    rng = np.random.default_rng([seed, 200, chunk])
    out: dict[str, pd.DataFrame] = {}
    out["inspections"] = _inspections(rng, pop, world, frame, chunk)
    out["penalties"] = _penalties(rng, pop, world, frame, chunk)
    out["serious_list"] = _serious(rng, out["penalties"], frame, chunk)
    out["complaints"] = _complaints(rng, pop, world, frame, chunk)
    reports, abnormal = _annual_reports(rng, pop, world, frame, chunk)
    out["annual_reports"] = reports
    out["abnormal_list"] = listing_ids(pd.concat(
        [abnormal, _unreachable(rng, pop, world, out["inspections"], frame, chunk)], ignore_index=True), chunk)
    out["licences"] = _licences(rng, pop, world, out["penalties"], frame, chunk)
    changes = _changes(rng, pop, world, frame, chunk)
    out["changes"] = changes
    out["relations"] = _relations(rng, pop, world, changes, heads, frame, seed=seed)
    out["opinions"] = _opinions(rng, pop, world, frame, chunk, all_names)
    out["dept_lists"] = dept_lists(np.random.default_rng([seed, 210, chunk]), pop, world, frame, chunk)
    # credit commitments, their breaches and sampling results (synth/credit_records.py, own random stream)
    out.update(credit_records(pop, world, frame, seed=seed, chunk=chunk, records=out))
    # 舆情台账: own streams, so the records above stay as they were for a seed
    out["opinions"]["published_at"] = _published_at(np.random.default_rng([seed, 215, chunk]), out["opinions"])
    out["opinion_handling"] = _opinion_handling(np.random.default_rng([seed, 216, chunk]), out["opinions"])
    return out


# ------------------------------------------------------------------------ other departments' lists
def dept_lists(rng, pop: Population, world: World, frame: Frame, chunk: int) -> pd.DataFrame:
    """Other departments' dishonesty-list entries (dept_lists) drawn month by month from the latent propensity
    (rates and removals: synth/district.toml [dept_lists]; effect periods: core/rules/dept_lists.toml)."""
    cfg = district()["dept_lists"]
    place = district()["district"]
    region = place["region_code"][2:]
    n, months = world.propensity.shape
    is_ent = pop.is_ent[world.lo:world.hi]
    p = np.clip(world.propensity.astype(np.float64), 1e-6, 1 - 1e-6)
    lift = np.exp(cfg["risk_slope"] * (np.log(p / (1 - p)) - cfg["reference_logit"]))
    parts = []
    for code, k in cfg["kind"].items():
        effect = dept_list_rules.kind(code).effect_months
        rate = np.where(is_ent, k["rate_per_year"]["enterprise"], k["rate_per_year"]["individual"]) / 12
        hazard = np.minimum(rate[:, None] * lift, 0.5) * world.alive
        i, t = np.nonzero(rng.random((n, months)) < hazard)
        m = len(i)
        if not m:
            continue
        listed = frame.month_start(t) + rng.integers(0, 28, m) * DAY
        stated = rng.random(m) < k["end_date_share"]
        period_end = add_months(listed, effect) if effect else np.full(m, NAT)
        end_date = np.where(stated & (effect > 0), period_end, NAT)
        early = rng.random(m) < k["early_share"]
        early_d = add_months(listed, rng.integers(k["early_months"][0], k["early_months"][1] + 1, m))
        early &= np.isnat(period_end) | (early_d < period_end)
        recorded = rng.random(m) < cfg["expiry_recorded_share"]
        removed = np.where(early, early_d, np.where(recorded, period_end, NAT))
        reason = np.where(early, k["early_reason"], "expired").astype(object)
        removed = _clip(removed, frame)
        reason[np.isnat(removed)] = None
        year = _year(listed)
        ids = _ids(k["prefix"], year, chunk)
        serial = rng.integers(1, 9999, m)
        docs = [k["document"].format(district=place["name"], region=region, year=y, n=s)
                for y, s in zip(year.tolist(), serial.tolist(), strict=True)]
        known = listed + rng.integers(cfg["known_days"][0], cfg["known_days"][1] + 1, m) * DAY
        parts.append(pd.DataFrame({
            "listing_id": ids, "uscc": pop.codes(i + world.lo), "list_kind": code,
            "department": k["department"].format(district=place["name"]), "document_number": docs,
            "listed_date": listed, "end_date": end_date, "removed_date": removed, "removal_reason": reason,
            "known_date": known, "_ent": i + world.lo}))
    cols = ["listing_id", "uscc", "list_kind", "department", "document_number", "listed_date", "end_date",
            "removed_date", "removal_reason", "known_date", "_ent"]
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in cols})
    return df[df["listed_date"].to_numpy("datetime64[D]") <= frame.d_end].reset_index(drop=True)


# --------------------------------------------------------------------------------------------- inspections
def _items_for(pop: Population, ents: np.ndarray, kind: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    items = inspection_items()
    inds = industries()
    out = np.empty(len(ents), dtype=object)
    key = pop.industry[ents] * 2 + pop.is_ent[ents]
    for k in np.unique(key):
        ind, is_ent = inds[k // 2], bool(k % 2)
        etype = "limited_company" if is_ent else "individual"
        public = [i["code"] for i in items if etype in i.get("entity_types", [])]
        topical = [i["code"] for i in items if "entity_types" not in i and (
            set(i.get("licence_types", [])) & set(ind["licences"])
            or any(ind["code"].startswith(p) for p in i.get("industry_prefixes", [])))]
        rows = np.flatnonzero(key == k)
        first = np.array(public or topical, dtype=object)[rng.integers(0, len(public or topical), len(rows))]
        if topical:
            extra = np.array(topical, dtype=object)[rng.integers(0, len(topical), len(rows))]
            # random checks start from public information; targeted and complaint checks from the topic
            first = np.where(kind[rows] == 0, first, extra)
            second = np.array(topical, dtype=object)[rng.integers(0, len(topical), len(rows))]
            both = (rng.random(len(rows)) < 0.45) & (second != first)
            first = np.where(both, first + ";" + second, first)
        out[rows] = first
    return out


def _results(rng, pop: Population, w: dict, items: np.ndarray) -> np.ndarray:
    """Result codes (core/rules/inspection_results.toml) from the world's four outcomes: no issue (a dormant
    entity: no activity of the kind found), corrected on site (on a public-information item partly
    "not disclosed", else partly "further handling pending"), a case (on a public-information item partly
    "false disclosure", partly "seriously uncooperative": both adverse events like a case) and unreachable."""
    split = district()["records"]["inspection_result_split"]
    res = np.array(RESULTS, dtype=object)[w["result"]]
    n = len(res)
    u = rng.random((2, n))
    public = np.array(["public_info" in str(i) for i in items])
    dormant = ~np.isnat(pop.dormant_from[w["ent"]]) & (pop.dormant_from[w["ent"]] <= w["date"])
    out = res.copy()
    out[(res == "no_issue") & dormant & (u[0] < split["activity_not_found"])] = "activity_not_found"
    corrected = res == "issue_corrected"
    out[corrected & public & (u[0] < split["not_disclosed"])] = "not_disclosed"
    out[corrected & ~public & (u[0] < split["follow_up"])] = "follow_up"
    case = res == "case_opened"
    out[case & public & (u[0] < split["false_disclosure"])] = "false_disclosure"
    out[case & (out == "case_opened") & (u[1] < split["obstructed"])] = "obstructed"
    return out


def _inspections(rng, pop: Population, world: World, frame: Frame, chunk: int) -> pd.DataFrame:
    w = world.inspections
    d = w["date"]
    items = _items_for(pop, w["ent"], w["kind"], rng)
    return pd.DataFrame({
        "inspection_id": _ids("JC", _year(d), chunk),
        "uscc": pop.codes(w["ent"]),
        "inspection_date": d,
        "kind": np.array(KINDS, dtype=object)[w["kind"]],
        "items": items,
        "result": _results(rng, pop, w, items),
        "known_date": _lag(rng, d),
        "_ent": w["ent"], "_domain": w["domain"], "_severity": w["severity"], "_leniency": w["leniency"],
    })


# ----------------------------------------------------------------------------------------------- penalties
def _publicity(rng, pen: pd.DataFrame, entity_type: np.ndarray) -> pd.DataFrame:
    """Publication date and publicity end of each penalty by its publicity class (core/rules/publicity.toml):
    published within the publication deadline, for the class's months or until a longer restriction ends;
    a class of 0 months (a warning alone, simple procedure) and leniency records are never published."""
    within = int(publicity()["penalty"]["publish_within_workdays"])
    months = np.array([c.months for c in penalty_classes_of(pen, entity_type)], dtype=np.int64)
    published = (months > 0) & ~pen["leniency"].to_numpy(bool)
    decided = pen["decided_date"].to_numpy("datetime64[D]")
    lag = rng.integers(1, within + 1, len(pen))
    cal, memo = _calendar(), {}
    pub = np.full(len(pen), NAT)
    for i in np.flatnonzero(published):
        key = (decided[i], int(lag[i]))
        if key not in memo:
            memo[key] = np.datetime64(cal.add_workdays(decided[i].astype(date), key[1]), "D")
        pub[i] = memo[key]
    end = add_months(pub, months)
    restriction = pen["restriction_end"].to_numpy("datetime64[D]")
    longer = published & ~np.isnat(restriction) & (np.isnat(end) | (restriction > end))
    end[longer] = restriction[longer]
    return pd.DataFrame({"published_date": pub, "publicity_end": end}, index=pen.index)


def _penalties(rng, pop: Population, world: World, frame: Frame, chunk: int) -> pd.DataFrame:
    w = world.inspections
    case = (w["result"] == 2) & (w["domain"] >= 0)
    ents, sev = w["ent"][case], w["severity"][case]
    rec = district()["records"]
    decided = w["date"][case] + rng.integers(*rec["penalty_decided_days"], int(case.sum())) * DAY
    domain = np.array(PENALTY_DOMAINS, dtype=object)[w["domain"][case]]
    n = len(ents)
    is_ent = pop.is_ent[ents]
    u = rng.random((8, n))
    simple = (sev == 0) & (u[0] < rec["penalty_simple_share"])
    licensed = np.array([bool(i["licences"]) for i in industries()])[pop.industry[ents]]
    sanctions = np.where(simple, np.where(u[1] < 0.5, "warning", "fine"), "fine").astype(object)
    sanctions = np.where(~simple & (sev == 0) & (u[1] < rec["penalty_warning_only"]), "warning", sanctions)
    sanctions = np.where(~simple & (sev == 0) & (u[1] > 1 - rec["penalty_criticism_only"]), "criticism", sanctions)
    sanctions = np.where(~simple & (sev == 0) & (u[2] < 0.3) & (sanctions == "fine"), "warning;fine", sanctions)
    conf = (sev >= 1) & (u[3] < np.where(sev == 2, 0.5, 0.3))
    sanctions = np.where(conf, sanctions + ";confiscation", sanctions)
    sanctions = np.where((sev == 2) & (u[4] < 0.3), sanctions + ";suspend_business", sanctions)
    revoke = (sev == 2) & licensed & (u[5] < 0.15)
    sanctions = np.where(revoke, sanctions + ";revoke_licence", sanctions)
    restrict = (sev == 2) & ~revoke & (u[7] < rec["penalty_restriction_share"])
    sanctions = np.where(restrict, sanctions + ";restrict_operation", sanctions)
    restriction_end = np.where(restrict, add_months(decided, rng.integers(*rec["penalty_restriction_months"], n)), NAT)
    has_fine = np.array(["fine" in s or "confiscation" in s for s in sanctions], dtype=bool)  # bool when empty too
    median = np.where(is_ent, np.array([5000.0, 20000.0, 100000.0])[sev], np.array([2000.0, 5000.0, 30000.0])[sev])
    fine = np.round(median * np.exp(rng.normal(0, 0.8, n)) / 100.0) * 100.0
    fine = np.where(simple, np.where(is_ent, rng.integers(4, 61, n) * 50.0, rng.integers(1, 5, n) * 50.0), fine)
    fine = np.where(has_fine, fine, np.nan)
    risk = pop.base_logit[ents] - np.where(is_ent, -4.0, -4.3)
    paid = has_fine & (u[6] < sigmoid(2.5 - 0.6 * risk))
    paid_date = np.where(paid, decided + rng.integers(3, 60, n) * DAY, NAT)
    procedure = np.where(simple, "simple", "ordinary").astype(object)
    known = decided + np.where(simple, rng.integers(0, 7, n), rng.integers(*rec["penalty_known_days"], n)) * DAY
    pen = pd.DataFrame({
        "uscc": pop.codes(ents), "decided_date": decided, "domain": domain, "procedure": procedure,
        "severity": np.array(SEVERITY, dtype=object)[sev], "sanctions": sanctions, "fine_amount": fine,
        "fine_paid_date": paid_date, "leniency": False, "restriction_end": restriction_end,
        "known_date": _lag(rng, known),
        "_ent": ents, "_revoke_licence": revoke,
    })
    # first-violation leniency: recorded, not a penalty
    le = w["leniency"]
    m = int(le.sum())
    led = w["date"][le] + rng.integers(5, 30, m) * DAY
    lenient = pd.DataFrame({
        "uscc": pop.codes(w["ent"][le]), "decided_date": led,
        "domain": np.array(PENALTY_DOMAINS, dtype=object)[np.maximum(w["domain"][le], 0)],
        "procedure": "simple", "severity": "minor", "sanctions": "warning", "fine_amount": np.nan,
        "fine_paid_date": NAT, "leniency": True, "restriction_end": NAT, "known_date": led,
        "_ent": w["ent"][le], "_revoke_licence": False,
    })
    # business licences revoked (two years without reports, unreachable): an ordinary-procedure penalty
    rv = np.arange(world.lo, world.hi)
    rv = rv[pop.is_ent[rv] & (pop.exit_kind[rv] == EXIT_FORCED)]
    rd = pop.exit_date[rv]
    revoked = pd.DataFrame({
        "uscc": pop.codes(rv), "decided_date": rd, "domain": "registration", "procedure": "ordinary",
        "severity": "ordinary", "sanctions": "revoke_business_licence", "fine_amount": np.nan,
        "fine_paid_date": NAT, "leniency": False, "restriction_end": NAT,
        "known_date": rd + rng.integers(0, 10, len(rv)) * DAY, "_ent": rv, "_revoke_licence": False,
    })
    pen = pd.concat([pen, lenient, revoked], ignore_index=True)
    pen = pd.concat([pen, _publicity(rng, pen, pop.entity_type[pen["_ent"].to_numpy()])], axis=1)
    pen = pen[pen["decided_date"] <= frame.d_end].sort_values(["decided_date", "uscc"], kind="stable")
    pen["fine_paid_date"] = _clip(pen["fine_paid_date"].to_numpy("datetime64[D]"), frame)
    unpublished = np.isnat(_clip(pen["published_date"].to_numpy("datetime64[D]"), frame))
    pen.loc[unpublished, ["published_date", "publicity_end"]] = NAT  # published after the end: not yet
    kind = np.where(pen["leniency"], "不罚", np.where(pen["procedure"] == "simple", "简罚", "处罚")).astype(object)
    year = _year(pen["decided_date"].to_numpy("datetime64[D]"))
    pen.insert(0, "penalty_id", _join("青岚市监", pa.array(kind, type=pa.string()), "〔", _digits(year, 4),
                                      f"〕{chunk:03d}", _digits(np.arange(len(pen)), 5), "号"))
    return pen.reset_index(drop=True)


def _serious(rng, pen: pd.DataFrame, frame: Frame, chunk: int) -> pd.DataFrame:
    rule = publicity()["serious_list"]
    share = district()["detection"]["serious_list_share"]
    pick = ((pen["severity"] == "serious") & pen["domain"].isin(LISTABLE) & ~pen["leniency"]).to_numpy().copy()
    pick &= rng.random(len(pen)) < share
    p = pen[pick]
    n = len(p)
    listed = p["decided_date"].to_numpy("datetime64[D]") + rng.integers(5, 40, n) * DAY
    expiry = add_months(listed, rule["auto_removal_months"])
    early = rng.random(n) < district()["detection"]["serious_early_removal"]
    early_d = add_months(listed, rng.integers(rules.load("repair")["serious_list"]["min_listed_months"], 30, n))
    removed = np.where(early & (early_d < expiry), early_d, expiry)
    reason = np.where(early & (early_d < expiry), "early_repair", "expired").astype(object)
    # a few listings are revoked as made in error (void: they never count, core/rules/publicity.toml)
    void = rng.random(n) < district()["detection"]["serious_void_share"]
    removed = np.where(void, listed + rng.integers(20, 180, n) * DAY, removed)
    reason[void] = rule["void_removal_reasons"][0]
    removed = _clip(removed, frame)
    reason[np.isnat(removed)] = None
    df = pd.DataFrame({
        "listing_id": _ids("YZSX", _year(listed), chunk, 5), "uscc": p["uscc"].to_numpy(), "listed_date": listed,
        "domain": p["domain"].to_numpy(), "penalty_id": p["penalty_id"].to_numpy(), "removed_date": removed,
        "removal_reason": reason, "known_date": listed + rng.integers(0, 5, n) * DAY, "_ent": p["_ent"].to_numpy(),
    })
    return df[df["listed_date"] <= frame.d_end].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- complaints
def _complaints(rng, pop: Population, world: World, frame: Frame, chunk: int) -> pd.DataFrame:
    c = world.complaints
    n = len(c["ent"])
    d = c["date"]
    dom = np.where(c["violating"] & (c["domain"] >= 0), c["domain"], -1)
    ind_dom = (world_domain_draw(rng, pop.industry[c["ent"]]))
    dom = np.where(dom >= 0, dom, ind_dom)
    category = np.array([CATEGORY[PENALTY_DOMAINS[k]] for k in dom], dtype=object)
    upheld = rng.random(n) < np.where(c["violating"], 0.7, 0.15)
    days = np.minimum(np.ceil(rng.lognormal(np.log(12), 0.7, n)), 120).astype(np.int64)
    handled = _clip(d + days * DAY, frame)
    up = pd.array(upheld, dtype="boolean")
    up[np.isnat(handled)] = pd.NA
    return pd.DataFrame({
        "complaint_id": _ids("TS", _year(d), chunk), "uscc": pop.codes(c["ent"]), "received_date": d,
        "category": category, "upheld": up, "handled_date": handled, "known_date": d, "_ent": c["ent"],
    })


def world_domain_draw(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    from synth.world import domain_cum

    cum = domain_cum()
    return (cum[industry] < rng.random(len(industry))[:, None]).sum(axis=1)


# ------------------------------------------------------------------------------------------ annual reports
def _deadline(y: int) -> np.datetime64:
    rule = publicity()["annual_report"]
    return np.datetime64(date(y + 1, rule["season_end_month"], rule["season_end_day"]), "D")


def _listing_day(y: int) -> np.datetime64:
    rule = publicity()["annual_report"]
    cal = _calendar()
    return np.datetime64(cal.add_workdays(_deadline(y).astype(date), rule["abnormal_listing_workdays"]), "D")


_CAL: list[WorkdayCalendar] = []


def _calendar() -> WorkdayCalendar:
    if not _CAL:
        _CAL.append(WorkdayCalendar.from_rules())
    return _CAL[0]


def _annual_reports(rng, pop: Population, world: World, frame: Frame, chunk: int):
    rec, lat = district()["records"], district()["latent"]
    lo, hi = world.lo, world.hi
    ents = np.arange(lo, hi)
    is_ent = pop.is_ent[ents]
    n = len(ents)
    intercept = np.where(is_ent, lat["intercept"]["enterprise"], lat["intercept"]["individual"])
    covid = np.isin(np.array([i["group"] for i in industries()], dtype=object)[pop.industry[ents]], lat["covid_groups"])
    size = pop.size[ents]
    rev_base = np.where(is_ent, np.array([1.5e6, 1.2e7, 8e7, 4e8])[size], 1.5e5) * rng.lognormal(0, 0.6, n)
    emp_base = np.where(is_ent, np.array([4.0, 25.0, 150.0, 500.0])[size], 2.0) * rng.lognormal(0, 0.4, n)
    asset_ratio = rng.uniform(0.6, 2.0, n)
    lev = rng.normal(-0.3, 0.8, n)
    frames, listings = [], []
    open_listing = np.zeros(n, dtype=bool)  # an unremoved no-report listing is running
    forced = pop.exit_kind[ents] == EXIT_FORCED
    silent_from = silent_before_exit(pop.exit_date[ents])
    last_year = frame.end.year - 1
    for y in range(frame.start.year - 1, last_year + 1):
        dl = _deadline(y)
        if dl > frame.d_end:
            break
        due = (pop.established[ents] <= np.datetime64(date(y, 12, 31))) & (
            np.isnat(pop.exit_date[ents]) | (pop.exit_date[ents] > dl))
        j = min(max(y - world.first_year, 0), world.year_propensity.shape[1] - 1)
        py = world.year_propensity[:, j]
        py = np.where(np.isnan(py), sigmoid(pop.base_logit[ents]), py)
        risk = np.log(py / (1 - py)) - intercept
        dormant = ~np.isnat(pop.dormant_from[ents]) & (pop.dormant_from[ents] <= dl)
        a = np.where(is_ent, rec["report_on_time_logit"]["enterprise"], rec["report_on_time_logit"]["individual"])
        on_time = rng.random(n) < sigmoid(a - rec["report_risk_slope"] * risk - 0.3 * (size == 0)) * np.where(
            dormant, 0.05, 1.0)
        late = ~on_time & (rng.random(n) < rec["report_late_share"] * np.where(dormant, 0.1, 1.0))
        jan1 = np.datetime64(date(y + 1, 1, 1))
        filed = np.where(on_time, jan1 + (rng.beta(2.0, 1.2, n) * (dl - jan1).astype(np.int64)).astype(np.int64) * DAY,
                         np.where(late, dl + rng.integers(1, 200, n) * DAY, NAT))
        exit_d = pop.exit_date[ents]
        filed = np.where(~np.isnat(exit_d) & (filed >= exit_d), NAT, filed)
        # the reports whose absence leads to a forced exit stay missing (uncorrected)
        filed = np.where(forced & (silent_from <= dl) & (dl < exit_d), NAT, filed)
        filed = _clip(filed, frame)
        rows = np.flatnonzero(due)
        k = len(rows)
        years_in = y - 2016
        shock = np.where(covid[rows] & (y in (2020, 2021, 2022)), {2020: 0.6, 2021: 0.75, 2022: 0.7}.get(y, 1.0), 1.0)
        near_exit = ~np.isnat(exit_d[rows]) & (exit_d[rows] < np.datetime64(date(y + 2, 12, 31)))
        revenue = rev_base[rows] * 1.04 ** years_in * shock * np.where(near_exit, 0.55, 1.0) * rng.lognormal(0, 0.2, k)
        employees = np.maximum(np.round(emp_base[rows] * np.where(near_exit, 0.7, 1.0) * rng.lognormal(0, 0.15, k)), 1)
        social = np.floor(employees * np.where(is_ent[rows], rng.uniform(0.3, 1.0, k), rng.uniform(0, 0.6, k)))
        assets = revenue * asset_ratio[rows]
        liabilities = assets * sigmoid(lev[rows] + 0.5 * risk[rows])
        tax = np.where(rng.random(k) < np.where(is_ent[rows], 0.05, 0.3), 0.0, revenue * 0.03 * rng.lognormal(0, 0.3, k))
        profit = revenue * rng.normal(0.06 - 0.03 * risk[rows], 0.08)
        values = {"employees": employees, "social_insurance_staff": social, "revenue": np.round(revenue),
                  "assets": np.round(assets), "liabilities": np.round(liabilities), "tax": np.round(tax),
                  "profit": np.round(profit)}
        p_hide = np.minimum(np.where(is_ent[rows], rec["undisclosed"]["enterprise"], rec["undisclosed"]["individual"])
                            * np.exp(rec["undisclosed_risk_slope"] * risk[rows]), 0.9)
        missing = np.isnat(filed[rows])
        for col, vals in values.items():  # undisclosed fields; nothing at all when no report was filed
            hide = rng.random(k) < (p_hide * (0.4 if col == "employees" else 1.0))
            vals = vals.astype(np.float64)
            vals[hide | missing] = np.nan
            values[col] = vals
        frames.append(pd.DataFrame({
            "uscc": pop.codes(ents[rows]), "year": y, "filed_date": filed[rows], **values,
            "known_date": np.where(missing, dl + DAY, filed[rows]),
            "_appear": np.where(on_time[rows], filed[rows], dl + DAY), "_ent": ents[rows],
        }))

        # abnormal list: not filed by the deadline and not yet listed
        ld = _listing_day(y)
        if ld > frame.d_end:
            continue
        not_filed_by = due & (np.isnat(filed) | (filed > ld))
        new = not_filed_by & ~open_listing
        idx = np.flatnonzero(new)
        m = len(idx)
        # removal: the late report filed, or deregistration; forced exits stay listed
        removed = np.where(~np.isnat(filed[idx]), filed[idx] + rng.integers(0, 10, m) * DAY, NAT)
        reason = np.where(~np.isnat(removed), "report_filed", None).astype(object)
        vol = np.isnat(removed) & (pop.exit_kind[ents[idx]] == EXIT_VOLUNTARY)
        removed = np.where(vol, np.maximum(pop.exit_date[ents[idx]], ld), removed)
        reason[vol] = "deregistered"
        removed = _clip(removed, frame)
        reason[np.isnat(removed)] = None
        listings.append(pd.DataFrame({
            "uscc": pop.codes(ents[idx]), "listed_date": ld, "reason": "no_annual_report", "removed_date": removed,
            "removal_reason": reason, "known_date": ld, "_ent": ents[idx],
        }))
        open_listing[idx] = np.isnat(removed)
        # a removed listing no longer blocks a new one; an open one does
        gone = open_listing & ~np.isnat(pop.exit_date[ents]) & (pop.exit_date[ents] <= ld)
        open_listing[gone] = False
    reports = pd.concat(frames, ignore_index=True)
    for col in ("employees", "social_insurance_staff"):
        reports[col] = reports[col].astype("Int64")
    abnormal = pd.concat(listings, ignore_index=True) if listings else pd.DataFrame()
    return reports, abnormal


def _unreachable(rng, pop: Population, world: World, ins: pd.DataFrame, frame: Frame, chunk: int) -> pd.DataFrame:
    found = ins[ins["result"] == "not_found_at_address"]
    ents = np.concatenate([found["_ent"].to_numpy(), world.unreachable["ent"]])
    when = np.concatenate([found["inspection_date"].to_numpy("datetime64[D]"), world.unreachable["date"]])
    order = np.lexsort((when, ents))
    ents, when = ents[order], when[order]
    first = np.ones(len(ents), dtype=bool)
    first[1:] = ents[1:] != ents[:-1]
    ents, when = ents[first], when[first]
    m = len(ents)
    listed = when + rng.integers(*district()["records"]["unreachable_listing_days"], m) * DAY
    exit_d, kind = pop.exit_date[ents], pop.exit_kind[ents]
    back = rng.random(m) < 0.12
    back_d = listed + rng.integers(30, 360, m) * DAY
    back &= np.isnat(exit_d) | (back_d < exit_d)
    removed = np.where(back, back_d, np.where(kind == EXIT_VOLUNTARY, np.maximum(exit_d, listed), NAT))
    reason = np.where(back, "reachable", np.where(kind == EXIT_VOLUNTARY, "deregistered", None)).astype(object)
    # rarer reasons: an ordered disclosure not made, a required name change not made
    lo, hi = world.lo, world.hi
    alive_ent = np.arange(lo, hi)[pop.is_ent[lo:hi]]
    extra = []
    for reason_code, rate, fix in (("no_disclosure", 0.004, "disclosure_made"), ("name_not_changed", 0.001, "name_changed")):
        hit = alive_ent[rng.random(len(alive_ent)) < rate * frame.months / 12]
        start = np.maximum(pop.established[hit], frame.d0)
        stop = np.where(np.isnat(pop.exit_date[hit]), frame.d_end, pop.exit_date[hit])
        span = (stop - start).astype(np.int64)
        ok = span > 60
        hit, start, span = hit[ok], start[ok], span[ok]
        ld = start + (rng.random(len(hit)) * (span - 30)).astype(np.int64) * DAY
        rd = ld + rng.integers(20, 150, len(hit)) * DAY
        extra.append(pd.DataFrame({"_ent": hit, "listed_date": ld, "reason": reason_code, "removed_date": rd,
                                   "removal_reason": fix}))
    df = pd.concat([pd.DataFrame({"_ent": ents, "listed_date": listed, "reason": "unreachable",
                                  "removed_date": removed, "removal_reason": reason}), *extra], ignore_index=True)
    df = df[df["listed_date"] <= frame.d_end].copy()
    rd = _clip(df["removed_date"].to_numpy("datetime64[D]"), frame)
    df["removed_date"] = rd
    df.loc[np.isnat(rd), "removal_reason"] = None
    df["uscc"] = pop.codes(df["_ent"].to_numpy())
    df["known_date"] = df["listed_date"]
    return df[["uscc", "listed_date", "reason", "removed_date", "removal_reason", "known_date", "_ent"]]


def listing_ids(df: pd.DataFrame, chunk: int) -> pd.DataFrame:
    """Sort listings by date and number them."""
    df = df.sort_values(["listed_date", "uscc", "reason"], kind="stable").reset_index(drop=True)
    df.insert(0, "listing_id", _ids("YC", _year(df["listed_date"].to_numpy("datetime64[D]")), chunk))
    return df


# ------------------------------------------------------------------------------------------------ licences
def _licences(rng, pop: Population, world: World, pen: pd.DataFrame, frame: Frame, chunk: int) -> pd.DataFrame:
    rec = district()["records"]
    inds = industries()
    ents = np.arange(world.lo, world.hi)
    pairs_e, pairs_t = [], []
    for k, ind in enumerate(inds):
        for lt in ind["licences"]:
            rows = ents[pop.industry[ents] == k]
            share = 0.5 if lt == "special_equipment" else 0.88
            rows = rows[rng.random(len(rows)) < share]
            pairs_e.append(rows)
            pairs_t.append(np.full(len(rows), lt, dtype=object))
    e = np.concatenate(pairs_e) if pairs_e else np.zeros(0, np.int64)
    lt = np.concatenate(pairs_t) if pairs_t else np.zeros(0, object)
    years = rec["licence_years"]
    issued = pop.established[e] + rng.integers(5, 60, len(e)) * DAY
    period = int(round(365.25 * years))
    behind = np.maximum((frame.d0 - issued).astype(np.int64) // period, 0)
    issued = issued + behind * period * DAY
    exit_d = pop.exit_date[e]
    rows = []
    active = np.ones(len(e), dtype=bool)
    while active.any():
        idx = np.flatnonzero(active & (issued <= frame.d_end) & (np.isnat(exit_d) | (issued < exit_d)))
        if not len(idx):
            break
        exp = add_months(issued[idx], 12 * years) - DAY
        renew = (rng.random(len(idx)) < rec["licence_renewal"]) & (np.isnat(exit_d[idx]) | (exit_d[idx] > exp))
        status = np.where(~np.isnat(exit_d[idx]) & (exit_d[idx] <= exp), "cancelled", "expired").astype(object)
        sdate = np.where(status == "cancelled", exit_d[idx], exp)
        rows.append(pd.DataFrame({"_ent": e[idx], "licence_type": lt[idx], "issued": issued[idx], "expires": exp,
                                  "status": status, "status_date": sdate, "_pair": idx}))
        nxt = np.zeros(len(e), dtype=bool)
        nxt[idx[renew]] = True
        issued = issued.copy()
        issued[idx[renew]] = exp[renew] - rng.integers(0, 30, int(renew.sum())) * DAY
        active = nxt
    lic = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["_ent", "licence_type", "issued", "expires", "status", "status_date", "_pair"])
    # revoked by a penalty: the licence in force at the decision, and no renewal after it
    rv = pen[pen["_revoke_licence"].astype(bool)][["_ent", "decided_date"]]
    if len(rv) and len(lic):
        m = lic.reset_index().merge(rv, on="_ent")
        m = m[(m["issued"] <= m["decided_date"]) & (m["decided_date"] <= m["expires"])]
        m = m.sort_values(["_ent", "decided_date", "issued"]).drop_duplicates(["_ent", "decided_date"])
        m = m.drop_duplicates("index")
        lic.loc[m["index"], "status"] = "revoked"
        lic.loc[m["index"], "status_date"] = m["decided_date"].to_numpy()
        cut = m[["_pair", "decided_date"]].groupby("_pair")["decided_date"].min()
        after = cut.reindex(lic["_pair"].to_numpy()).to_numpy()  # NaT where the pair had no revocation
        lic = lic[~(lic["issued"].to_numpy() > after)]
    sd = lic["status_date"].to_numpy("datetime64[D]")
    future = sd > frame.d_end
    lic["status"] = np.where(future, "valid", lic["status"])
    lic["status_date"] = np.where(future, NAT, sd)
    lic = lic.sort_values(["issued", "_ent", "licence_type"], kind="stable").reset_index(drop=True)
    prefix = lic["licence_type"].map(LICENCE_PREFIX).to_numpy(dtype=object)
    region = district()["district"]["region_code"]
    lic.insert(0, "licence_id", _join(pa.array(prefix, type=pa.string()), f"{region}{chunk:03d}",
                                      _digits(np.arange(len(lic)), 6)))
    lic.insert(1, "uscc", pop.codes(lic["_ent"].to_numpy()))
    lic["known_date"] = lic["issued"]
    return lic.drop(columns=["_pair"])[["licence_id", "uscc", "licence_type", "issued", "expires", "status",
                                         "status_date", "known_date", "_ent"]]


# ------------------------------------------------------------------------------------------------- changes
def _changes(rng, pop: Population, world: World, frame: Frame, chunk: int) -> pd.DataFrame:
    i, t = np.nonzero(world.changes)  # drawn by the monthly kernel: more frequent before trouble
    ents = i + world.lo
    d = frame.month_start(t) + rng.integers(0, 28, len(t)) * DAY
    d = np.maximum(d, pop.established[ents] + DAY)
    item = np.array(CHANGE_ITEMS, dtype=object)[np.searchsorted(np.cumsum(CHANGE_W) / sum(CHANGE_W),
                                                                rng.random(len(t)), side="right").clip(0, 5)]
    et = pop.entity_type[ents]
    no_capital = np.isin(et, ["individual", "branch"])
    no_holders = np.isin(et, ["individual", "branch", "sole_proprietorship"])
    item = np.where(no_capital & (item == "capital"), "scope", item)
    item = np.where(no_holders & (item == "shareholder"), "address", item)
    df = pd.DataFrame({"uscc": pop.codes(ents), "change_date": d, "item": item, "known_date": _lag(rng, d),
                       "_ent": ents})
    df = df.sort_values(["change_date", "uscc"], kind="stable").reset_index(drop=True)
    df.insert(0, "change_id", _ids("BG", _year(df["change_date"].to_numpy("datetime64[D]")), chunk))
    return df


# ----------------------------------------------------------------------------------------------- relations
def _relations(rng, pop: Population, world: World, changes: pd.DataFrame, heads: np.ndarray, frame: Frame, *,
               seed: int) -> pd.DataFrame:
    cfg = district()["district"]
    regions = [cfg["region_code"]] * 6 + cfg["other_region_codes"]
    N = pop.n
    G = int(pop.group.max()) + 1
    ents = np.arange(world.lo, world.hi)
    n = len(ents)
    est = pop.established[ents]
    et = pop.entity_type[ents]
    company = np.isin(et, ["limited_company", "joint_stock", "foreign_invested", "partnership", "cooperative"])
    controller = pop.group[ents]  # person index of the group's controller
    own = G + ents
    u = rng.random((6, n))
    ctrl_is_rep = pop.in_group[ents] & (u[0] < 0.8)
    rep = np.where(ctrl_is_rep, controller, own)
    parts = []

    def rel(e, kind, person, related, share, start, end, k):
        parts.append(pd.DataFrame({"_ent": e, "relation_type": kind, "_person": person, "related_uscc": related,
                                   "share_ratio": share, "start_date": start, "end_date": end, "_k": k}))

    # legal representatives, with changes over time
    lr = changes[changes["item"] == "legal_rep"][["_ent", "change_date"]]
    lr = lr.assign(_ord=lr.groupby("_ent").cumcount() + 1)
    first_end = lr[lr["_ord"] == 1].set_index("_ent")["change_date"].reindex(ents).to_numpy("datetime64[D]")
    none = np.full(n, None, dtype=object)
    rel(ents, "legal_rep", rep, none, np.nan, est, first_end, 0)
    if len(lr):
        le = lr["_ent"].to_numpy()
        nxt = lr.groupby("_ent")["change_date"].shift(-1).to_numpy("datetime64[D]")
        person = G + 4 * N + le * 8 + np.minimum(lr["_ord"].to_numpy(), 7)
        rel(le, "legal_rep", person, np.full(len(le), None, dtype=object), np.nan,
            lr["change_date"].to_numpy("datetime64[D]"), nxt, 10 + lr["_ord"].to_numpy())
    # shareholders: the representative or the controller, plus up to two others
    holders = np.flatnonzero(company | (et == "sole_proprietorship"))
    k_other = np.where(et[holders] == "sole_proprietorship", 0, rng.integers(0, 3, len(holders)))
    main = np.where(pop.in_group[ents[holders]], controller[holders], own[holders])
    w = rng.dirichlet([3.0, 1.0, 1.0], len(holders))
    w0 = np.where(k_other == 0, 1.0, np.where(k_other == 1, w[:, 0] / (w[:, 0] + w[:, 1]), w[:, 0]))
    rel(ents[holders], "shareholder", main, np.full(len(holders), None, dtype=object), np.round(w0, 4),
        est[holders], NAT, 1)
    for j in (1, 2):
        sel = k_other >= j
        h = holders[sel]
        share = np.where(k_other[sel] == 1, 1 - w0[sel], w[sel, j])
        rel(ents[h], "shareholder", G + N + 2 * ents[h] + (j - 1), np.full(len(h), None, dtype=object),
            np.round(share, 4), est[h], NAT, 1 + j)
    # executives
    ex = np.flatnonzero(company & (u[1] < 0.35))
    rel(ents[ex], "executive", G + 3 * N + ents[ex], np.full(len(ex), None, dtype=object), np.nan, est[ex], NAT, 4)
    # enterprise links: group members held by the group's head company; branches and their parents
    head = heads[pop.group[ents]]
    link = np.flatnonzero(pop.in_group[ents] & (head >= 0) & (head != ents) & (u[2] < 0.3) & company)
    link = link[pop.established[head[link]] <= est[link]]
    rel(ents[link], "enterprise_shareholder", np.full(len(link), -1), pop.uscc_of(head[link]),
        np.round(rng.uniform(0.3, 1.0, len(link)), 4), est[link], NAT, 5)
    br = np.flatnonzero(pop.parent[ents] >= 0)
    rel(ents[br], "parent_branch", np.full(len(br), -1), pop.uscc_of(pop.parent[ents[br]]), np.nan, est[br], NAT, 6)

    df = pd.concat(parts, ignore_index=True)
    df["end_date"] = _clip(df["end_date"].to_numpy("datetime64[D]"), frame)
    person = df["_person"].to_numpy()
    has = person >= 0
    pname = np.full(len(df), None, dtype=object)
    pid = np.full(len(df), None, dtype=object)
    pname[has] = nm.person_names(person[has], seed=seed)
    pid[has] = nm.id_numbers(person[has], seed=seed, region_codes=regions)
    df["person_name"], df["person_id_number"] = pname, pid
    df["uscc"] = pop.codes(df["_ent"].to_numpy())
    df = df.sort_values(["_ent", "_k"], kind="stable").reset_index(drop=True)
    df["relation_id"] = _join("GL", _digits(df["_ent"].to_numpy(), 9), _digits(df["_k"].to_numpy(), 2))
    df["known_date"] = df["start_date"]
    return df[["relation_id", "uscc", "relation_type", "person_name", "person_id_number", "related_uscc",
               "share_ratio", "start_date", "end_date", "known_date", "_ent"]]


# ------------------------------------------------------------------------------------------------ opinions
def _opinions(rng, pop: Population, world: World, frame: Frame, chunk: int,
              all_names: Container[str]) -> pd.DataFrame:
    from synth.population import similar_names

    rec = district()["records"]
    consumer = np.array([i["consumer"] for i in industries()])
    ents = np.arange(world.lo, world.hi)
    c = consumer[pop.industry[ents]]
    years = frame.months / 12
    parts = []
    # negative items about true violations
    nw = world.news
    parts.append((nw["ent"], nw["date"], np.zeros(len(nw["ent"]), np.int64), nw["domain"]))
    n_true = len(nw["ent"])  # the first part: items about a true violation
    # background: neutral and positive items; unfounded negative ones
    for sent, rate in ((1, rec["opinion_background_per_year"] * 0.6), (2, rec["opinion_background_per_year"] * 0.4),
                       (0, rec["opinion_negative_noise"])):
        k = rng.poisson(c * rate * years)
        e = np.repeat(ents, k)
        lo = np.maximum(pop.established[e], frame.d0)
        hi = np.where(np.isnat(pop.exit_date[e]), frame.d_end, pop.exit_date[e])
        span = np.maximum((hi - lo).astype(np.int64), 1)
        d = lo + (rng.random(len(e)) * span).astype(np.int64) * DAY
        dom = world_domain_draw(rng, pop.industry[e]) if sent == 0 else np.full(len(e), -1)
        parts.append((e, d, np.full(len(e), sent), dom))
    e = np.concatenate([p[0] for p in parts])
    true = np.arange(len(e)) < n_true
    d = np.concatenate([p[1] for p in parts])
    sent = np.concatenate([p[2] for p in parts])
    dom = np.concatenate([p[3] for p in parts])
    order = np.lexsort((e, d))
    e, d, sent, dom, true = e[order], d[order], sent[order], dom[order], true[order]
    n = len(e)
    full = pop.names_of(e)
    other = rng.random(n) < rec["opinion_other_company"]
    if other.any():
        full[other] = similar_names(rng, full[other], all_names)
    short = op.short_name(full, district()["district"]["name"][:-1])
    short = np.where(rng.random(n) < 0.5, full, short)
    domain_name = np.array([PENALTY_DOMAINS[k] if k >= 0 else None for k in dom], dtype=object)
    title, text = op.compose(rng, sentiment=sent, domain=domain_name, short=short, full=full)
    mentioned = _second_firm(rng, pop, world, e, sent, domain_name, full, title, text,
                             ~other & (rng.random(n) < rec["opinion_two_firms"]))
    name_only = ~other & (rng.random(n) < rec["opinion_name_only"])
    code = np.where(other | name_only, None, pop.uscc_of(e)).astype(object)
    labels = np.array(["negative", "neutral", "positive"], dtype=object)
    shown = rng.random(n) < rec["vendor_sentiment_share"]
    wrong = rng.random(n) < 0.15
    vs = np.where(wrong, labels[(sent + rng.integers(1, 3, n)) % 3], labels[sent])
    vs = np.where(shown, vs, None).astype(object)
    groups = np.array([i["group"] for i in industries()], dtype=object)[pop.industry[e]]
    tourist = np.isin(groups, ["lodging", "catering", "tourism"])
    src_w = np.where(tourist[:, None], [[0.15, 0.2, 0.2, 0.1, 0.15, 0.2]], [[0.3, 0.25, 0.25, 0.1, 0.1, 0.0]])
    src = (np.cumsum(src_w, axis=1) < rng.random(n)[:, None]).sum(axis=1).clip(0, 5)
    sources = np.array(["news", "weibo", "wechat", "forum", "video", "travel_review"], dtype=object)
    reach = np.round(rng.lognormal(np.where(sent == 0, 7.0, 5.5), 1.4, n)).astype(np.int64)
    df = pd.DataFrame({
        "published_date": d, "source": sources[src], "title": title, "text": text, "uscc": code,
        "company_name": full, "mentioned_names": mentioned, "vendor_sentiment": vs, "reach": reach,
        "known_date": d + np.where(rng.random(n) < 0.1, rng.integers(1, 4, n), 0) * DAY,
        "_ent": e, "_sentiment": labels[sent], "_other": other, "_name_only": name_only, "_true": true,
    })
    df.insert(0, "opinion_id", _ids("YQ", _year(d), chunk))
    return df


def _published_at(rng, items: pd.DataFrame) -> np.ndarray:
    """A time of day for each item (Asia/Shanghai, 07:00-23:59, written with its +08:00 offset)."""
    minutes = rng.integers(7 * 60, 24 * 60, len(items))
    stamps = pd.to_datetime(items["published_date"]) + pd.to_timedelta(minutes, unit="m")
    return stamps.dt.strftime("%Y-%m-%dT%H:%M:00+08:00").to_numpy(dtype=object)


def _opinion_handling(rng, items: pd.DataFrame) -> pd.DataFrame:
    """The ledger's outcomes for the negative items the bureau handled: an item about a true violation (the
    latent state) is verified far more often than a baseless one; decided within days of publication."""
    rec = district()["records"]
    negative = ((items["_sentiment"] == "negative") | (items["vendor_sentiment"] == "negative")).to_numpy()
    handled = negative & (rng.random(len(items)) < rec["opinion_handled_share"])
    rows = items[handled]
    true = rows["_true"].to_numpy(dtype=bool)
    p = np.where(true, rec["opinion_verified_true"], rec["opinion_verified_baseless"])
    outcome = np.where(rng.random(len(rows)) < p, "verified", "unfounded").astype(object)
    decided = rows["published_date"].to_numpy("datetime64[D]") + rng.integers(0, 4, len(rows)) * DAY
    return pd.DataFrame({"opinion_id": rows["opinion_id"].to_numpy(), "uscc": rows["uscc"].to_numpy(),
                         "outcome": outcome, "decided_date": decided, "known_date": decided,
                         "_ent": rows["_ent"].to_numpy()})


def _second_firm(rng, pop: Population, world: World, e: np.ndarray, sent: np.ndarray, domain: np.ndarray,
                 full: np.ndarray, title: np.ndarray, text: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Rewrite the ``chosen`` items to name a second enterprise of the chunk (a neighbour, a reporter, a firm
    impersonated) beside their own: a negative item stays about its own entity only, a neutral or positive one
    is about both. Titles and texts change in place; returns ``mentioned_names`` (``;``-separated, either order;
    None for items naming one firm)."""
    mentioned = np.full(len(e), None, dtype=object)
    span = world.hi - world.lo
    rows = np.flatnonzero(chosen)
    if span < 2 or not len(rows):
        return mentioned
    e2 = world.lo + rng.integers(0, span - 1, len(rows))
    e2 = np.where(e2 >= e[rows], e2 + 1, e2)  # any other entity of the chunk
    second = pop.names_of(e2)
    keep = second != full[rows]  # a namesake would make the item about one firm twice
    rows, second = rows[keep], second[keep]
    shape = np.where(sent[rows] == 0, rng.integers(0, 4, len(rows)), np.where(sent[rows] == 1, 5, 6))
    t, x, _ = op.two_firm_texts(rng, full[rows], second, shape, domain=domain[rows])
    title[rows], text[rows] = t, x
    swap = rng.random(len(rows)) < 0.5
    mentioned[rows] = np.where(swap, second + ";" + full[rows], full[rows] + ";" + second)
    return mentioned

