"""The synth report: calibration against domain.md §8, the label rate, and how learnable the world is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from core import inspection_results
from synth.params import DAY, add_months, district, penalty_classes_of, publicity
from synth.population import EXIT_FORCED, Population

FIT_ROWS = 1_000_000  # at most this many enterprises fit the quick model (beyond: a seeded sample of them)


def _d(x: date) -> np.datetime64:
    return np.datetime64(x, "D")


def _deadlines(years: np.ndarray) -> np.ndarray:
    """The filing deadline of each report year (core/rules/publicity.toml [annual_report])."""
    rule = publicity()["annual_report"]
    span = np.arange(1900, 2101)
    table = np.array([_d(date(y + 1, rule["season_end_month"], rule["season_end_day"])) for y in span])
    return table[np.asarray(years, dtype=np.int64) - span[0]]


@dataclass
class Tally:
    """What the report needs of the records, summed chunk by chunk (``add``) so that the records of the whole
    district need not be held at once: the 2016-2020 counts the calibration compares and, per learnability
    as-of, the design label of every entity and the observed counts of the enterprises alive then (the quick
    model's rows)."""

    pop: Population
    as_ofs: tuple[np.datetime64, ...] = ()
    complaints_5y: int = 0
    has_samples: bool = False
    food_samples_5y: int = 0
    food_passed_5y: int = 0
    reports_5y: int = 0
    reports_on_time_5y: int = 0
    hit: dict = field(default_factory=dict)  # as_of -> label per entity
    counts: dict = field(default_factory=dict)  # as_of -> observed counts per enterprise row (int32 columns)
    rows: dict = field(default_factory=dict)  # as_of -> the enterprises alive then (entity indices, in order)

    def add(self, tables: dict[str, pd.DataFrame]) -> None:
        """Count the records of one chunk (full history rows with internal columns)."""
        pop = self.pop
        d15, d20 = _d(date(2015, 12, 31)), _d(date(2020, 12, 31))
        rd = tables["complaints"]["received_date"].to_numpy("datetime64[D]")
        self.complaints_5y += int(((rd > d15) & (rd <= d20)).sum())
        sm = tables.get("sampling_results")
        if sm is not None:
            self.has_samples = True
            sd = sm["sample_date"].to_numpy("datetime64[D]")
            food = sm["category"].isin(["food", "edible_agri"]).to_numpy() & (sd > d15) & (sd <= d20)
            self.food_samples_5y += int(food.sum())
            self.food_passed_5y += int((sm["result"].to_numpy()[food] == "pass").sum())
        ar = tables["annual_reports"]
        ent_rows = pop.is_ent[ar["_ent"].to_numpy()] & ar["year"].between(2016, 2020).to_numpy()
        fd = ar["filed_date"].to_numpy("datetime64[D]")[ent_rows]
        deadline = _deadlines(ar["year"].to_numpy()[ent_rows])
        self.reports_5y += len(fd)
        self.reports_on_time_5y += int((~np.isnat(fd) & (fd <= deadline)).sum())
        span = _span(tables)
        for a in self.as_ofs:
            if a not in self.hit:
                self.hit[a] = np.zeros(pop.n, dtype=bool)
            self.hit[a][span] |= labels(pop, tables, a, span=span)
            x = observed_counts(pop, tables, a, span=span).drop(columns="age_years")
            rows = self.enterprises(a)
            lo, hi = np.searchsorted(rows, [span.start, span.stop])
            at = rows[lo:hi] - span.start  # the span's enterprises, as rows of x
            if a not in self.counts:
                self.counts[a] = {c: np.zeros(len(rows), dtype=np.int32) for c in x.columns}
            for c in x.columns:
                self.counts[a][c][lo:hi] += x[c].to_numpy(np.int32)[at]

    def enterprises(self, as_of: np.datetime64) -> np.ndarray:
        """The entity indices of the enterprises alive at ``as_of``, in order (the rows of ``observed``)."""
        if as_of not in self.rows:
            self.rows[as_of] = np.flatnonzero(_alive_at(self.pop, as_of) & self.pop.is_ent)
        return self.rows[as_of]

    def observed(self, as_of: np.datetime64) -> pd.DataFrame:
        """``observed_counts`` over every chunk added, of the enterprises alive at ``as_of`` (``enterprises``)."""
        rows = self.enterprises(as_of)
        age = np.maximum((as_of - self.pop.established[rows]).astype(np.int64), 0) / 365.25
        return pd.DataFrame({**{c: v.astype(np.int64) for c, v in self.counts[as_of].items()}, "age_years": age})

    @classmethod
    def of(cls, pop: Population, tables: dict[str, pd.DataFrame], as_ofs: tuple[np.datetime64, ...] = ()) -> Tally:
        tally = cls(pop, as_ofs)
        tally.add(tables)
        return tally


def calibration(pop: Population, tally: Tally, *, entities: int, start: date, end: date) -> list[dict]:
    """domain.md §8 targets (scaled to ``entities``) next to what the district achieved."""
    cal = district()["calibration"]
    s = entities / district()["district"]["reference_entities"]
    rows = []

    def add(figure, target, achieved, tol, kind="relative"):
        ok = (abs(achieved - target) <= tol * max(abs(target), 1e-9)) if kind == "relative" else achieved >= target
        rows.append({"figure": figure, "target": round(float(target), 4), "achieved": round(float(achieved), 4),
                     "tolerance": tol if kind == "relative" else ">=", "ok": bool(ok)})

    if start <= date(2016, 1, 1) and end >= date(2020, 12, 31):
        d20 = _d(date(2020, 12, 31))
        alive = (pop.established <= d20) & (np.isnat(pop.exit_date) | (pop.exit_date > d20))
        add("market entities, end of 2020", cal["stock_2020"] * s, alive.sum(), 0.1)
        add("enterprises, end of 2020", cal["enterprises_2020"] * s, (alive & pop.is_ent).sum(), 0.15)
        d15 = _d(date(2015, 12, 31))
        alive15 = (pop.established <= d15) & (np.isnat(pop.exit_date) | (pop.exit_date > d15))
        add("net growth per year 2016-2020", cal["net_growth_per_year"] * s, (alive.sum() - alive15.sum()) / 5, 0.35)
        new = (pop.established > d15) & (pop.established <= d20)
        add("new registrations per year 2016-2020", cal["new_registrations_per_year"] * s, new.sum() / 5, 0.1)
        in5 = ~np.isnat(pop.exit_date) & (pop.exit_date > d15) & (pop.exit_date <= d20)
        add("enterprises revoked 2016-2020", cal["enterprises_revoked_5y"] * s,
            (in5 & pop.is_ent & (pop.exit_kind == EXIT_FORCED)).sum(), 0.25)
        add("individual businesses forcibly deregistered 2016-2020", cal["individuals_forced_deregistered_5y"] * s,
            (in5 & ~pop.is_ent & (pop.exit_kind == EXIT_FORCED)).sum(), 0.25)
        add("complaints received 2016-2020", cal["complaints_5y"] * s, tally.complaints_5y, 0.25)
        if tally.has_samples:
            add("food samples tested 2016-2020", cal["food_samples_5y"] * s, tally.food_samples_5y, 0.25)
            add("food sample pass rate 2016-2020", cal["food_pass_rate"],
                tally.food_passed_5y / tally.food_samples_5y if tally.food_samples_5y else 0.0, 0.01)
        add("enterprise annual reports filed on time 2016-2020", cal["enterprise_report_on_time"],
            tally.reports_on_time_5y / tally.reports_5y if tally.reports_5y else 0.0, 0, kind="min")
    add("towns and sub-districts", cal["towns"], len(np.unique(pop.town)), 0.0)
    return rows


def _span(tables: dict[str, pd.DataFrame]) -> slice:
    """The entity indices the records are about (a chunk's: a contiguous range)."""
    ents = [df["_ent"].to_numpy() for df in tables.values() if len(df)]
    if not ents:
        return slice(0, 0)
    return slice(min(int(e.min()) for e in ents), max(int(e.max()) for e in ents) + 1)


def _alive_at(pop: Population, as_of: np.datetime64) -> np.ndarray:
    return (pop.established < as_of) & (np.isnat(pop.exit_date) | (pop.exit_date > as_of))


def labels(pop: Population, tables: dict[str, pd.DataFrame], as_of: np.datetime64, months: int = 12, *,
           span: slice | None = None) -> np.ndarray:
    """Design label (design.md §6): an adverse event known in (as_of, as_of + 12 months], per entity index of
    ``span`` (default: every entity; the records must be about entities of the span)."""
    span = slice(0, pop.n) if span is None else span
    stop = add_months(np.array([as_of]), months)[0]
    hit = np.zeros(span.stop - span.start, dtype=bool)

    def mark(df: pd.DataFrame, when: str) -> None:
        d = df[when].to_numpy("datetime64[D]")
        hit[df["_ent"].to_numpy()[(d > as_of) & (d <= stop)] - span.start] = True

    sl = tables["serious_list"]
    mark(sl[~sl["removal_reason"].isin(publicity()["serious_list"]["void_removal_reasons"])], "known_date")
    p = tables["penalties"]
    published = np.array([c.published for c in penalty_classes_of(p, pop.entity_type[p["_ent"].to_numpy()])],
                         dtype=bool)
    mark(p[(p["procedure"] == "ordinary") & ~p["leniency"].astype(bool) & published], "known_date")
    lic = tables["licences"]
    mark(lic[lic["status"] == "revoked"], "status_date")
    ab = tables["abnormal_list"]
    mark(ab[ab["reason"] == "unreachable"], "known_date")
    ins = tables["inspections"]
    mark(ins[ins["result"].isin(inspection_results.codes(adverse_event=True))], "known_date")
    exit_date = pop.exit_date[span]
    ent = pop.is_ent[span] & (pop.exit_kind[span] == EXIT_FORCED) & (exit_date > as_of) & (exit_date <= stop)
    return hit | ent


def observed_counts(pop: Population, tables: dict[str, pd.DataFrame], as_of: np.datetime64, *,
                    span: slice | None = None) -> pd.DataFrame:
    """A few simple counts known before ``as_of`` (what a quick model could use), per entity index of ``span``
    (default: every entity; the records must be about entities of the span)."""
    span = slice(0, pop.n) if span is None else span
    lo, n = span.start, span.stop - span.start
    back3 = as_of - 3 * 365 * DAY
    back2 = as_of - 2 * 365 * DAY

    def count(df: pd.DataFrame, when: str, since: np.datetime64) -> np.ndarray:
        d = df[when].to_numpy("datetime64[D]")
        k = df["known_date"].to_numpy("datetime64[D]")
        e = df["_ent"].to_numpy()[(d >= since) & (d < as_of) & (k < as_of)]
        return np.bincount(e - lo, minlength=n)

    p = tables["penalties"]
    ins = tables["inspections"]
    ab = tables["abnormal_list"]
    listed = ab["listed_date"].to_numpy("datetime64[D]")
    removed = ab["removed_date"].to_numpy("datetime64[D]")
    current = (listed < as_of) & (np.isnat(removed) | (removed >= as_of))
    ar = tables["annual_reports"]
    filed = ar["filed_date"].to_numpy("datetime64[D]")
    due = _deadlines(ar["year"].to_numpy())
    recent = (due < as_of) & (due >= back3)
    missed = recent & (np.isnat(filed) | (filed > due))
    op = tables["opinions"]
    op = op[(op["_sentiment"] == "negative") & ~op["_other"].astype(bool)]
    return pd.DataFrame({
        "penalties_3y": count(p[~p["leniency"].astype(bool)], "decided_date", back3),
        "cases_3y": count(ins[ins["result"].isin(inspection_results.codes(adverse_event=True))], "inspection_date",
                          back3),
        "abnormal_now": np.bincount(ab["_ent"].to_numpy()[current] - lo, minlength=n),
        "reports_missed_3y": np.bincount(ar["_ent"].to_numpy()[missed] - lo, minlength=n),
        "complaints_2y": count(tables["complaints"], "received_date", back2),
        "negative_news_2y": count(op, "published_date", back2),
        "changes_1y": count(tables["changes"], "change_date", as_of - 365 * DAY),
        "age_years": np.maximum((as_of - pop.established[span]).astype(np.int64), 0) / 365.25,
    })


def learnability(pop: Population, tally: Tally, probes: dict[str, np.ndarray], *,
                 test_as_of: date, train_as_of: date, seed: int) -> dict:
    """Label rates, the latent ceiling AUC and a quick observed-count AUC (logistic regression, fitted on at most
    ``FIT_ROWS`` enterprises drawn with ``seed``: a large district's fit needs no more)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    out: dict = {"train_as_of": train_as_of.isoformat(), "test_as_of": test_as_of.isoformat()}
    sets = {}
    for tag, as_of in (("train", train_as_of), ("test", test_as_of)):
        a = _d(as_of)
        everyone = _alive_at(pop, a)
        who = everyone & pop.is_ent
        y = tally.hit[a]
        x = np.log1p(tally.observed(a).to_numpy(np.float64))  # the rows of who
        sets[tag] = (who, y[who], x)
        out[f"enterprise_label_rate_{tag}"] = round(float(y[who].mean()), 4) if who.any() else None
        out[f"all_label_rate_{tag}"] = round(float(y[everyone].mean()), 4) if everyone.any() else None
    who, y, x = sets["test"]
    tw, ty, tx = sets["train"]
    learnable = 0 < ty.sum() < len(ty) and 0 < y.sum() < len(y)
    if learnable and test_as_of.isoformat() in probes:
        # the ceiling: the simulator's own probability that the label fires (ground truth risk_12m)
        key = test_as_of.isoformat()
        out["latent_propensity_auc"] = round(float(roc_auc_score(y, probes[key][who])), 4)
        out["latent_auc"] = round(float(roc_auc_score(y, probes[f"{key}/risk_12m"][who])), 4)
        out["mean_risk_12m_test"] = round(float(probes[f"{key}/risk_12m"][who].mean()), 4)
    if learnable:
        if len(ty) > FIT_ROWS:
            fit = np.sort(np.random.default_rng([seed, 900]).choice(len(ty), FIT_ROWS, replace=False))
            tx, ty = tx[fit], ty[fit]
        model = LogisticRegression(max_iter=500).fit(tx, ty)
        out["observed_auc"] = round(float(roc_auc_score(y, model.predict_proba(x)[:, 1])), 4)
    out["enterprises_test"] = int(who.sum())
    out["positives_test"] = int(y.sum())
    return out


def summary_lines(report: dict) -> list[str]:
    """The one-screen summary printed by ``credit-risk synth``."""
    lines = [f"synth: {report['entities_total']:,} entities ({report['entities']:,} requested at end-2020), "
             f"seed {report['seed']}, {report['start']}..{report['until'] or report['end']} → {report['out']}"]
    counts = report["counts"]
    lines.append("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    for row in report.get("calibration", []):
        mark = "ok " if row["ok"] else "OFF"
        lines.append(f"  [{mark}] {row['figure']}: target {row['target']:g}, achieved {row['achieved']:g}")
    le = report.get("learnability") or {}
    if le:
        lines.append(f"label rate (enterprises, next 12 months from {le['test_as_of']}): "
                     f"{le.get('enterprise_label_rate_test')}; all entities {le.get('all_label_rate_test')}")
        lines.append(f"AUC ceiling (ground-truth risk_12m): {le.get('latent_auc')}; "
                     f"quick model on observed counts: {le.get('observed_auc')}")
    faults = {k: v for k, v in report.get("faults", {}).items() if v}
    lines.append("faults: " + (", ".join(f"{k} {v}" for k, v in faults.items()) if faults else "none (clean)"))
    lines.append(f"took {report['seconds']:.1f} s")
    return lines
