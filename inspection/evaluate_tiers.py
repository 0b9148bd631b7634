"""Unbiased tier validation from the random draws: each tier's rate of adverse findings, Hájek-weighted.

Targeted and complaint-driven inspections go where trouble is expected, so the naive rate of adverse
findings over all inspections overstates every tier (and most the tiers inspected mostly on leads).
Random inspections are drawn with a known inclusion probability π: weighting each by 1/π within a tier
(the Hájek ratio estimator, Σ y/π ÷ Σ 1/π) estimates the rate an inspection of a randomly chosen
member of the tier would find.

- Window: the label horizon (core/rules/labels.toml) from the publication's as_of: the tiers
  published then are judged by what random inspections found over the following months.
- π: the inclusion probability recorded with each planned inspection (``plan_inspections``,
  migration 0008). Random inspections in the warehouse without one (historical, ingested) get an
  estimate, marked ``estimated``: the observed random-check rate of their population group
  (enterprise / individual business) over the window, i.e. the historical regime is taken to draw
  uniformly within the group, as the double-random rules did before tier differentiation.
- Interval: Taylor-linearisation variance of the Hájek ratio (with-replacement approximation,
  v = n/(n−1) · Σ w²(y − R)² / (Σ w)²), turned into a Wilson score interval on the design-effective
  sample size n* = R(1 − R)/v (Kish's effective size when R is 0 or 1), which stays inside [0, 1] and
  does not collapse for a tier with few or no findings.
- Ground truth (simulated district only): the true rate is the mean, over the tier's members and
  the window's months, of the chance that a random inspection finds an adverse issue in the
  simulator: violating × the random find rate (× the crackdown factor in its year and domain), or
  dormant × the chance of being found unreachable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from core import rules
from core import tiers as core_tiers
from core.errors import NotFound, UserError
from core.settings import Settings
from inspection.results import ADVERSE_RESULTS

METHOD = ("Hájek ratio estimator over random inspections weighted by 1/π; Taylor-linearisation variance; "
          "Wilson score interval on the design-effective sample size")


@dataclass(frozen=True)
class RateEstimate:
    """A weighted rate with its confidence interval."""

    rate: float
    low: float
    high: float
    inspections: int
    effective_n: float


@dataclass(frozen=True)
class TierRate:
    """One tier: the weighted rate of adverse findings from random inspections, beside the naive and predicted."""

    tier: str
    zh: str
    entities: int
    mean_predicted: float | None  # the model's mean probability over the tier's members
    random_inspections: int
    random_findings: int
    weighted: RateEstimate | None  # None when no random inspection fell in the tier
    estimated_pi_share: float  # share of the tier's random inspections whose π is an estimate
    naive_rate: float | None  # adverse share over all inspections of the tier (random or not)
    all_inspections: int
    true_rate: float | None = None  # --ground-truth only
    true_in_interval: bool | None = None


@dataclass(frozen=True)
class TierEvaluation:
    """The tier validation of one publication."""

    publication_id: str
    as_of: date
    window_start: date
    window_end: date  # exclusive
    model_version: str | None
    confidence: float
    method: str
    pi_sources: dict[str, int]  # recorded / estimated → random inspections
    tiers: tuple[TierRate, ...]
    ground_truth: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("as_of", "window_start", "window_end"):
            out[key] = out[key].isoformat()
        return out

    @property
    def true_inside(self) -> int | None:
        """Tiers whose true rate lies inside the interval (ground truth only)."""
        flags = [t.true_in_interval for t in self.tiers if t.true_in_interval is not None]
        return sum(flags) if flags else None


def hajek(y: np.ndarray, pi: np.ndarray, *, confidence: float = 0.95) -> RateEstimate:
    """Hájek estimate of a rate from outcomes ``y`` (0/1) drawn with inclusion probabilities ``pi``."""
    y = np.asarray(y, dtype=float)
    pi = np.asarray(pi, dtype=float)
    if len(y) == 0:
        raise UserError("expected at least one inspection to estimate a rate, got none")
    if len(pi) != len(y) or not np.all((pi > 0) & (pi <= 1)):
        raise UserError("expected one inclusion probability in (0, 1] per inspection")
    w = 1.0 / pi
    total = w.sum()
    rate = float((w * y).sum() / total)
    n = len(y)
    kish = float(total ** 2 / (w ** 2).sum())
    var = float(n / (n - 1) * ((w * (y - rate)) ** 2).sum() / total ** 2) if n > 1 else 0.0
    n_eff = rate * (1 - rate) / var if (0 < rate < 1 and var > 0) else kish
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    centre = (rate + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * math.sqrt(rate * (1 - rate) / n_eff + z * z / (4 * n_eff ** 2))
    return RateEstimate(rate=rate, low=max(0.0, centre - half), high=min(1.0, centre + half),
                        inspections=n, effective_n=round(n_eff, 1))


def estimated_inclusion(random: pd.DataFrame, population: pd.DataFrame) -> pd.Series:
    """π for random inspections without a recorded one: random checks per member of the population group
    (enterprise / individual business) over the window, capped at 1."""
    group = population.set_index("uscc")["entity_type"].eq("individual")
    sizes = group.value_counts()
    g = random["uscc"].map(group)
    counts = g.value_counts()
    rate = (counts / sizes.reindex(counts.index)).clip(upper=1.0)
    return g.map(rate).astype(float)


def tier_rates(inspections: pd.DataFrame, population: pd.DataFrame, *, confidence: float = 0.95,
               truth: dict[str, float] | None = None) -> tuple[TierRate, ...]:
    """Per tier: Hájek rate over random inspections, naive rate over all, mean predicted probability.

    Args:
        inspections: uscc, kind (random / targeted / complaint / ...), adverse (bool), inclusion_probability
            (random ones; NaN to estimate), pi_source.
        population: the publication's members: uscc, tier, probability, entity_type.
        confidence: of the intervals.
        truth: tier → true rate, when known (simulated district).
    """
    tier_of = population.set_index("uscc")["tier"]
    frame = inspections.assign(tier=inspections["uscc"].map(tier_of)).dropna(subset=["tier"])
    out = []
    for code in core_tiers.codes():
        members = population[population["tier"] == code]
        rows = frame[frame["tier"] == code]
        random = rows[rows["kind"] == "random"]
        est = (hajek(random["adverse"].to_numpy(), random["inclusion_probability"].to_numpy(),
                     confidence=confidence) if len(random) else None)
        true = truth.get(code) if truth else None
        out.append(TierRate(
            tier=code, zh=core_tiers.label(code).zh, entities=len(members),
            mean_predicted=float(members["probability"].mean()) if members["probability"].notna().any() else None,
            random_inspections=len(random), random_findings=int(random["adverse"].sum()), weighted=est,
            estimated_pi_share=float((random["pi_source"] == "estimated").mean()) if len(random) else 0.0,
            naive_rate=float(rows["adverse"].mean()) if len(rows) else None, all_inspections=len(rows),
            true_rate=true,
            true_in_interval=(est.low <= true <= est.high) if (est is not None and true is not None) else None,
        ))
    return tuple(out)


def evaluate_tiers(settings: Settings, *, publication_id: str | None = None, as_of: date | None = None,
                   ground_truth_dir: str | Path | None = None, confidence: float = 0.95,
                   until: date | None = None) -> TierEvaluation:
    """Validate a publication's tiers on the random inspections of the label horizon after its as_of.

    Args:
        settings: where the operational DB and the warehouse live.
        publication_id: the publication to judge; default the newest published at ``as_of`` (or newest).
        as_of: pick the publication of this date (when no id is given).
        ground_truth_dir: synth's ground_truth folder, to add each tier's true rate.
        confidence: of the intervals (default 95 %).
        until: end the window here when it is earlier (a window still open, as in the monthly cycle).

    Returns:
        A :class:`TierEvaluation` (one :class:`TierRate` per tier).
    """
    from core import opdb
    from features import warehouse

    if not 0 < confidence < 1:
        raise UserError(f"confidence must be within (0, 1), got {confidence}")
    eng = opdb.engine(settings)
    with eng.connect() as conn:
        pub = _publication(conn, publication_id, as_of)
        population = pd.read_sql(sa.text("SELECT uscc, tier, probability, entity_type FROM published_scores "
                                         "WHERE publication_id = :p"), conn, params={"p": pub["publication_id"]})
        recorded = pd.read_sql(sa.text("SELECT inspection_id, inclusion_probability FROM plan_inspections "
                                       "WHERE kind = 'random' AND inclusion_probability IS NOT NULL"), conn)
    start = pub["as_of"]
    horizon = int(rules.load("labels")["label"]["horizon_months"])
    end = (pd.Timestamp(start) + pd.DateOffset(months=horizon)).date()
    if until is not None:
        end = max(start, min(end, until))
    warehouse.sync_operational(settings)  # results recorded since the last batch step count too
    con = warehouse.connect(settings, read_only=True)
    try:
        inspections = con.execute(
            "SELECT inspection_id, uscc, kind, result FROM inspections "
            "WHERE inspection_date >= ? AND inspection_date < ?", [start, end]).df()
    finally:
        con.close()
    inspections = inspections[inspections["uscc"].isin(set(population["uscc"]))].copy()
    inspections["adverse"] = inspections["result"].isin(ADVERSE_RESULTS)
    pi = inspections["inspection_id"].map(recorded.set_index("inspection_id")["inclusion_probability"])
    inspections["pi_source"] = np.where(pi.notna(), "recorded", "estimated")
    is_random = inspections["kind"] == "random"
    missing = is_random & pi.isna()
    pi[missing] = estimated_inclusion(inspections[missing], population)
    inspections["inclusion_probability"] = pi.where(is_random)
    inspections.loc[~is_random, "pi_source"] = "triggered"
    truth = true_tier_rates(ground_truth_dir, population, start=start, end=end) if ground_truth_dir else None
    sources = inspections.loc[is_random, "pi_source"].value_counts()
    return TierEvaluation(
        publication_id=pub["publication_id"], as_of=start, window_start=start,
        window_end=end, model_version=pub["model_version"],
        confidence=confidence, method=METHOD,
        pi_sources={k: int(sources.get(k, 0)) for k in ("recorded", "estimated")},
        tiers=tier_rates(inspections, population, confidence=confidence, truth=truth),
        ground_truth=str(ground_truth_dir) if ground_truth_dir else None,
    )


def for_cycle(settings: Settings, *, as_of: date) -> TierEvaluation | None:
    """The validation the monthly cycle shows: the newest publication whose label horizon has closed by
    ``as_of``, else the oldest one before ``as_of`` with its window so far; None when there is none."""
    from core import opdb

    horizon = int(rules.load("labels")["label"]["horizon_months"])
    closed = (pd.Timestamp(as_of) - pd.DateOffset(months=horizon)).date()
    pubs = sa.table("publications", sa.column("publication_id"), sa.column("as_of"), sa.column("status"),
                    sa.column("created_at"))
    base = sa.select(pubs.c.publication_id).where(pubs.c.status == "published")
    with opdb.engine(settings).connect() as conn:
        pid = conn.execute(base.where(pubs.c.as_of <= closed)
                           .order_by(pubs.c.as_of.desc(), pubs.c.created_at.desc()).limit(1)).scalar()
        if pid is None:
            pid = conn.execute(base.where(pubs.c.as_of < as_of)
                               .order_by(pubs.c.as_of, pubs.c.created_at.desc()).limit(1)).scalar()
    if pid is None:
        return None
    return evaluate_tiers(settings, publication_id=pid, until=as_of)


def _publication(conn, publication_id: str | None, as_of: date | None) -> dict[str, Any]:
    pubs = sa.table("publications", sa.column("publication_id"), sa.column("as_of"), sa.column("status"),
                    sa.column("model_version"), sa.column("created_at"))
    q = sa.select(pubs)
    if publication_id:
        q = q.where(pubs.c.publication_id == publication_id)
    else:
        q = q.where(pubs.c.status == "published")
        if as_of:
            q = q.where(pubs.c.as_of == as_of)
        q = q.order_by(pubs.c.as_of.desc(), pubs.c.created_at.desc())
    row = conn.execute(q.limit(1)).mappings().first()
    if row is None:
        what = (f"publication {publication_id!r}" if publication_id else
                f"published publication with as_of {as_of}" if as_of else "published publication")
        raise NotFound(f"no {what}: publish tiers with `credit-risk score --as-of D` first")
    out = dict(row)
    out["as_of"] = pd.Timestamp(out["as_of"]).date()
    out["model_version"] = None if out["model_version"] is None else str(out["model_version"])
    return out


def true_tier_rates(ground_truth_dir: str | Path, population: pd.DataFrame, *, start: date,
                    end: date) -> dict[str, float]:
    """Per tier, the simulator's chance that a random inspection finds an adverse issue, over the window."""
    import pyarrow.dataset as ds

    from synth.params import district

    path = Path(ground_truth_dir) / "latent_monthly.parquet"
    if not path.is_file():
        raise NotFound(f"no ground truth at {path} (expected synth's ground_truth/latent_monthly.parquet)")
    cfg = district()
    det, lat = cfg["detection"], cfg["latent"]
    dataset = ds.dataset(path)
    table = dataset.to_table(columns=["uscc", "month", "violating", "dormant", "domain"],
                             filter=(ds.field("month") >= start) & (ds.field("month") < end))
    frame = table.to_pandas()
    if frame.empty:
        raise UserError(f"the ground truth holds no month in {start} .. {end}")
    frame["uscc"] = frame["uscc"].astype(str)
    frame = frame[frame["uscc"].isin(set(population["uscc"]))]
    months = pd.to_datetime(frame["month"])
    crackdown = (months.dt.year == int(lat["crackdown_year"])) & (frame["domain"].astype(str) == lat["crackdown_domain"])
    find = float(det["find"]["random"]) * np.where(crackdown, float(lat["crackdown_find"]), 1.0)
    chance = np.where(frame["dormant"], float(det["unreachable_found"]), frame["violating"] * np.minimum(find, 1.0))
    tier = frame["uscc"].map(population.set_index("uscc")["tier"])
    return {str(k): float(v) for k, v in pd.Series(chance).groupby(tier.to_numpy()).mean().items()}


def lines(result: TierEvaluation) -> list[str]:
    """The one-screen summary of a tier validation (CLI and cycle report)."""
    out = [f"publication {result.publication_id} (as of {result.as_of}), random inspections "
           f"{result.window_start} – {result.window_end}: π recorded {result.pi_sources['recorded']}, "
           f"estimated {result.pi_sources['estimated']}",
           f"tier  entities  predicted  random  weighted rate [{result.confidence:.0%} interval]   naive (all)"
           + ("   true" if result.ground_truth else "")]
    for t in result.tiers:
        pred = f"{t.mean_predicted:9.2%}" if t.mean_predicted is not None else f"{'-':>9}"
        w = (f"{t.weighted.rate:6.2%} [{t.weighted.low:6.2%}, {t.weighted.high:6.2%}]" if t.weighted
             else f"{'no random inspection':>26}")
        naive = f"{t.naive_rate:6.2%} of {t.all_inspections:>5}" if t.naive_rate is not None else f"{'-':>14}"
        true = ""
        if t.true_rate is not None:
            true = f"   {t.true_rate:6.2%} {'inside' if t.true_in_interval else 'OUTSIDE'}"
        out.append(f"{t.tier} {t.zh:<6} {t.entities:>7} {pred} {t.random_inspections:>7}  {w}   {naive}{true}")
    if result.true_inside is not None:
        out.append(f"true rate inside the interval for {result.true_inside} of "
                   f"{sum(t.true_in_interval is not None for t in result.tiers)} tiers")
    return out
