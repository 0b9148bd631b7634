"""Publish tiers: score every active entity of a snapshot with the champion and store the result with history."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core import audit, rules
from core import tiers as core_tiers
from core.errors import Conflict, UserError
from core.opdb import engine
from core.progress import say, step
from core.settings import Settings
from serving import bulk, publish_workers, published_copy
from serving import triggers as trig
from serving.precomputed import Precomputed
from serving.publication_tables import DESCRIPTIVE, PUBLICATIONS, PUBLISHED_SCORES, UNPUBLISHED
from serving.reasons import Outcome, finalise
from serving.triggers import triggers
from training.model import NATIVE_MIN_ROWS

_CHUNK = 5_000
BATCH_ROWS = 100_000  # snapshot rows scored and written at a time (memory: a few batches, not the district)


def publication_id(*, as_of: date, model_version: str, snapshot_id: str) -> str:
    """Deterministic id: publishing the same as_of, model and snapshot again finds the same publication."""
    digest = hashlib.sha256(f"{as_of.isoformat()}|{model_version}|{snapshot_id}".encode()).hexdigest()[:12]
    return f"pub-{as_of:%Y%m%d}-{digest}"


def publish(settings: Settings, *, as_of: date, actor: str, model: Any = None, snapshot: Any = None,
            closed: Any = None, batch_rows: int = BATCH_ROWS, scores: Path | None = None,
            workers: int | None = None) -> dict:
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
        scores: the model's scores of the snapshot's active rows when already computed elsewhere: a folder of
            Parquet files in uscc order (the Spark executors': training.spark_scoring.write), read one batch of
            codes at a time (serving.precomputed), in this process and in the worker processes.
        workers: processes scoring with reasons (serving.publish_workers.workers_for: by default one per core for
            a large stored snapshot, else this process alone).

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
    columns = _columns(snapshot)
    missing = [f for f in model.feature_names if f not in columns]
    if missing:
        raise UserError(f"snapshot {snapshot.snapshot_id} lacks {len(missing)} feature(s) model "
                        f"{model.version} expects: {missing[:10]}")
    pub_id = publication_id(as_of=as_of, model_version=model.version, snapshot_id=snapshot.snapshot_id)
    eng = engine(settings)
    with eng.begin() as conn:
        existing = conn.execute(sa.select(PUBLICATIONS).where(
            PUBLICATIONS.c.publication_id == pub_id)).mappings().first()
        if existing is not None and existing["status"] == "published":
            return _summary(settings, conn, dict(existing), model_source=model_source, already=True)
        if existing is None:
            conn.execute(sa.insert(PUBLICATIONS).values(
                publication_id=pub_id, as_of=as_of, model_version=model.version,
                snapshot_id=snapshot.snapshot_id, status="publishing", entity_count=0,
                created_at=datetime.now(UTC), created_by=actor,
            ))
        conn.execute(sa.delete(PUBLISHED_SCORES).where(PUBLISHED_SCORES.c.publication_id == pub_id))
        conn.execute(sa.delete(UNPUBLISHED).where(UNPUBLISHED.c.publication_id == pub_id))
    entities = getattr(snapshot, "entities", None) or len(snapshot.frame)
    with step("staging the records behind the reasons"):
        source = _RecordSource.open(settings, as_of)
    copy = published_copy.Writer(settings, pub_id)
    precomputed = None
    try:
        precomputed = None if scores is None else Precomputed(model, scores)
        tally = _Tally()
        seen: set[str] | None = set() if closed is not None or not _stored(snapshot) else None
        n_workers = publish_workers.workers_for(entities, workers)
        if entities >= NATIVE_MIN_ROWS and scores is None and hasattr(model, "native"):
            model.native()  # C trees for every batch of a large publication (built once, cached)
        scorer = model if precomputed is None else precomputed
        parallel = n_workers > 1 and source is not None and seen is None
        with step(f"scoring and writing {entities:,} entities with model {model.version} as {pub_id}"
                  + (f" ({n_workers} worker processes)" if parallel else "")):
            if parallel:
                fix_tiers(scorer, _batches(snapshot, batch_rows), source)
                batches = publish_workers.reasoned_batches(settings, model, snapshot, source, rows=batch_rows,
                                                           workers=n_workers, tally=tally, scores=scores)
            else:
                batches = score_batches(scorer, lambda: _batches(snapshot, batch_rows), source=source, tally=tally,
                                        seen=seen)
            store_scores(eng, pub_id, copy.tee(batches))
        if precomputed is not None and precomputed.rows != tally.entities:  # the publication stays 'publishing'
            raise UserError(f"expected one precomputed score per active entity ({tally.entities:,}), "
                            f"got {precomputed.rows:,}")
        with step("entities left out (closed before as_of)"):
            if seen is not None:
                rows = _closed_rows(pub_id, closed if closed is not None else _closed(settings, as_of), seen)
                left_out = [pd.DataFrame(rows[i:i + _CHUNK]) for i in range(0, len(rows), _CHUNK)]
            else:
                left_out = source.closed(settings, pub_id, snapshot.snapshot_id, as_of, _CHUNK) if source is not None else []
            _store(eng, UNPUBLISHED, left_out)
        copy.commit()
    finally:
        copy.discard()
        if source is not None:
            source.close()
        if precomputed is not None:
            precomputed.close()
    tier_counts = {c: 0 for c in core_tiers.codes()} | dict(tally.tiers)
    trigger_counts = dict(tally.triggers)
    versions = {"model_version": model.version, "model_source": model_source, "snapshot_id": snapshot.snapshot_id,
                "schema_hash": getattr(model, "schema_hash", None), "rules": {"tiers": rules.version("tiers")}}
    with step(f"completing publication {pub_id}"), eng.begin() as conn:
        status = conn.execute(sa.select(PUBLICATIONS.c.status).where(
            PUBLICATIONS.c.publication_id == pub_id).with_for_update()).scalar()
        if status == "published":
            raise Conflict(f"publication {pub_id} was completed by another run meanwhile")
        conn.execute(sa.update(PUBLICATIONS).where(PUBLICATIONS.c.publication_id == pub_id).values(
            status="published", entity_count=tally.entities, tier_counts=json.dumps(tier_counts),
            trigger_counts=json.dumps(trigger_counts),
            rules_versions=json.dumps(versions["rules"]),
        ))
        pub = dict(conn.execute(sa.select(PUBLICATIONS).where(
            PUBLICATIONS.c.publication_id == pub_id)).mappings().one())
        result = _summary(settings, conn, pub, model_source=model_source, already=False)
        audit.record(conn, actor=actor, action="publish", subject=pub_id, outcome="published",
                     inputs={"as_of": as_of, "entities": tally.entities, "triggers_fired": trigger_counts,
                             "triggers_not_evaluated": list(tally.not_evaluated)}, versions=versions)
    say(f"published {tally.entities:,} scores as {pub_id}")
    return result


@dataclass
class _Tally:
    """Counts over the scored batches: entities, final tiers, triggers fired, triggers not evaluated."""

    entities: int = 0
    tiers: Counter = field(default_factory=Counter)
    triggers: Counter = field(default_factory=Counter)
    not_evaluated: tuple[str, ...] = ()

    def add(self, other: _Tally) -> None:
        """Add the counts of another share of the same publication (serving.publish_workers)."""
        self.entities += other.entities
        self.tiers.update(other.tiers)
        self.triggers.update(other.triggers)
        self.not_evaluated = other.not_evaluated or self.not_evaluated


def _stored(snapshot: Any) -> bool:
    return bool(getattr(snapshot, "stored", False))


def _columns(snapshot: Any) -> list[str]:
    """The snapshot's columns without fetching its rows when it is stored in the warehouse."""
    if _stored(snapshot) and getattr(snapshot, "_frame", None) is None:
        return list(next(iter(snapshot.batches(1)), pd.DataFrame()).columns) or list(snapshot.frame.columns)
    return list(snapshot.frame.columns)


def _batches(snapshot: Any, rows: int) -> Iterator[pd.DataFrame]:
    """The active rows of a snapshot in frames of at most ``rows`` (streamed when stored in the warehouse)."""
    if hasattr(snapshot, "batches"):
        parts = snapshot.batches(rows)
    else:
        frame = snapshot.frame
        parts = (frame.iloc[lo:lo + rows] for lo in range(0, len(frame), rows))
    yield from _active_parts(parts)


def _active_parts(parts: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The active rows of each part, parts left empty skipped."""
    for part in parts:
        part = _active(part)
        if len(part):
            yield part


def score_batches(model: Any, batches: Callable[[], Iterable[pd.DataFrame]], *, source: _RecordSource | None = None,
                  tally: _Tally | None = None, seen: set[str] | None = None) -> Iterator[pd.DataFrame]:
    """Score snapshot rows batch by batch: the published rows (uscc, probability, tier after the direct
    triggers, reasons as JSON, descriptive columns) of each batch.

    ``batches`` is called once, or twice when a warehouse gives the reasons their records: a first pass fixes
    every entity's tier, which an affiliate's record names (serving.reasons), and the second scores with reasons.
    """
    if source is not None:
        fix_tiers(model, batches(), source)
    yield from reasoned_batches(model, batches(), source=source, tally=tally, seen=seen)


def fix_tiers(model: Any, batches: Iterable[pd.DataFrame], source: _RecordSource) -> None:
    """The first pass: every entity's tier after the direct triggers, without reasons, given to ``source``."""
    usccs, tiers = [], []
    for frame in batches:
        scores = model.score(frame, reasons=False)
        fired = trig.evaluate(frame, sanction_hits=source.hits)
        usccs.append(pa.array(scores["uscc"].astype(str).to_numpy(), pa.string()))
        tiers.append(pa.array(trig.raise_tiers(scores["tier"].astype(str).tolist(), fired), pa.string()))
    source.set_tiers(usccs, tiers)


def reasoned_batches(model: Any, batches: Iterable[pd.DataFrame], *, source: Any = None, tally: _Tally | None = None,
                     seen: set[str] | None = None) -> Iterator[pd.DataFrame]:
    """The second pass: the published rows of each batch, scored with reasons (their records from ``source``,
    which has ``records(usccs)`` and ``hits``), counted into ``tally``."""
    tally = tally if tally is not None else _Tally()
    hits = source.hits if source is not None else None
    for frame in batches:
        scores = model.score(frame)
        records, affiliates = (source.records(scores["uscc"].astype(str).tolist()) if source is not None
                               else (None, None))
        outcome = finalise(scores, frame, records=records, sanction_hits=hits, affiliate_tiers=affiliates)
        rows = _rows(scores, frame, outcome)
        tally.entities += len(rows)
        tally.tiers.update(rows["tier"].tolist())
        tally.triggers.update(outcome.fired.counts())
        tally.not_evaluated = outcome.fired.not_evaluated
        if seen is not None:
            seen.update(rows["uscc"].tolist())
        yield rows


def store_scores(eng: Engine, pub_id: str, batches: Iterable[pd.DataFrame | pa.RecordBatch | pa.Table]) -> int:
    """Write published rows into ``published_scores`` of publication ``pub_id``, batch by batch, each in its own
    transaction (the publication stays ``publishing`` until completed, so no reader sees it half written).

    Each batch has the columns uscc, probability, tier, reasons (JSON text) and entity_type, industry_code,
    town_code (pandas or Arrow: a Spark job's ``toArrow``/``mapInArrow`` output fits); PostgreSQL is written
    with COPY, SQLite with executemany in chunks. Returns the number of rows written.
    """
    cols = ["uscc", "probability", "tier", "reasons", *DESCRIPTIVE]

    def frames():
        for b in batches:
            frame = b.to_pandas() if isinstance(b, (pa.RecordBatch, pa.Table)) else b
            yield frame.assign(publication_id=pub_id)[["publication_id", *cols]]

    return _store(eng, PUBLISHED_SCORES, frames())


def _store(eng: Engine, table: sa.TableClause, frames: Iterable[pd.DataFrame]) -> int:
    """Append each frame to ``table`` in its own transaction (serving.bulk: COPY on PostgreSQL)."""
    n = 0
    for frame in frames:
        if len(frame):
            with eng.begin() as conn:
                n += bulk.write(conn, table.name, [frame], list(frame.columns))
    return n


class _RecordSource:
    """The records behind the reasons at ``as_of``, from one warehouse connection: the set-based query of
    features.reason_records run once into a temporary table (spilled to disk when large) and read back per
    batch; the penalties that fire sanction triggers; this publication's tiers for the affiliates' records."""

    def __init__(self, con, hits) -> None:
        self.con, self.hits = con, hits

    @classmethod
    def open(cls, settings: Settings, as_of: date) -> _RecordSource | None:
        if not settings.warehouse_path.exists():
            return None
        from features.reason_records import penalties_with_sanction, stage_reason_records
        from features.warehouse import connect

        con = connect(settings)
        try:
            stage_reason_records(con, as_of=as_of, table="_reason_rows")
            hits = penalties_with_sanction(con, [t.sanction for t in triggers() if t.sanction])
        except BaseException:
            con.close()
            raise
        return cls(con, hits)

    def set_tiers(self, usccs: list[pa.Array], tiers: list[pa.Array]) -> None:
        table = pa.table({"uscc": pa.chunked_array(usccs, pa.string()), "tier": pa.chunked_array(tiers, pa.string())})
        self.con.register("_pub_tiers_arrow", table)
        try:
            # the tiers of the affiliates the records name, in the records' uscc order (read back by range)
            self.con.execute("CREATE OR REPLACE TEMP TABLE _affiliate_tiers AS SELECT DISTINCT r.uscc, r.ref, t.tier "
                             "FROM _reason_rows r JOIN _pub_tiers_arrow t ON t.uscc = r.ref "
                             "WHERE r.kind = 'affiliate' ORDER BY r.uscc")
        finally:
            self.con.unregister("_pub_tiers_arrow")

    def records(self, usccs: list[str]) -> tuple[dict[str, dict[str, list]], dict[str, str]]:
        """The records of these entities (in the query's order) and the tiers of the affiliates they name."""
        if not usccs:
            return {}, {}
        lo, hi = min(usccs), max(usccs)
        # a filtered scan keeps the staged order (uscc, dimension, rank)
        got = self.con.sql(f"SELECT {RECORD_COLUMNS} FROM _reason_rows WHERE uscc BETWEEN ? AND ?",
                           params=[lo, hi]).to_arrow_table()
        tiers = dict(self.con.execute("SELECT ref, tier FROM _affiliate_tiers WHERE uscc BETWEEN ? AND ?",
                                      [lo, hi]).fetchall())
        return records_by_entity(got, set(usccs)), tiers

    def export(self, folder: Path) -> None:
        """The staged records and affiliate tiers as Parquet files in ``folder``, sorted by uscc (read by
        serving.publish_workers); the warehouse connection is then closed."""
        folder.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"COPY (SELECT {RECORD_COLUMNS} FROM _reason_rows) TO '{folder / 'records.parquet'}' "
                         "(FORMAT parquet, ROW_GROUP_SIZE 50000)")
        self.con.execute(f"COPY (SELECT uscc, ref, tier FROM _affiliate_tiers) TO '{folder / 'affiliates.parquet'}' "
                         "(FORMAT parquet, ROW_GROUP_SIZE 50000)")
        self.con.close()
        self.con = None

    def closed(self, settings: Settings, pub_id: str, snapshot_id: str, as_of: date,
               rows: int) -> Iterator[pd.DataFrame]:
        """Entities closed before ``as_of`` that the snapshot leaves out, in frames of ``rows``."""
        from features.snapshot import VALUES_TABLE
        from features.warehouse import connect

        if self.con is None:  # exported for the worker processes: open the warehouse again
            self.con = connect(settings)
        reader = self.con.sql(
            "SELECT ? AS publication_id, e.uscc, e.status, e.status_date FROM entities e "
            "WHERE e.status IN ('deregistered', 'revoked') AND COALESCE(e.status_date, e.established) < ? "
            f"AND NOT EXISTS (SELECT 1 FROM {VALUES_TABLE} s WHERE s.snapshot_id = ? AND s.uscc = e.uscc) "
            "QUALIFY row_number() OVER (PARTITION BY e.uscc ORDER BY e.rowid) = 1",
            params=[pub_id, as_of, snapshot_id]).to_arrow_reader(rows)
        for batch in reader:
            frame = batch.to_pandas()
            frame["status_date"] = [None if pd.isna(d) else d.date() for d in pd.to_datetime(frame["status_date"])]
            yield frame

    def close(self) -> None:
        if self.con is not None:
            self.con.close()


RECORD_COLUMNS = "uscc, dimension, kind, ref, record_date, detail"


def records_by_entity(got: pa.Table, wanted: set[str]) -> dict[str, dict[str, list]]:
    """``{uscc: {dimension: [Record, ...]}}`` of the ``wanted`` entities from rows of RECORD_COLUMNS, in their order."""
    from features.reason_records import Record

    out: dict[str, dict[str, list]] = {}
    for u, dim, kind, ref, day, detail in zip(*(got.column(i).to_pylist() for i in range(6)), strict=True):
        if u in wanted:
            out.setdefault(u, {}).setdefault(dim, []).append(Record(kind, ref, day, detail))
    return out


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


def _closed_rows(pub_id: str, closed, seen: set[str]) -> list[dict[str, Any]]:
    if closed is None or len(closed) == 0:
        return []
    rows = closed.drop_duplicates("uscc")
    dates = pd.to_datetime(rows["status_date"])
    return [{"publication_id": pub_id, "uscc": str(u), "status": str(st), "status_date": None if pd.isna(d) else d.date()}
            for u, st, d in zip(rows["uscc"], rows["status"], dates, strict=True) if u not in seen]


def _active(frame):
    """Rows of entities that are active at the snapshot date (all rows when the snapshot has no status)."""
    if "status" in frame.columns:
        frame = frame[frame["status"] == "active"]
    return frame.reset_index(drop=True)


def _rows(scores, frame, outcome: Outcome) -> pd.DataFrame:
    """The published rows of one scored batch (without the publication id)."""
    desc = frame.set_index("uscc")[[c for c in DESCRIPTIVE if c in frame.columns]]
    desc = desc.reindex(scores["uscc"].to_numpy())
    valid = set(core_tiers.codes())
    bad = [(u, t) for u, t in zip(scores["uscc"], outcome.tiers, strict=True) if t not in valid]
    if bad:
        raise UserError(f"model returned tier {bad[0][1]!r} for {bad[0][0]}; expected one of {sorted(valid)}")
    out = {"uscc": scores["uscc"].astype(str).to_numpy(), "probability": scores["probability"].astype(float).to_numpy(),
           "tier": [str(t) for t in outcome.tiers],
           "reasons": [json.dumps(list(r), ensure_ascii=False) for r in outcome.reasons]}
    for c in DESCRIPTIVE:
        out[c] = ([None if v is None or v != v else str(v) for v in desc[c].astype("object").tolist()]
                  if c in desc.columns else [None] * len(scores))
    return pd.DataFrame(out)


def previous_publication(conn: Connection, pub: dict[str, Any]) -> dict[str, Any] | None:
    """The latest completed publication before ``pub`` (by as_of, then creation time)."""
    q = (sa.select(PUBLICATIONS).where(
        PUBLICATIONS.c.status == "published", PUBLICATIONS.c.publication_id != pub["publication_id"],
        sa.or_(PUBLICATIONS.c.as_of < pub["as_of"],
               sa.and_(PUBLICATIONS.c.as_of == pub["as_of"], PUBLICATIONS.c.created_at < pub["created_at"])))
        .order_by(PUBLICATIONS.c.as_of.desc(), PUBLICATIONS.c.created_at.desc()).limit(1))
    row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def migration(settings: Settings, conn: Connection, *, previous_id: str, current_id: str) -> dict[str, Any]:
    """Tier migration between two publications: ``matrix[from][to]``, plus entities new and gone (counted in
    DuckDB over the two publications' columnar copies, serving.published_copy)."""
    codes = core_tiers.codes()
    matrix = {a: dict.fromkeys(codes, 0) for a in codes}
    new, gone = dict.fromkeys(codes, 0), dict.fromkeys(codes, 0)
    for a, b, n in published_copy.pair_counts(settings, conn, previous_id=previous_id, current_id=current_id):
        if a is None:
            new[b] = int(n)
        elif b is None:
            gone[a] = int(n)
        else:
            matrix[a][b] = int(n)
    stayed = sum(sum(row.values()) for row in matrix.values())
    up = sum(matrix[a][b] for a in codes for b in codes if codes.index(b) > codes.index(a))
    down = sum(matrix[a][b] for a in codes for b in codes if codes.index(b) < codes.index(a))
    return {"previous_publication_id": previous_id, "matrix": matrix, "new": new, "gone": gone,
            "stayed": stayed, "moved_up": up, "moved_down": down}


def _summary(settings: Settings, conn: Connection, pub: dict[str, Any], *, model_source: str,
             already: bool) -> dict[str, Any]:
    prev = previous_publication(conn, pub)
    return {
        "publication_id": pub["publication_id"], "as_of": pub["as_of"], "model_version": pub["model_version"],
        "model_source": model_source, "snapshot_id": pub["snapshot_id"], "status": pub["status"],
        "entity_count": pub["entity_count"], "tier_counts": json.loads(pub["tier_counts"] or "{}"),
        "trigger_counts": json.loads(pub.get("trigger_counts") or "{}"),
        "already_published": already,
        "migration": (migration(settings, conn, previous_id=prev["publication_id"], current_id=pub["publication_id"])
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
