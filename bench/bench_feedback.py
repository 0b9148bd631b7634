"""Closed loop on a simulated district: publish → plan → inspect → detections → retrain, for 24 months.

    .venv/bin/python bench/bench_feedback.py --entities 6000 --explore 0 0.02 0.05 [--arms naive corrected stacked]

Every quarter the loop scores the district, cuts tiers (core/rules/tiers.toml shares), draws a plan with
the real double-random draw (inspection/draw.py: floor, checks required by law, tier strata, each with its
inclusion probability π) and spreads its inspections over the quarter's months; complaint-driven
inspections come on top. An inspection finds an adverse issue when the hidden ground truth says the entity
is violating (× the simulator's find rate) or dormant (found unreachable). Each quarter every arm retrains:

- naive ("today's training"): label = any adverse detection in the next 3 months, every entity a row,
  the uninspected counted clean;
- corrected: rows with a plan (random) inspection in the next 3 months, labelled by what it found,
  weighted by 1/π (training/detection.py does the same on the warehouse spine with estimated π);
- stacked: the naive model first, then the corrected fit with the naive score as one more input, so the
  random checks re-rank what the naive label learned rather than learn everything from few rows.

Features: the feature snapshot of each quarter without its compliance dimension (that is the simulator's
own detections), entity type, industry, age, registered capital, complaints in 12 months, and the loop's own
detection history (findings and inspections in 12 months, months since the last finding), seeded with the
simulator's observed inspections before the loop. Reported against the hidden truth: AUC of the tier ranking for
the entities violating at months 6, 12 and 24; findings per 100 plan inspections; the share of true
violators in A never inspected during the loop; and, per exploration level (extra uniform random checks
beyond the floor, as a share of all entities a year), what they cost in findings.

Simplification: the latent violations come from the simulator's own history (its world already reacted
to its own inspections); the loop only changes who is inspected and what the bureau learns.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

START = date(2024, 1, 1)  # first loop month; the simulated district ends in December 2025
MONTHS = 24
HORIZON = 3  # label months of the loop's models
HISTORY = 36  # months of pre-loop history used for features and the first model
TRAIN_MONTHS = 12  # rows of the newest months with complete labels in every retraining
ARMS = ("naive", "corrected", "stacked")
SNAPSHOT_COLS = list(range(HISTORY - 15, HISTORY + MONTHS, 3))  # quarter starts from the first training row


def _month_index(dates: pd.Series) -> np.ndarray:
    d = pd.to_datetime(dates)
    return ((d.dt.year - START.year) * 12 + (d.dt.month - START.month)).to_numpy()


class World:
    """The district's entities, their hidden monthly states and the observed pre-loop records."""

    def __init__(self, home: Path, district: Path, *, seed: int) -> None:
        from core.settings import Settings
        from features import warehouse
        from features.catalog import all_features
        from features.ingest import ingest
        from features.snapshot import compute_features
        from inspection.registries import warehouse_frames
        from inspection.results import ADVERSE_RESULTS

        settings = Settings.from_env(home)
        if not (home / "ingested").is_file():
            ingest(settings, district, actor="bench")
            (home / "ingested").write_text("yes")
        con = warehouse.connect(settings, read_only=True)
        try:
            ent = con.execute("SELECT uscc, entity_type, industry_code, town_code, established, "
                              "registered_capital FROM entities").df()
            _, licences = warehouse_frames(con, START, point_in_time=True)
            complaints = con.execute("SELECT uscc, received_date FROM complaints").df()
            insp = con.execute("SELECT uscc, inspection_date, kind, result FROM inspections "
                               "WHERE inspection_date < ?", [START]).df()
            snaps = {col: compute_features(con, as_of=(pd.Timestamp(START) + pd.DateOffset(
                months=col - HISTORY)).date()) for col in SNAPSHOT_COLS}
        finally:
            con.close()
        import pyarrow.dataset as ds

        end = (pd.Timestamp(START) + pd.DateOffset(months=MONTHS)).date()
        lat = ds.dataset(district / "ground_truth" / "latent_monthly.parquet").to_table(
            columns=["uscc", "month", "violating", "dormant"],
            filter=(ds.field("month") >= START) & (ds.field("month") < end)).to_pandas()
        lat["uscc"] = lat["uscc"].astype(str)
        alive0 = set(lat.loc[pd.to_datetime(lat["month"]) == pd.Timestamp(START), "uscc"])
        ent = ent[ent["uscc"].isin(alive0)].sort_values("uscc").reset_index(drop=True)
        self.n = len(ent)
        pos = pd.Series(np.arange(self.n), index=ent["uscc"])
        self.uscc = ent["uscc"].to_numpy()
        held = licences.drop_duplicates("uscc").set_index("uscc")["licence_types"]
        self.targets = pd.DataFrame({
            "uscc": self.uscc, "tier": "A", "probability": 0.0, "entity_type": ent["entity_type"].to_numpy(),
            "industry_code": ent["industry_code"].to_numpy(), "town_code": ent["town_code"].to_numpy(),
            "licence_types": ent["uscc"].map(held).fillna("").to_numpy()})
        lat = lat[lat["uscc"].isin(pos.index)]
        i, t = pos[lat["uscc"]].to_numpy(), _month_index(lat["month"])
        self.alive = np.zeros((self.n, MONTHS), dtype=bool)
        self.violating = np.zeros((self.n, MONTHS), dtype=bool)
        self.dormant = np.zeros((self.n, MONTHS), dtype=bool)
        self.alive[i, t] = True
        self.violating[i, t] = lat["violating"].to_numpy(dtype=bool)
        self.dormant[i, t] = lat["dormant"].to_numpy(dtype=bool)
        span = HISTORY + MONTHS  # month columns: -HISTORY .. MONTHS-1
        self.complaints = np.zeros((self.n, span), dtype=np.int16)
        c = complaints[complaints["uscc"].isin(pos.index)]
        ci, ct = pos[c["uscc"]].to_numpy(), _month_index(c["received_date"]) + HISTORY
        ok = (ct >= 0) & (ct < span)
        np.add.at(self.complaints, (ci[ok], ct[ok]), 1)
        self.individual = (ent["entity_type"] == "individual").to_numpy()
        self.industry = pd.Categorical(ent["industry_code"]).codes.astype(float)
        est = pd.to_datetime(ent["established"])
        self.age0 = ((pd.Timestamp(START) - est).dt.days / 365.25).to_numpy()
        self.capital = np.log1p(pd.to_numeric(ent["registered_capital"], errors="coerce").fillna(0).to_numpy())
        # the simulator's observed inspections before the loop: the first history both arms learn from
        insp = insp[insp["uscc"].isin(pos.index)]
        hi, ht = pos[insp["uscc"]].to_numpy(), _month_index(insp["inspection_date"]) + HISTORY
        keep = ht >= 0
        self.history = pd.DataFrame({"ent": hi[keep], "col": ht[keep], "kind": insp["kind"].to_numpy()[keep],
                                     "adverse": insp["result"].isin(ADVERSE_RESULTS).to_numpy()[keep]})
        # estimated π of historical random checks: random checks per member of the group and month
        months_seen = max(1, HISTORY)
        group_size = np.array([(~self.individual).sum(), self.individual.sum()], dtype=float)
        rnd = self.history[self.history["kind"] == "random"]
        per = np.bincount(self.individual[rnd["ent"]].astype(int), minlength=2) / months_seen / group_size
        self.history["pi"] = np.where(self.history["kind"] == "random",
                                      per[self.individual[self.history["ent"]].astype(int)], np.nan)
        # quarterly feature snapshots without the compliance dimension (the simulator's own detections):
        # the loop's detection history stands in for it
        numeric = [f.name for f in all_features() if f.dimension != "compliance" and f.kind != "categorical"]
        self.snapshots = {col: frame.set_index("uscc").reindex(self.uscc)[numeric].to_numpy(dtype=float)
                          for col, frame in snaps.items()}
        self.seed = seed
        from synth.params import district as district_params

        det = district_params()["detection"]
        self.find = {"random": float(det["find"]["random"]), "complaint": float(det["find"]["complaint"]),
                     "unreachable": float(det["unreachable_found"])}


def _features(w: World, adv: np.ndarray, ins: np.ndarray, col: int) -> np.ndarray:
    """Features at the start of month column ``col`` (events strictly before it)."""
    lo = max(0, col - 12)
    findings = adv[:, lo:col].sum(axis=1)
    inspected = ins[:, lo:col].sum(axis=1)
    complaints = w.complaints[:, lo:col].sum(axis=1)
    past = adv[:, max(0, col - 36):col]
    last = np.where(past.any(axis=1), past.shape[1] - 1 - np.argmax(past[:, ::-1] > 0, axis=1), 36)
    age = w.age0 + (col - HISTORY) / 12
    snap = w.snapshots[max(c for c in SNAPSHOT_COLS if c <= col)]
    return np.column_stack([w.individual, w.industry, age, w.capital, complaints, findings, inspected, last, snap])


def _fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None, seed: int):
    import lightgbm as lgb

    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
              "feature_fraction": 0.9, "lambda_l2": 1.0, "num_threads": 1, "deterministic": True,
              "force_row_wise": True, "verbose": -1, "seed": seed}
    return lgb.train(params, lgb.Dataset(x, y, weight=weight, categorical_feature=[1]), num_boost_round=120)


class Arm:
    """One closed loop: its detection history, models, tiers and what it inspected."""

    def __init__(self, w: World, *, kind: str, explore: float) -> None:
        self.w, self.kind, self.explore = w, kind, explore
        self.base = None
        span = HISTORY + MONTHS
        self.adv = np.zeros((w.n, span), dtype=np.int16)
        self.ins = np.zeros((w.n, span), dtype=np.int16)
        np.add.at(self.adv, (w.history["ent"], w.history["col"]), w.history["adverse"].astype(np.int16))
        np.add.at(self.ins, (w.history["ent"], w.history["col"]), 1)
        # random (π-known) inspections: (ent, col, adverse, pi)
        h = w.history[w.history["kind"] == "random"]
        self.random = [(h["ent"].to_numpy(), h["col"].to_numpy(), h["adverse"].to_numpy(), h["pi"].to_numpy())]
        self.inspected_in_loop = np.zeros(w.n, dtype=bool)
        self.plan_inspections = 0
        self.plan_findings = 0
        self.model = None
        self.tiers = np.full(w.n, "A", dtype=object)

    def train(self, now: int) -> None:
        """Retrain on rows whose label months (col .. col+HORIZON-1) end before month column ``now``."""
        w = self.w
        cols = [c for c in range(now - HORIZON - TRAIN_MONTHS + 1, now - HORIZON + 1) if c >= 12]
        if self.kind in ("naive", "stacked"):
            xs = [_features(w, self.adv, self.ins, c) for c in cols]
            ys = [(self.adv[:, c:c + HORIZON].sum(axis=1) > 0).astype(int) for c in cols]
            self.base = _fit(np.vstack(xs), np.concatenate(ys), None, w.seed + now)
            if self.kind == "naive":
                self.model = self.base
                return
        ent, col, adverse, pi = (np.concatenate(a) for a in zip(*self.random, strict=True))
        xs, ys, ws = [], [], []
        for c in cols:
            hit = (col >= c) & (col < c + HORIZON)
            if not hit.any():
                continue
            frame = pd.DataFrame({"ent": ent[hit], "adverse": adverse[hit], "pi": pi[hit]})
            first = frame.groupby("ent").agg(adverse=("adverse", "max"), pi=("pi", "first"))
            xs.append(self._x(c)[first.index.to_numpy()])
            ys.append(first["adverse"].to_numpy(dtype=int))
            ws.append(1.0 / first["pi"].to_numpy())
        weight = np.concatenate(ws)
        self.model = _fit(np.vstack(xs), np.concatenate(ys), weight * len(weight) / weight.sum(), w.seed + now)

    def _x(self, col: int) -> np.ndarray:
        """The model's inputs at ``col``: the features, and for ``stacked`` the naive model's score beside them."""
        x = _features(self.w, self.adv, self.ins, col)
        if self.kind == "stacked":
            x = np.column_stack([x, self.base.predict(x, raw_score=True)])
        return x

    def publish(self, now: int) -> None:
        from training.tiers import TierPolicy

        p = self.model.predict(self._x(now))
        self.tiers = TierPolicy.from_rules().fit(p).predict(p)

    def quarter(self, q: int, *, policy, capacity: int, rng: np.random.Generator, prior: dict) -> None:
        """Draw the quarter's plan, run its inspections and the complaint-driven ones, month by month."""
        from inspection.draw import draw

        w, first = self.w, q * 3
        alive = w.alive[:, first]
        targets = w.targets[alive].assign(tier=self.tiers[alive])
        pri = prior.get("frame")
        d = draw(targets, policy=policy, capacity=capacity, seed=w.seed * 1000 + q, prior=pri)
        rows = d.inspections[d.inspections["kind"] == "random"]
        pos = pd.Series(np.arange(w.n), index=w.uscc)
        ent = pos[rows["uscc"]].to_numpy()
        pi = rows["inclusion_probability"].to_numpy(dtype=float)
        if self.explore > 0:  # extra uniform random checks over every entity alive, beyond the plan
            live = np.flatnonzero(alive)
            k = int(round(self.explore / 4 * len(live)))
            extra = rng.choice(live, size=k, replace=False)
            pe = k / len(live)
            pi_all = pd.Series(pi, index=ent)
            both = pd.Index(extra).union(pd.Index(ent))
            pi_plan = pi_all.reindex(both).fillna(0.0).to_numpy()
            ent, pi = both.to_numpy(), 1 - (1 - pi_plan) * (1 - pe)
        month = first + rng.integers(0, 3, len(ent))
        col = month + HISTORY
        find = w.find
        adverse = ((w.violating[ent, month] & (rng.random(len(ent)) < find["random"]))
                   | (w.dormant[ent, month] & (rng.random(len(ent)) < find["unreachable"])))
        ok = w.alive[ent, month]
        ent, col, adverse, pi = ent[ok], col[ok], adverse[ok], pi[ok]
        np.add.at(self.adv, (ent, col), adverse.astype(np.int16))
        np.add.at(self.ins, (ent, col), 1)
        self.random.append((ent, col, adverse, pi))
        self.inspected_in_loop[ent] = True
        self.plan_inspections += len(ent)
        self.plan_findings += int(adverse.sum())
        # complaint-driven inspections: every complaint of the quarter's months, on top of the plan
        for m in range(first, first + 3):
            c = np.flatnonzero((w.complaints[:, m + HISTORY] > 0) & w.alive[:, m])
            found = w.violating[c, m] & (rng.random(len(c)) < find["complaint"])
            np.add.at(self.adv, (c, m + HISTORY), found.astype(np.int16))
            np.add.at(self.ins, (c, m + HISTORY), 1)
            self.inspected_in_loop[c] = True
        # this year's checks (yearly caps, the floor and the law are counted over the year's plans)
        year_rows = rows.assign(checks=1)[["uscc", "checks", "items"]]
        old = pri if (pri is not None and q % 4) else None
        merged = year_rows if old is None else pd.concat([old, year_rows])
        prior["frame"] = merged.groupby("uscc", as_index=False).agg(
            checks=("checks", "sum"), items=("items", lambda s: ";".join(sorted({c for x in s for c in x.split(";")}))))
        if q % 4 == 3:
            prior["frame"] = None

    def auc(self, month: int) -> float:
        from sklearn.metrics import roc_auc_score

        alive = self.w.alive[:, month]
        order = {"A": 0, "B": 1, "C": 2, "D": 3}
        score = np.array([order[t] for t in self.tiers[alive]])
        return float(roc_auc_score(self.w.violating[alive, month], score))

    def blind_share(self, month: int) -> float:
        """Of the entities violating at ``month`` and in tier A, the share never inspected during the loop."""
        v = self.w.violating[:, month] & self.w.alive[:, month] & (self.tiers == "A")
        return float((~self.inspected_in_loop[v]).mean()) if v.any() else float("nan")


def run_arm(w: World, *, kind: str, explore: float, capacity: int) -> dict:
    from inspection.policy import load_policy

    policy = load_policy()
    rng = np.random.default_rng([w.seed, ARMS.index(kind), int(explore * 1000)])
    arm = Arm(w, kind=kind, explore=explore)
    prior: dict = {}
    out = {"arm": kind, "explore": explore}
    for q in range(MONTHS // 3):
        now = q * 3 + HISTORY
        arm.train(now)
        arm.publish(now)
        for m in (6, 12, 24):  # the tiers in force during month m (1-based)
            if q * 3 <= m - 1 < q * 3 + 3:
                out[f"auc_m{m}"] = round(arm.auc(m - 1), 4)
        arm.quarter(q, policy=policy, capacity=capacity, rng=rng, prior=prior)
    out["findings_per_100"] = round(100 * arm.plan_findings / max(1, arm.plan_inspections), 2)
    out["plan_inspections"] = arm.plan_inspections
    out["a_violators_never_inspected"] = round(arm.blind_share(MONTHS - 1), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--budget", type=float, default=0.15, help="plan inspections a year, share of all entities")
    ap.add_argument("--explore", type=float, nargs="+", default=[0.0, 0.02, 0.05],
                    help="extra uniform random checks a year, share of all entities")
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    ap.add_argument("--keep", help="folder to keep the district and warehouse in (default: a temporary one)")
    args = ap.parse_args()
    from synth.district import generate

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        district = root / "district"
        if not (district / "synth_report.json").is_file():
            generate(district, entities=args.entities, seed=args.seed)
        w = World(root / "home", district, seed=args.seed)
        capacity = int(math.ceil(args.budget / 4 * w.n))
        print(f"district: {w.n:,} entities alive at {START}, plan capacity {capacity} a quarter "
              f"({args.budget:.0%} a year), setup {time.perf_counter() - began:.0f} s")
        rows = []
        for explore in args.explore:
            for kind in args.arms:
                t0 = time.perf_counter()
                r = run_arm(w, kind=kind, explore=explore, capacity=capacity)
                r["seconds"] = round(time.perf_counter() - t0, 1)
                rows.append(r)
                print(r, flush=True)
        frame = pd.DataFrame(rows)
        print(frame.to_string(index=False))
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
