"""Monthly monitoring: PSI per feature and for the score, tier migration, jumpers, repairs, data quality."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

from core import rules
from core import tiers as core_tiers
from core.settings import Settings

RULES = "cycle"
_EPS = 1e-4


def cycle_rules(path: str | None = None) -> dict[str, Any]:
    """The cycle rules table (core/rules/cycle.toml, or the file at ``path``)."""
    data = rules.load(RULES, path)
    missing = [k for k in ("drift", "monitor", "cadence", "retrain") if k not in data]
    if missing:
        raise rules.RulesError(f"{path or 'core/rules/cycle.toml'}: expected tables {missing}")
    return data


def _shares(counts: np.ndarray) -> np.ndarray:
    return np.clip(counts / max(counts.sum(), 1), _EPS, None)


def _index(e: np.ndarray, a: np.ndarray) -> float:
    return float(np.sum((a - e) * np.log(a / e)))


def psi(expected: Any, actual: Any, *, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected``.

    Numeric values go into quantile bins of ``expected`` (ties merge bins, values above its maximum
    get their own bin); missing values form their own bin. Returns 0.0 when either side is empty.
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if not len(e) or not len(a):
        return 0.0
    e_nan, a_nan = np.isnan(e), np.isnan(a)
    e_ok = e[~e_nan]
    # bins (-inf, q1], (q1, q2], ..., (q_max, +inf): tied quantiles merge, so discrete features
    # (counts, flags) get one bin per value seen and values beyond the previous maximum their own bin
    edges = np.unique(np.quantile(e_ok, np.linspace(0, 1, bins + 1)[1:])) if len(e_ok) else np.array([])

    def counts(v: np.ndarray, nan: np.ndarray) -> np.ndarray:
        c = np.bincount(np.searchsorted(edges, v[~nan], side="left"), minlength=len(edges) + 1)
        return np.append(c, nan.sum()).astype(float)

    return _index(_shares(counts(e, e_nan)), _shares(counts(a, a_nan)))


def psi_categorical(expected: Any, actual: Any) -> float:
    """PSI over the categories of both sides (missing is a category)."""
    e = pd.Series(expected, dtype=object).fillna("<NA>").astype(str)
    a = pd.Series(actual, dtype=object).fillna("<NA>").astype(str)
    if not len(e) or not len(a):
        return 0.0
    cats = sorted(set(e) | set(a))
    ec = e.value_counts().reindex(cats, fill_value=0).to_numpy(float)
    ac = a.value_counts().reindex(cats, fill_value=0).to_numpy(float)
    return _index(_shares(ec), _shares(ac))


def feature_psi(previous: pd.DataFrame, current: pd.DataFrame, *, bins: int = 10) -> dict[str, float]:
    """PSI of every catalog feature present in both frames, highest first."""
    from features.catalog import all_features

    out = {}
    for f in all_features():
        if f.name not in previous.columns or f.name not in current.columns:
            continue
        if f.kind == "categorical":
            value = psi_categorical(previous[f.name].astype(object), current[f.name].astype(object))
        else:
            value = psi(pd.to_numeric(previous[f.name], errors="coerce"),
                        pd.to_numeric(current[f.name], errors="coerce"), bins=bins)
        out[f.name] = round(value, 5)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _tiers_of(conn, publication_id: str | None, usccs: list[str]) -> dict[str, str]:
    from serving.publish import PUBLISHED_SCORES as S

    if publication_id is None or not usccs:
        return {}
    out: dict[str, str] = {}
    for lo in range(0, len(usccs), 500):
        out.update(conn.execute(sa.select(S.c.uscc, S.c.tier).where(
            S.c.publication_id == publication_id, S.c.uscc.in_(usccs[lo:lo + 500]))).all())
    return out


def jumper_counts(migration: dict[str, Any], *, jump: int) -> dict[str, int]:
    """:func:`jumpers`' counts read off the migration matrix (a jump is a function of the two tiers; an entity new
    this month can only have entered the top tier): no second pass over the two publications."""
    codes = core_tiers.codes()
    top = codes[-1]
    matrix, new_top = migration["matrix"], int(migration["new"].get(top, 0))
    jumped = sum(matrix[a][b] for a in codes for b in codes if codes.index(b) - codes.index(a) >= jump)
    entered = sum(matrix[a][top] for a in codes if a != top)
    both = sum(matrix[a][b] for a in codes for b in codes
               if codes.index(b) - codes.index(a) >= jump or (b == top and a != top))
    return {"count": both + new_top, "jumped": jumped, "entered_top": entered + new_top, "entered_top_new": new_top}


def stored_jumpers(settings: Settings, conn, *, previous_id: str | None, current_id: str, jump: int, limit: int,
                   migration: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`jumpers` of two stored publications, from their columnar copies (serving.published_copy: nothing
    held in memory but the listed rows): the same counts (from ``migration``, the matrix of the two publications,
    computed when not given) and the same rows listed (ties in uscc order, the published order), their reasons
    read from the operational DB by key."""
    from serving import published_copy
    from serving.publish import PUBLISHED_SCORES as S
    from serving.publish import migration as migration_of

    top = core_tiers.codes()[-1]
    if previous_id is None:
        return {"count": 0, "jumped": 0, "entered_top": 0, "entered_top_new": 0, "top_tier": top, "listed": []}
    if migration is None:
        migration = migration_of(settings, conn, previous_id=previous_id, current_id=current_id)
    counts = jumper_counts(migration, jump=jump)
    rows = published_copy.jumpers(settings, conn, previous_id=previous_id, current_id=current_id, jump=jump,
                                  limit=limit)
    reasons = dict(conn.execute(sa.select(S.c.uscc, S.c.reasons).where(
        S.c.publication_id == current_id, S.c.uscc.in_([r.uscc for r in rows]))).all()) if rows else {}
    listed = [{"uscc": r.uscc, "from": r.tier_before, "to": r.tier, "jump": r.jump,
               "probability_before": None if r.probability_before is None else round(r.probability_before, 5),
               "probability": round(r.probability, 5),
               "reasons": json.loads(reasons[r.uscc]) if isinstance(reasons.get(r.uscc), str) else []}
              for r in rows]
    return {**counts, "top_tier": top, "listed": listed}


def feature_psi_sql(con, *, previous_id: str, current_id: str, bins: int = 10) -> dict[str, float]:
    """:func:`feature_psi` of two snapshots stored in the warehouse, by aggregates in DuckDB (one feature at a
    time: the quantile edges of the previous snapshot, then the bin counts of both), highest first."""
    from features.catalog import all_features
    from features.snapshot import VALUES_TABLE

    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                                       [VALUES_TABLE]).fetchall()}
    ids = [previous_id, current_id]
    where = f"FROM {VALUES_TABLE} WHERE snapshot_id = ?"
    out = {}
    for f in all_features():
        if f.name not in have:
            continue
        col = f'"{f.name}"'
        if f.kind == "categorical":
            rows = con.execute(f"SELECT snapshot_id = ?, COALESCE(CAST({col} AS VARCHAR), '<NA>') AS v, COUNT(*) "
                               f"FROM {VALUES_TABLE} WHERE snapshot_id IN (?, ?) GROUP BY ALL",
                               [current_id, *ids]).fetchall()
            cats = sorted({v for _, v, _ in rows})
            pos = {c: i for i, c in enumerate(cats)}
            counts = np.zeros((2, len(cats)))
            for is_cur, v, n in rows:
                counts[int(is_cur), pos[v]] = n
            e, a = counts
            value = _index(_shares(e), _shares(a)) if e.sum() and a.sum() else 0.0
        else:
            probs = [float(x) for x in np.linspace(0, 1, bins + 1)[1:]]
            q = con.execute(f"SELECT quantile_cont({col}, ?) {where} AND {col} IS NOT NULL AND NOT isnan({col})",
                            [probs, previous_id]).fetchall()[0][0]
            edges = np.unique(np.asarray(q, float)) if q is not None else np.array([])
            binned = " + ".join(f"CAST({col} > CAST('{float(e)!r}' AS DOUBLE) AS INTEGER)" for e in edges) or "0"
            rows = con.execute(
                f"SELECT snapshot_id = ?, CASE WHEN {col} IS NULL OR isnan({col}) THEN -1 ELSE {binned} END, COUNT(*) "
                f"FROM {VALUES_TABLE} WHERE snapshot_id IN (?, ?) GROUP BY ALL", [current_id, *ids]).fetchall()
            counts = np.zeros((2, len(edges) + 2))
            for is_cur, b, n in rows:
                counts[int(is_cur), len(edges) + 1 if b == -1 else b] = n
            e, a = counts
            value = _index(_shares(e), _shares(a)) if e.sum() and a.sum() else 0.0
        out[f.name] = round(value, 5)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _continuity(con, *, snapshot_id: str, published: Path) -> dict[str, int]:
    """Active entities of the stored snapshot against the published ones (the publication's columnar copy): one
    anti-join each way in DuckDB."""
    from features.snapshot import VALUES_TABLE

    active, n_published, not_published, not_active = con.execute(
        f"WITH a AS (SELECT uscc FROM {VALUES_TABLE} WHERE snapshot_id = ?), p AS (SELECT uscc FROM read_parquet(?)) "
        "SELECT (SELECT COUNT(DISTINCT uscc) FROM a), (SELECT COUNT(DISTINCT uscc) FROM p), "
        "(SELECT COUNT(DISTINCT uscc) FROM a WHERE uscc NOT IN (SELECT uscc FROM p)), "
        "(SELECT COUNT(DISTINCT uscc) FROM p WHERE uscc NOT IN (SELECT uscc FROM a))",
        [snapshot_id, str(published)]).fetchall()[0]
    return {"active_in_snapshot": int(active), "published": int(n_published),
            "active_not_published": int(not_published), "published_not_active": int(not_active)}


def jumpers(previous: pd.DataFrame, current: pd.DataFrame, *, jump: int, limit: int) -> dict[str, Any]:
    """Entities up ``jump`` tiers or more, or newly in the highest tier (new entities included), with reasons."""
    codes = core_tiers.codes()
    rank = {c: i for i, c in enumerate(codes)}
    top = codes[-1]
    if previous.empty:  # the first publication: nobody moved
        return {"count": 0, "jumped": 0, "entered_top": 0, "entered_top_new": 0, "top_tier": top, "listed": []}
    m = current.merge(previous[["uscc", "tier", "probability"]], on="uscc", how="left", suffixes=("", "_before"))
    now_rank = m["tier"].map(rank)
    before_rank = m["tier_before"].map(rank)
    up = (now_rank - before_rank).fillna(0)
    entered_top = (m["tier"] == top) & (m["tier_before"] != top)
    picked = m[(up >= jump) | entered_top].copy()
    picked["jump"] = up[picked.index].astype(int)
    picked = picked.sort_values(["jump", "probability"], ascending=[False, False])
    listed = []
    for r in picked.head(limit).itertuples(index=False):
        before = None if pd.isna(r.tier_before) else r.tier_before
        listed.append({"uscc": r.uscc, "from": before, "to": r.tier, "jump": int(r.jump),
                       "probability_before": None if pd.isna(r.probability_before) else round(float(r.probability_before), 5),
                       "probability": round(float(r.probability), 5),
                       "reasons": json.loads(r.reasons) if isinstance(r.reasons, str) else []})
    return {"count": int(len(picked)), "jumped": int((up >= jump).sum()), "entered_top": int(entered_top.sum()),
            "entered_top_new": int((entered_top & m["tier_before"].isna()).sum()), "top_tier": top,
            "listed": listed}


def repairs_in_effect(con, *, since: date | None, as_of: date, tiers: Any, limit: int) -> dict[str, Any]:
    """Repairs that started (or were revoked) counting in this cycle's snapshot, with each entity's tiers
    (``tiers(usccs)`` gives the previous and current publications' tiers of those entities)."""
    lower = since or date.min
    rows = con.execute(
        "SELECT record_kind, record_id, uscc, case_id, repaired_date, revoked_date FROM repairs "
        "WHERE GREATEST(repaired_date, COALESCE(known_date, repaired_date)) > ? "  # counted now, not last month
        "  AND GREATEST(repaired_date, COALESCE(known_date, repaired_date)) <= ? "
        "   OR (revoked_date > ? AND revoked_date <= ?) ORDER BY repaired_date, case_id",
        [lower, as_of, lower, as_of]).fetchall()
    before, now = tiers(sorted({r[2] for r in rows}))  # {uscc: tier} previous and current, of these entities
    listed = []
    for kind, record_id, uscc, case_id, repaired, revoked in rows:
        listed.append({"record_kind": kind, "record_id": record_id, "uscc": uscc, "case_id": case_id,
                       "repaired_date": repaired, "revoked_date": revoked,
                       "effect": "revoked" if revoked is not None and revoked > lower else "repaired",
                       "tier_before": before.get(uscc), "tier_now": now.get(uscc)})
    by_kind: dict[str, int] = {}
    for r in listed:
        by_kind[f"{r['record_kind']}:{r['effect']}"] = by_kind.get(f"{r['record_kind']}:{r['effect']}", 0) + 1
    return {"count": len(listed), "by_kind": by_kind, "listed": listed[:limit]}


def data_quality(ingest: dict[str, Any] | None, *, max_share: float) -> dict[str, Any]:
    """Counts from the month's ingest: rows loaded, quarantined by rule, repaired, duplicates, revisions."""
    if not ingest:
        return {"ingested": False}
    loaded = sum(ingest.get("loaded", {}).values())
    quarantined = {t: dict(r) for t, r in ingest.get("quarantined", {}).items()}
    q_total = sum(sum(r.values()) for r in quarantined.values())
    by_rule: dict[str, int] = {}
    for r in quarantined.values():
        for rule, n in r.items():
            by_rule[rule] = by_rule.get(rule, 0) + n
    changes = ingest.get("changes", {})
    share = q_total / max(loaded + q_total, 1)
    return {"ingested": True, "ingest_id": ingest.get("ingest_id"), "loaded": loaded, "quarantined": q_total,
            "quarantine_share": round(share, 5), "quarantine_share_max": max_share,
            "quarantined_by_rule": dict(sorted(by_rule.items())), "quarantined_by_table": quarantined,
            "repaired": ingest.get("repaired", {}), "deduplicated": sum(ingest.get("deduplicated", {}).values()),
            "new": sum(c.get("new", 0) for c in changes.values()),
            "revised": sum(c.get("revised", 0) for c in changes.values()),
            "corrupt_files": list(ingest.get("corrupt", [])) + list(ingest.get("refused") or [])}


def _alert(code: str, zh: str, en: str, **detail: Any) -> dict[str, Any]:
    return {"code": code, "zh": zh, "en": en, **detail}


def monitor(settings: Settings, *, as_of: date, publication: dict[str, Any], snapshot: Any,
            ingest: dict[str, Any] | None = None, rules_file: str | None = None) -> dict[str, Any]:
    """Compare this month's publication and snapshot with the previous month's.

    Args:
        settings: where the warehouse and operational DB live.
        as_of: the cycle's date.
        publication: the summary :func:`serving.publish.publish` returned for this month.
        snapshot: this month's feature snapshot (:class:`features.snapshot.Snapshot`).
        ingest: the month's ingest summary (data-quality counts), when a drop was ingested.
    Returns:
        ``previous`` (publication id, as_of), ``psi_score``, ``psi_features`` (highest first), ``migration``,
        ``tier_counts``, ``jumpers``, ``repairs``, ``data_quality``, ``continuity`` and ``alerts``.
    """
    from core.opdb import engine
    from features.snapshot import load_snapshot
    from features.warehouse import connect
    from serving import published_copy
    from serving.publish import PUBLICATIONS, migration, previous_publication

    cfg = cycle_rules(rules_file)
    drift, mon = cfg["drift"], cfg["monitor"]
    bins = int(drift["psi_bins"])
    eng = engine(settings)
    jump_tiers, limit = int(mon["jump_tiers"]), int(mon["max_listed"])
    with eng.connect() as conn:
        pub = dict(conn.execute(sa.select(PUBLICATIONS).where(
            PUBLICATIONS.c.publication_id == publication["publication_id"])).mappings().one())
        prev = previous_publication(conn, pub)
        prev_id = prev["publication_id"] if prev else None
        published = published_copy.ensure(settings, conn, pub["publication_id"])
        cur_p = published_copy.probabilities(published).to_numpy()
        prev_p = (published_copy.probabilities(published_copy.ensure(settings, conn, prev_id)).to_numpy() if prev
                  else np.zeros(0))
        mig = publication.get("migration")  # publish() compared the two publications already
        if prev and (mig or {}).get("previous_publication_id") != prev_id:
            mig = migration(settings, conn, previous_id=prev_id, current_id=pub["publication_id"])
        jump = stored_jumpers(settings, conn, previous_id=prev_id, current_id=pub["publication_id"],
                              jump=jump_tiers, limit=limit, migration=mig)

    def tiers(usccs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        with eng.connect() as conn:
            return _tiers_of(conn, prev_id, usccs), _tiers_of(conn, pub["publication_id"], usccs)

    con = connect(settings)
    try:
        stored = _is_stored(con, snapshot.snapshot_id)
        prev_stored = bool(prev) and _is_stored(con, prev["snapshot_id"])
        psi_features: dict[str, float] = {}
        if prev_stored and stored:
            psi_features = feature_psi_sql(con, previous_id=prev["snapshot_id"], current_id=snapshot.snapshot_id,
                                           bins=bins)
        elif prev:
            try:
                prev_frame = load_snapshot(con, prev["snapshot_id"]).frame
            except Exception:  # noqa: BLE001 - the previous snapshot may be gone or of another feature set
                prev_frame = None
            if prev_frame is not None:
                psi_features = feature_psi(prev_frame, snapshot.frame, bins=bins)
        since = prev["as_of"] if prev else None
        repairs = repairs_in_effect(con, since=since, as_of=as_of, tiers=tiers, limit=limit)
        if stored:
            continuity = _continuity(con, snapshot_id=snapshot.snapshot_id, published=published)
        else:
            published_codes = set(pq.read_table(published, columns=["uscc"]).column(0).to_pylist())
            active = set(snapshot.frame["uscc"])
            continuity = {"active_in_snapshot": len(active), "published": len(published_codes),
                          "active_not_published": len(active - published_codes),
                          "published_not_active": len(published_codes - active)}
    finally:
        con.close()
    psi_score = round(psi(prev_p, cur_p, bins=bins), 5) if prev else None
    quality = data_quality(ingest, max_share=float(mon["max_quarantine_share"]))
    alerts = []
    if psi_score is not None and psi_score >= float(drift["psi_alert"]):
        alerts.append(_alert("score_drift", "评分分布漂移", "score distribution shifted", value=psi_score,
                             threshold=float(drift["psi_alert"])))
    drifting = [k for k, v in psi_features.items() if v >= float(drift["psi_alert"])]
    if drifting:
        alerts.append(_alert("feature_drift", "指标分布漂移", "feature distributions shifted", value=len(drifting),
                             features=drifting[:20], threshold=float(drift["psi_alert"])))
    if quality.get("ingested") and quality["quarantine_share"] > quality["quarantine_share_max"]:
        alerts.append(_alert("data_quality", "数据质量: 隔离行过多", "data quality: many rows quarantined",
                             value=quality["quarantine_share"], threshold=quality["quarantine_share_max"]))
    if quality.get("corrupt_files"):
        alerts.append(_alert("corrupt_files", "数据文件损坏或表头不符", "extract files corrupt or refused (header)",
                             value=quality["corrupt_files"]))
    if continuity["active_not_published"] or continuity["published_not_active"]:
        alerts.append(_alert("continuity", "在营主体未全部发布", "active entities and published scores differ",
                             value=continuity))
    if jump["count"]:
        alerts.append(_alert("tier_jumps", f"风险等级跃升或新进{jump['top_tier']}类",
                             f"entities up {int(mon['jump_tiers'])}+ tiers or newly in {jump['top_tier']}",
                             value=jump["count"]))
    return {
        "as_of": as_of, "publication_id": pub["publication_id"], "snapshot_id": snapshot.snapshot_id,
        "previous": ({"publication_id": prev["publication_id"], "as_of": prev["as_of"],
                      "snapshot_id": prev["snapshot_id"]} if prev else None),
        "tier_counts": json.loads(pub["tier_counts"] or "{}"), "psi_score": psi_score,
        "psi_features": psi_features, "features_drifting": drifting,
        "features_warn": [k for k, v in psi_features.items() if float(drift["psi_warn"]) <= v],
        "migration": mig, "jumpers": jump, "repairs": repairs, "data_quality": quality,
        "continuity": continuity, "alerts": alerts,
        "score_hist": _hist(prev_p, cur_p),
    }


def _is_stored(con, snapshot_id: str) -> bool:
    """True when the snapshot's rows are in the warehouse's store of the current feature set."""
    from features.snapshot import META_TABLE, VALUES_TABLE
    from features.warehouse import has_table

    if not (has_table(con, META_TABLE) and has_table(con, VALUES_TABLE)):
        return False
    from features.catalog import FEATURE_SET

    return bool(con.execute(f"SELECT COUNT(*) FROM {META_TABLE} WHERE snapshot_id = ? AND feature_set = ?",
                            [snapshot_id, FEATURE_SET]).fetchall()[0][0])


def _hist(before: Any, after: Any, bins: int = 20) -> dict[str, list]:
    """Score histograms on a shared log-spaced grid (for the report)."""
    values = np.concatenate([np.asarray(before, float), np.asarray(after, float)])
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return {"edges": [], "before": [], "after": []}
    lo, hi = max(values.min(), 1e-5), min(max(values.max(), 1e-4), 1.0)
    edges = np.geomspace(lo, hi * 1.0001, bins + 1)
    b = np.histogram(np.asarray(before, float), edges)[0] if len(before) else np.zeros(bins, int)
    a = np.histogram(np.asarray(after, float), edges)[0]
    return {"edges": [float(x) for x in edges], "before": [int(x) for x in b], "after": [int(x) for x in a]}
