"""The two registries (两库): inspection targets from the latest publication, and the inspector registry."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.errors import NotFound, UserError
from core.settings import Settings
from inspection.policy import SamplingPolicy, applicability

TARGET_COLUMNS = ["uscc", "tier", "probability", "entity_type", "industry_code", "town_code", "licence_types"]
INSPECTOR_COLUMNS = ["inspector_id", "team", "town_code", "specialties", "capacity", "conflicts"]
TRIGGER_KINDS = {  # code -> (zh, en); order = priority when one entity has several triggers
    "case_lead": ("案件线索", "case lead"),
    "complaint": ("投诉举报", "complaint or report"),
    "opinion_alert": ("舆情监测预警", "public-opinion alert"),
}


@dataclass(frozen=True)
class Targets:
    """The target registry (检查对象名录库): one row per active scored entity, sorted by uscc."""

    frame: pd.DataFrame
    publication_id: str
    as_of: date
    version: str


@dataclass(frozen=True)
class Inspectors:
    """The inspector registry (执法检查人员名录库): ids only, never names."""

    frame: pd.DataFrame
    version: str
    origin: str


def content_version(frame: pd.DataFrame, columns: list[str]) -> str:
    """A short content hash of ``frame[columns]`` in row order (the registry version)."""
    digest = hashlib.sha256()
    digest.update("|".join(columns).encode())
    hashed = pd.util.hash_pandas_object(frame[columns].astype(str), index=False).to_numpy()
    digest.update(hashed.tobytes())
    return digest.hexdigest()[:16]


def latest_publication(conn: sa.Connection, publication_id: str | None = None) -> dict:
    """The publication to plan from: the given one, else the newest with status ``published``."""
    pubs = sa.table("publications", sa.column("publication_id"), sa.column("as_of"), sa.column("status"),
                    sa.column("model_version"), sa.column("snapshot_id"), sa.column("created_at"))
    q = sa.select(pubs)
    if publication_id:
        q = q.where(pubs.c.publication_id == publication_id)
    else:
        q = q.where(pubs.c.status == "published").order_by(pubs.c.as_of.desc(), pubs.c.created_at.desc())
    row = conn.execute(q.limit(1)).mappings().first()
    if row is None:
        raise NotFound(f"no publication {publication_id!r}" if publication_id else
                       "no published scores yet: run `credit-risk score`/publish before planning inspections")
    if row["status"] != "published":
        raise UserError(f"publication {row['publication_id']} has status {row['status']!r}, expected 'published'")
    out = dict(row)
    out["as_of"] = pd.Timestamp(out["as_of"]).date()
    return out


def load_targets(settings: Settings, *, publication_id: str | None = None, point_in_time: bool = False) -> Targets:
    """Targets from a publication's scores (active overrides applied), joined with warehouse entities and licences.

    Entities deregistered or revoked since are left out (nobody inspects a closed business); with
    ``point_in_time`` the status is taken as it was at the publication's as_of (for evaluation).
    """
    from core import opdb
    from features import warehouse

    eng = opdb.engine(settings)
    with eng.connect() as conn:
        pub = latest_publication(conn, publication_id)
        scores = pd.read_sql(
            sa.text("SELECT uscc, tier, probability, entity_type, industry_code, town_code "
                    "FROM published_scores WHERE publication_id = :p"), conn, params={"p": pub["publication_id"]})
        overrides = pd.read_sql(
            sa.text("SELECT uscc, tier, created_at FROM tier_overrides "
                    "WHERE revoked_at IS NULL AND expires_on >= :d ORDER BY created_at, override_id"),
            conn, params={"d": pub["as_of"]})
    if not overrides.empty:
        latest = overrides.drop_duplicates("uscc", keep="last").set_index("uscc")["tier"]
        hit = scores["uscc"].isin(latest.index)
        scores.loc[hit, "tier"] = scores.loc[hit, "uscc"].map(latest)
    con = warehouse.reader(settings)
    try:
        entities, licences = warehouse_frames(con, pub["as_of"], point_in_time=point_in_time)
    finally:
        con.close()
    frame = targets_frame(scores, entities=entities, licences=licences)
    return Targets(frame=frame, publication_id=pub["publication_id"], as_of=pub["as_of"],
                   version=content_version(frame, TARGET_COLUMNS))


def warehouse_frames(con, as_of: date, *, point_in_time: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entities (uscc, descriptors, status: current, or at ``as_of`` with ``point_in_time``) and the
    licence types each holds validly at ``as_of``."""
    status = ("CASE WHEN status <> 'active' AND status_date > ? THEN 'active' ELSE status END"
              if point_in_time else "status")
    entities = con.execute(
        f"SELECT uscc, entity_type, industry_code, town_code, {status} AS status FROM entities",
        [as_of] if point_in_time else []).df()
    licences = con.execute(
        """SELECT uscc, string_agg(DISTINCT licence_type, ';' ORDER BY licence_type) AS licence_types
           FROM licences
           WHERE issued <= ? AND coalesce(known_date, issued) <= ?
             AND (expires IS NULL OR expires >= ?)
             AND NOT (status IN ('cancelled', 'revoked') AND coalesce(status_date, issued) <= ?)
           GROUP BY uscc""", [as_of, as_of, as_of, as_of]).df()
    return entities, licences


def targets_frame(scores: pd.DataFrame, *, entities: pd.DataFrame | None = None,
                  licences: pd.DataFrame | None = None) -> pd.DataFrame:
    """Combine scores (uscc, tier[, probability, descriptors]) with entity rows and held licence types.

    Entities whose warehouse status is not ``active`` are dropped; descriptors missing from the
    scores are taken from the warehouse. Returns the columns of :data:`TARGET_COLUMNS`, sorted by uscc.
    """
    missing = {"uscc", "tier"} - set(scores.columns)
    if missing:
        raise UserError(f"scores need columns uscc and tier, missing {sorted(missing)}")
    frame = scores.copy()
    for col in TARGET_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    if entities is not None and not entities.empty:
        ent = entities.drop_duplicates("uscc").set_index("uscc")
        for col in ("entity_type", "industry_code", "town_code"):
            if col in ent.columns:
                frame[col] = frame[col].where(frame[col].notna(), frame["uscc"].map(ent[col]))
        if "status" in ent.columns:
            status = frame["uscc"].map(ent["status"])
            frame = frame[status.isna() | (status == "active")]
    if licences is not None and not licences.empty:
        held = licences.drop_duplicates("uscc").set_index("uscc")["licence_types"]
        frame["licence_types"] = frame["licence_types"].where(frame["licence_types"].notna(),
                                                              frame["uscc"].map(held))
    frame = frame[TARGET_COLUMNS].drop_duplicates("uscc").sort_values("uscc", kind="stable")
    frame["probability"] = pd.to_numeric(frame["probability"], errors="coerce")
    for col in ("uscc", "tier", "entity_type", "industry_code", "town_code", "licence_types"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame["licence_types"] = frame["licence_types"].fillna("")
    return frame.reset_index(drop=True)


def load_inspectors(path: str | Path) -> Inspectors:
    """Read an inspector registry from CSV or Parquet (columns of :data:`INSPECTOR_COLUMNS`)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"inspector registry {path} does not exist")
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise UserError(f"inspector registry must be .csv or .parquet, got {path.name}")
    return inspectors_from_frame(frame, origin=str(path))


def inspectors_from_frame(frame: pd.DataFrame, *, origin: str = "frame") -> Inspectors:
    """Validate and normalise an inspector registry frame."""
    missing = [c for c in INSPECTOR_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"inspector registry needs columns {INSPECTOR_COLUMNS}, missing {missing}")
    if "name" in frame.columns or "person_name" in frame.columns:
        raise UserError("inspector registry must hold ids only, not names (drop the name column)")
    out = frame[INSPECTOR_COLUMNS].copy()
    for col in ("inspector_id", "team", "town_code", "specialties", "conflicts"):
        out[col] = out[col].astype(object).where(out[col].notna(), "").astype(str)
    try:
        out["capacity"] = pd.to_numeric(out["capacity"], errors="raise").astype(int)
    except (ValueError, TypeError):
        raise UserError("inspector registry: capacity must be a whole number for every inspector") from None
    if out["inspector_id"].duplicated().any():
        dup = out.loc[out["inspector_id"].duplicated(), "inspector_id"].iloc[0]
        raise UserError(f"inspector registry: inspector_id {dup} appears twice")
    if (out["capacity"] < 0).any():
        raise UserError("inspector registry: capacity must be >= 0")
    out = out.sort_values("inspector_id", kind="stable").reset_index(drop=True)
    return Inspectors(frame=out, version=content_version(out, INSPECTOR_COLUMNS), origin=origin)


def generate_inspectors(targets: pd.DataFrame, policy: SamplingPolicy, *, seed: int,
                        entities_per_inspector: int = 400, capacity: int = 150,
                        conflict_share: float = 0.3, min_holders: int = 4) -> Inspectors:
    """A deterministic inspector registry for the simulated district: a station per town, ids only.

    Each inspector holds ``general`` plus one or two specialties drawn in proportion to how many
    targets the checklist items needing them concern; some declare a conflict with a target in their town.
    """
    rng = np.random.default_rng(seed)
    specialties = sorted(s for s in policy.specialties if s != "general")
    app = applicability(targets, policy)
    demand = np.array([sum(int(app[it.code].sum()) for it in policy.items if it.specialty == s)
                       for s in specialties], dtype=float) + 1.0
    weights = demand / demand.sum()
    rows = []
    towns = sorted(t for t in targets["town_code"].dropna().unique())
    counter = 0
    for town in towns:
        in_town = targets["uscc"][targets["town_code"] == town].to_numpy()
        n = max(2, math.ceil(len(in_town) / entities_per_inspector))
        for _ in range(n):
            counter += 1
            k = int(rng.integers(1, 3))
            extra = rng.choice(len(specialties), size=k, replace=False, p=weights)
            spec = ["general"] + sorted(specialties[i] for i in extra)
            conflicts = ""
            if len(in_town) and rng.random() < conflict_share:
                conflicts = ";".join(sorted(rng.choice(in_town, size=min(2, len(in_town)), replace=False)))
            rows.append({"inspector_id": f"INSP-{counter:05d}", "team": f"STATION-{town}", "town_code": town,
                         "specialties": ";".join(spec), "capacity": capacity, "conflicts": conflicts})
    # every specialty the checklist needs is held by at least `min_holders` inspectors, so that
    # recusal of an entity's previous team still leaves someone qualified
    for s, d in zip(specialties, demand, strict=True):
        holders = [r for r in rows if s in r["specialties"].split(";")]
        if d <= 1.0 or len(holders) >= min_holders or not rows:
            continue
        others = [i for i, r in enumerate(rows) if s not in r["specialties"].split(";")]
        for i in rng.choice(others, size=min(len(others), min_holders - len(holders)), replace=False):
            rows[i]["specialties"] = ";".join(["general"] + sorted(set(rows[i]["specialties"].split(";")[1:]) | {s}))
    frame = pd.DataFrame(rows, columns=INSPECTOR_COLUMNS)
    return inspectors_from_frame(frame, origin=f"generated(seed={seed})")


def load_triggers(con, *, as_of: date, policy: SamplingPolicy) -> pd.DataFrame:
    """Triggered-inspection leads known by ``as_of`` within the look-back window, one row per entity.

    Returns columns uscc, kind (see :data:`TRIGGER_KINDS`), refs (';'-joined record ids).
    """
    cfg = policy.triggers
    since = as_of - timedelta(days=int(cfg.get("lookback_days", 90)))
    parts = [con.execute(
        """SELECT uscc, 'complaint' AS kind, complaint_id AS ref FROM complaints
           WHERE received_date > ? AND received_date <= ? AND coalesce(known_date, received_date) <= ?""",
        [since, as_of, as_of]).df()]
    parts.append(con.execute(
        """SELECT uscc, 'opinion_alert' AS kind, opinion_id AS ref FROM opinions
           WHERE uscc IS NOT NULL AND vendor_sentiment = ? AND coalesce(reach, 0) >= ?
             AND published_date > ? AND published_date <= ? AND coalesce(known_date, published_date) <= ?""",
        [cfg.get("opinion_sentiment", "negative"), int(cfg.get("opinion_min_reach", 0)), since, as_of, as_of]).df())
    results = list(cfg.get("case_lead_results", []))
    if results:
        marks = ", ".join("?" for _ in results)
        parts.append(con.execute(
            f"""SELECT uscc, 'case_lead' AS kind, inspection_id AS ref FROM inspections
                WHERE result IN ({marks}) AND inspection_date > ? AND inspection_date <= ?
                  AND coalesce(known_date, inspection_date) <= ?""", [*results, since, as_of, as_of]).df())
    if cfg.get("serious_list_new", False):
        parts.append(con.execute(
            """SELECT uscc, 'case_lead' AS kind, listing_id AS ref FROM serious_list
               WHERE listed_date > ? AND listed_date <= ? AND coalesce(known_date, listed_date) <= ?""",
            [since, as_of, as_of]).df())
    leads = pd.concat(parts, ignore_index=True)
    if leads.empty:
        return pd.DataFrame(columns=["uscc", "kind", "refs"])
    priority = {k: i for i, k in enumerate(TRIGGER_KINDS)}
    leads["_p"] = leads["kind"].map(priority)
    leads = leads.sort_values(["uscc", "_p", "ref"], kind="stable")
    out = leads.groupby("uscc", sort=True).agg(kind=("kind", "first"), refs=("ref", lambda s: ";".join(s)))
    return out.reset_index()
