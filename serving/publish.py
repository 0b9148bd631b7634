"""Publish tiers: score every active entity of a snapshot with the champion and store the result with history."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import audit, rules
from core import tiers as core_tiers
from core.errors import Conflict, UserError
from core.opdb import engine
from core.progress import say, step
from core.settings import Settings
from serving.reasons import Outcome, finalise
from serving.triggers import triggers

PUBLICATIONS = sa.table(
    "publications",
    sa.column("publication_id"), sa.column("as_of", sa.Date), sa.column("model_version"),
    sa.column("snapshot_id"), sa.column("status"), sa.column("entity_count", sa.Integer),
    sa.column("tier_counts"), sa.column("trigger_counts"), sa.column("rules_versions"),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("created_by"),
)
PUBLISHED_SCORES = sa.table(
    "published_scores",
    sa.column("publication_id"), sa.column("uscc"), sa.column("probability", sa.Float), sa.column("tier"),
    sa.column("reasons"), sa.column("entity_type"), sa.column("industry_code"), sa.column("town_code"),
)
UNPUBLISHED = sa.table(
    "unpublished_entities",
    sa.column("publication_id"), sa.column("uscc"), sa.column("status"), sa.column("status_date", sa.Date),
)
DESCRIPTIVE = ("entity_type", "industry_code", "town_code")
_CHUNK = 5_000


def publication_id(*, as_of: date, model_version: str, snapshot_id: str) -> str:
    """Deterministic id: publishing the same as_of, model and snapshot again finds the same publication."""
    digest = hashlib.sha256(f"{as_of.isoformat()}|{model_version}|{snapshot_id}".encode()).hexdigest()[:12]
    return f"pub-{as_of:%Y%m%d}-{digest}"


def publish(settings: Settings, *, as_of: date, actor: str, model: Any = None, snapshot: Any = None,
            closed: Any = None, scores: Any = None) -> dict:
    """Score every active entity at ``as_of`` with the champion and publish tiers, reasons and history.

    Args:
        settings: where the warehouse, registry and operational DB live.
        as_of: the snapshot date.
        actor: who publishes (audited).
        model: a loaded scoring model (default: the ``champion``, else the last local export).
        snapshot: a feature snapshot (default: built or loaded for ``as_of`` in the warehouse).
        closed: entities the publication leaves out because they closed before ``as_of`` (frame of
            ``uscc``, ``status``, ``status_date``; default: read from the warehouse when there is one),
            so that a lookup of their code can say so.
        scores: the model's scores of the snapshot's active rows when already computed elsewhere (``model.score``
            output, e.g. from Spark executors: training.spark_scoring), in any row order.

    Returns:
        publication id, counts per tier, the migration matrix against the previous publication,
        and ``already_published`` when the same as_of, model and snapshot had been published before.
    """
    model_source = "given"
    if model is None:
        from serving.models import load_champion

        with step("loading the champion model"):
            loaded = load_champion(settings)
        model, model_source = loaded.model, loaded.source
    if snapshot is None:
        snapshot = _snapshot(settings, as_of)
    if snapshot.as_of != as_of:
        raise UserError(f"as_of: expected a snapshot at {as_of}, got one at {snapshot.as_of}")
    frame = _active(snapshot.frame)
    missing = [f for f in model.feature_names if f not in frame.columns]
    if missing:
        raise UserError(f"snapshot {snapshot.snapshot_id} lacks {len(missing)} feature(s) model "
                        f"{model.version} expects: {missing[:10]}")
    pub_id = publication_id(as_of=as_of, model_version=model.version, snapshot_id=snapshot.snapshot_id)
    eng = engine(settings)
    with eng.begin() as conn:
        existing = conn.execute(sa.select(PUBLICATIONS).where(
            PUBLICATIONS.c.publication_id == pub_id)).mappings().first()
        if existing is not None and existing["status"] == "published":
            return _summary(conn, dict(existing), model_source=model_source, already=True)
        if existing is None:
            conn.execute(sa.insert(PUBLICATIONS).values(
                publication_id=pub_id, as_of=as_of, model_version=model.version,
                snapshot_id=snapshot.snapshot_id, status="publishing", entity_count=0,
                created_at=datetime.now(UTC), created_by=actor,
            ))
    with step(f"scoring {len(frame):,} entities with model {model.version}"):
        scores = model.score(frame) if scores is None else _aligned(scores, frame)
    with step("direct triggers and the records behind the reasons"):
        records, hits = _records(settings, as_of)
        outcome = finalise(scores, frame, records=records, sanction_hits=hits)
    rows = _rows(pub_id, scores, frame, outcome)
    left_out = _closed_rows(pub_id, closed if closed is not None else _closed(settings, as_of), rows)
    tier_counts = {c: 0 for c in core_tiers.codes()} | dict(Counter(r["tier"] for r in rows))
    trigger_counts = outcome.fired.counts()
    versions = {"model_version": model.version, "model_source": model_source, "snapshot_id": snapshot.snapshot_id,
                "schema_hash": getattr(model, "schema_hash", None), "rules": {"tiers": rules.version("tiers")}}
    with step(f"writing publication {pub_id}"), eng.begin() as conn:
        status = conn.execute(sa.select(PUBLICATIONS.c.status).where(
            PUBLICATIONS.c.publication_id == pub_id).with_for_update()).scalar()
        if status == "published":
            raise Conflict(f"publication {pub_id} was completed by another run meanwhile")
        conn.execute(sa.delete(PUBLISHED_SCORES).where(PUBLISHED_SCORES.c.publication_id == pub_id))
        conn.execute(sa.delete(UNPUBLISHED).where(UNPUBLISHED.c.publication_id == pub_id))
        write_scores(conn, [rows])
        for i in range(0, len(left_out), _CHUNK):
            conn.execute(sa.insert(UNPUBLISHED), left_out[i:i + _CHUNK])
        conn.execute(sa.update(PUBLICATIONS).where(PUBLICATIONS.c.publication_id == pub_id).values(
            status="published", entity_count=len(rows), tier_counts=json.dumps(tier_counts),
            trigger_counts=json.dumps(trigger_counts),
            rules_versions=json.dumps(versions["rules"]),
        ))
        pub = dict(conn.execute(sa.select(PUBLICATIONS).where(
            PUBLICATIONS.c.publication_id == pub_id)).mappings().one())
        result = _summary(conn, pub, model_source=model_source, already=False)
        audit.record(conn, actor=actor, action="publish", subject=pub_id, outcome="published",
                     inputs={"as_of": as_of, "entities": len(rows), "triggers_fired": trigger_counts,
                             "triggers_not_evaluated": list(outcome.fired.not_evaluated)}, versions=versions)
    say(f"published {len(rows):,} scores as {pub_id}")
    return result


def write_scores(conn: Connection, batches) -> int:
    """Append published-score rows to ``published_scores`` in bulk (PostgreSQL COPY): ``batches`` is an iterable
    of pandas frames, Arrow batches or lists of row dicts with the table's columns."""
    from serving import bulk

    return bulk.write(conn, "published_scores", batches, [c.name for c in PUBLISHED_SCORES.columns])


def _aligned(scores, frame):
    """Precomputed scores in the order of ``frame``'s rows; every row must have exactly one."""
    if len(scores) != len(frame) or set(scores["uscc"]) != set(frame["uscc"].astype(str)):
        raise UserError(f"expected one precomputed score per active entity ({len(frame):,}), got {len(scores):,}")
    return scores.set_index("uscc").loc[frame["uscc"].astype(str).to_numpy()].reset_index()


def _snapshot(settings: Settings, as_of: date):
    from features import snapshot as fsnap
    from features.warehouse import batch, connect

    with batch(settings, purpose=f"feature snapshot at {as_of}"):
        con = connect(settings)
        try:
            with step(f"feature snapshot at {as_of}"):
                return fsnap.build_snapshot(con, as_of=as_of)
        finally:
            con.close()


def _closed(settings: Settings, as_of: date):
    """Entities closed (deregistered, revoked) before ``as_of``, from the warehouse; None without one."""
    if not settings.warehouse_path.exists():
        return None
    from features.warehouse import connect

    con = connect(settings)  # a batch step, like the snapshot build above
    try:
        return con.execute(
            "SELECT uscc, status, status_date FROM entities WHERE status IN ('deregistered', 'revoked') "
            "AND COALESCE(status_date, established) < ?", [as_of]).df()
    finally:
        con.close()


def _closed_rows(pub_id: str, closed, published: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if closed is None or len(closed) == 0:
        return []
    import pandas as pd

    seen = {r["uscc"] for r in published}
    rows = closed.drop_duplicates("uscc")
    dates = pd.to_datetime(rows["status_date"])
    return [{"publication_id": pub_id, "uscc": str(u), "status": str(st), "status_date": None if pd.isna(d) else d.date()}
            for u, st, d in zip(rows["uscc"], rows["status"], dates, strict=True) if u not in seen]


def _records(settings: Settings, as_of: date):
    """The records behind the reasons and the penalties that fire sanction triggers, from the warehouse at
    ``as_of`` in one pass for the whole publication; (None, None) when the home has no warehouse."""
    if not settings.warehouse_path.exists():
        return None, None
    from features.reason_records import penalties_with_sanction, reason_records
    from features.warehouse import connect

    con = connect(settings)
    try:
        records = reason_records(con, as_of=as_of)
        hits = penalties_with_sanction(con, [t.sanction for t in triggers() if t.sanction])
    finally:
        con.close()
    return records, hits


def _active(frame):
    """Rows of entities that are active at the snapshot date (all rows when the snapshot has no status)."""
    if "status" in frame.columns:
        frame = frame[frame["status"] == "active"]
    return frame.reset_index(drop=True)


def _rows(pub_id: str, scores, frame, outcome: Outcome) -> list[dict[str, Any]]:
    desc = frame.set_index("uscc")[[c for c in DESCRIPTIVE if c in frame.columns]]
    desc = desc.reindex(scores["uscc"].to_numpy())
    cols = {c: (desc[c].astype("object").where(desc[c].notna(), None).tolist() if c in desc.columns
                else [None] * len(scores)) for c in DESCRIPTIVE}
    valid = set(core_tiers.codes())
    rows = []
    for i, (u, p, t, r) in enumerate(zip(scores["uscc"], scores["probability"], outcome.tiers,
                                         outcome.reasons, strict=True)):
        if t not in valid:
            raise UserError(f"model returned tier {t!r} for {u}; expected one of {sorted(valid)}")
        rows.append({"publication_id": pub_id, "uscc": str(u), "probability": float(p), "tier": str(t),
                     "reasons": json.dumps(list(r), ensure_ascii=False),
                     **{c: (None if cols[c][i] is None else str(cols[c][i])) for c in DESCRIPTIVE}})
    return rows


def previous_publication(conn: Connection, pub: dict[str, Any]) -> dict[str, Any] | None:
    """The latest completed publication before ``pub`` (by as_of, then creation time)."""
    q = (sa.select(PUBLICATIONS).where(
        PUBLICATIONS.c.status == "published", PUBLICATIONS.c.publication_id != pub["publication_id"],
        sa.or_(PUBLICATIONS.c.as_of < pub["as_of"],
               sa.and_(PUBLICATIONS.c.as_of == pub["as_of"], PUBLICATIONS.c.created_at < pub["created_at"])))
        .order_by(PUBLICATIONS.c.as_of.desc(), PUBLICATIONS.c.created_at.desc()).limit(1))
    row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def migration(conn: Connection, *, previous_id: str, current_id: str) -> dict[str, Any]:
    """Tier migration between two publications: ``matrix[from][to]``, plus entities new and gone."""
    codes = core_tiers.codes()
    matrix = {a: dict.fromkeys(codes, 0) for a in codes}
    s = PUBLISHED_SCORES
    p, c = s.alias("p"), s.alias("c")
    both = (sa.select(p.c.tier.label("a"), c.c.tier.label("b"), sa.func.count().label("n"))
            .select_from(c.join(p, sa.and_(p.c.uscc == c.c.uscc, p.c.publication_id == previous_id)))
            .where(c.c.publication_id == current_id).group_by(p.c.tier, c.c.tier))
    for a, b, n in conn.execute(both):
        matrix[a][b] = int(n)

    def _only(left_id: str, right_id: str) -> dict[str, int]:
        left, right = s.alias("l"), s.alias("r")
        q = (sa.select(left.c.tier, sa.func.count())
             .select_from(left.outerjoin(right, sa.and_(right.c.uscc == left.c.uscc,
                                                        right.c.publication_id == right_id)))
             .where(left.c.publication_id == left_id, right.c.uscc.is_(None)).group_by(left.c.tier))
        return dict.fromkeys(codes, 0) | {t: int(n) for t, n in conn.execute(q)}

    new, gone = _only(current_id, previous_id), _only(previous_id, current_id)
    stayed = sum(sum(row.values()) for row in matrix.values())
    up = sum(matrix[a][b] for a in codes for b in codes if codes.index(b) > codes.index(a))
    down = sum(matrix[a][b] for a in codes for b in codes if codes.index(b) < codes.index(a))
    return {"previous_publication_id": previous_id, "matrix": matrix, "new": new, "gone": gone,
            "stayed": stayed, "moved_up": up, "moved_down": down}


def _summary(conn: Connection, pub: dict[str, Any], *, model_source: str, already: bool) -> dict[str, Any]:
    prev = previous_publication(conn, pub)
    return {
        "publication_id": pub["publication_id"], "as_of": pub["as_of"], "model_version": pub["model_version"],
        "model_source": model_source, "snapshot_id": pub["snapshot_id"], "status": pub["status"],
        "entity_count": pub["entity_count"], "tier_counts": json.loads(pub["tier_counts"] or "{}"),
        "trigger_counts": json.loads(pub.get("trigger_counts") or "{}"),
        "already_published": already,
        "migration": (migration(conn, previous_id=prev["publication_id"], current_id=pub["publication_id"])
                      if prev else None),
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The one-screen summary of a publication: tier counts and the migration matrix."""
    codes = core_tiers.codes()
    total = max(result["entity_count"], 1)
    lines = [f"publication {result['publication_id']}  as_of {result['as_of']}  model {result['model_version']}"
             f" ({result['model_source']})  snapshot {result['snapshot_id']}"
             + ("  [already published]" if result["already_published"] else ""),
             f"{result['entity_count']:,} entities"]
    for c in codes:
        n = result["tier_counts"].get(c, 0)
        lines.append(f"  {c} {core_tiers.label(c).zh:<8} {n:>9,}  {100 * n / total:5.1f}%")
    labels = {t.code: t for t in triggers()}
    for code, n in result.get("trigger_counts", {}).items():
        t = labels.get(code)
        lines.append(f"  direct trigger {code} ({t.zh if t else code} → {t.tier if t else '?'}): {n:,} entities")
    mig = result.get("migration")
    if not mig:
        lines.append("no previous publication: no migration matrix")
        return lines
    lines.append(f"migration from {mig['previous_publication_id']} (rows: before, columns: now)")
    lines.append("       " + "".join(f"{c:>9}" for c in codes) + "      gone")
    for a in codes:
        lines.append(f"  {a}    " + "".join(f"{mig['matrix'][a][b]:>9,}" for b in codes) + f"{mig['gone'][a]:>10,}")
    lines.append("  new  " + "".join(f"{mig['new'][b]:>9,}" for b in codes))
    lines.append(f"moved to a higher-risk tier {mig['moved_up']:,}, to a lower-risk tier {mig['moved_down']:,}")
    return lines
