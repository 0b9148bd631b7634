"""Run (or resume) one month's cycle: ingest → repairs → snapshot → publish → monitor → retrain → report.

Each step is recorded in ``cycle_steps`` with its result and timing; a step already done is not run
again, and the publication step pins the model version and snapshot it publishes so that a re-run
after an interruption completes the same publication instead of adding a second one.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core import audit, locks, progress, rules
from core.errors import NotFound, UserError
from core.settings import Settings, apply_offline_env
from cycle import store

CYCLE_LOCK = "cycle"
STEPS = ("ingest", "repairs", "snapshot", "publish", "monitor", "retrain", "report")


class _Steps:
    """Runs the steps of one cycle, skipping those already done and recording each outcome."""

    def __init__(self, eng, as_of: date) -> None:
        self.eng, self.as_of = eng, as_of
        self.ran: dict[str, str] = {}

    def run(self, name: str, fn: Callable[[dict[str, Any]], dict[str, Any]], *, skip_reason: str | None = None
            ) -> dict[str, Any]:
        row = store.step_row(self.eng, self.as_of, name)
        if row is not None and row["status"] in ("done", "skipped"):
            self.ran[name] = "reused"
            return row["result"]
        started = time.perf_counter()
        row = store.start_step(self.eng, self.as_of, name)
        if skip_reason:
            result = {"skipped": skip_reason}
            store.finish_step(self.eng, self.as_of, name, result=result, seconds=0.0, status="skipped")
            self.ran[name] = "skipped"
            return result
        try:
            with progress.step(f"cycle {self.as_of}: {name}"):
                result = fn(row["pins"])
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the original error matters more than its bookkeeping
                store.fail_step(self.eng, self.as_of, name, error=f"{type(exc).__name__}: {exc}",
                                seconds=time.perf_counter() - started)
            raise
        store.finish_step(self.eng, self.as_of, name, result=result, seconds=time.perf_counter() - started)
        self.ran[name] = "ran"
        return result


def _drop_manifest(drop: Path) -> dict[str, Any]:
    path = drop / "synth_report.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: meta.get(k) for k in ("kind", "month", "until", "generator", "seed", "counts") if k in meta}


def run_cycle(settings: Settings, *, as_of: date, drop: str | Path | None = None, actor: str,
              retrain: str = "auto", rules_file: str | None = None, wait: bool | float = False,
              engine: str = "duckdb", spark_master: str | None = None) -> dict[str, Any]:
    """Run the monthly reclassification cycle for ``as_of``, resuming an interrupted one.

    One cycle per home at a time: while another runs, this one is refused (:class:`~core.errors.Busy`,
    naming the holder) or, with ``wait``, waits for it. The whole run holds the warehouse
    (``features.warehouse.batch``), and the service's read-only copy is republished after the snapshot.

    Args:
        settings: where the warehouse, registry, operational DB and reports live.
        as_of: the cycle's date (the snapshot sees records known before it); one cycle per date.
        drop: folder of the month's extracts to ingest first (optional; kept from an earlier attempt).
        actor: who runs it (audit log).
        retrain: ``auto`` (the cadence rules decide), ``never`` or ``always``.
        rules_file: a cycle rules file instead of core/rules/cycle.toml.
        wait: False refuses when another cycle of the home runs; True waits for it; a number waits so long.
        engine: ``duckdb`` (one machine) or ``spark`` (snapshot and scoring on Spark: features.spark).
        spark_master: the Spark master with ``engine="spark"`` (default ``CREDIT_RISK_SPARK_MASTER`` or local).
    Returns:
        ``as_of, cycle_id, published, tier_counts, migration, psi_score, psi_features, alerts, jumpers,
        repairs, data_quality, continuity, retrained, promoted, retrain, report, timings, versions``.
    """
    from cycle import cadence
    from features.warehouse import batch

    apply_offline_env()
    if not isinstance(as_of, date):
        raise UserError(f"expected as_of as a date, got {type(as_of).__name__}")
    if drop is not None and not Path(drop).is_dir():
        raise UserError(f"--drop: expected a folder of extracts, got {drop} which is not a folder")
    cadence_mode = retrain
    if cadence_mode not in cadence.MODES:
        raise UserError(f"--retrain: expected one of {cadence.MODES}, got {retrain!r}")
    with (locks.hold(settings.home, CYCLE_LOCK, purpose=f"cycle --as-of {as_of}", actor=actor, wait=wait),
          batch(settings, purpose=f"cycle --as-of {as_of}", actor=actor, wait=True)):
        return _run(settings, as_of=as_of, drop=drop, actor=actor, cadence_mode=cadence_mode, rules_file=rules_file,
                    compute=_Engine(engine, spark_master))


class _Engine:
    """Which engine builds the snapshot and scores it; the Spark session is started on first use."""

    def __init__(self, name: str, master: str | None = None) -> None:
        from features.spark.run import ENGINES

        if name not in ENGINES:
            raise UserError(f"--engine: expected one of {ENGINES}, got {name!r}")
        self.name, self.master, self._spark = name, master, None

    @property
    def spark(self):
        if self._spark is None:
            from features.spark import session

            self._spark = session.session(self.master)
        return self._spark


def _run(settings: Settings, *, as_of: date, drop: str | Path | None, actor: str, cadence_mode: str,
         rules_file: str | None, compute: _Engine | None = None) -> dict[str, Any]:
    from core.opdb import engine
    from features.warehouse import publish_serving_copy

    eng = engine(settings)
    drop_path = Path(drop).resolve() if drop is not None else None
    cyc = store.begin(eng, as_of=as_of, actor=actor, inputs={
        "drop": str(drop_path) if drop_path else None,
        "drop_manifest": _drop_manifest(drop_path) if drop_path else None,
        "retrain_mode": cadence_mode, "rules_file": rules_file})
    if cyc["status"] == "done":
        progress.say(f"cycle {as_of} already done (attempt {cyc['attempts']}): nothing to do")
        return {**cyc["outputs"], "already_done": True}
    stored_drop = cyc["inputs"].get("drop")
    steps = _Steps(eng, as_of)
    models: dict[str, Any] = {}  # loaded once per run, by version
    snapshots: dict[str, Any] = {}  # built or loaded once per run, by id

    ingest = steps.run("ingest", lambda pins: _ingest(settings, Path(stored_drop), actor=actor),
                       skip_reason=None if stored_drop else "no drop given")
    repairs = steps.run("repairs", lambda pins: _sync_repairs(settings))
    compute = compute or _Engine("duckdb")  # which engine builds and scores the snapshot
    snap = steps.run("snapshot", lambda pins: _snapshot(settings, as_of, snapshots, compute))
    publish_serving_copy(settings, only_if_stale=True)  # the service sees the month's records from now on
    pub = steps.run("publish", lambda pins: _publish(settings, eng, as_of=as_of, actor=actor,
                                                      snapshot_id=snap["snapshot_id"], pins=pins, models=models,
                                                      snapshots=snapshots, compute=compute))
    mon = steps.run("monitor", lambda pins: _monitor(settings, as_of=as_of, publication=pub,
                                                      snapshot=_load_snapshot(settings, pub["snapshot_id"],
                                                                              snapshots),
                                                      ingest=None if "skipped" in ingest else ingest,
                                                      rules_file=rules_file))
    train = steps.run("retrain", lambda pins: _retrain(settings, eng, as_of=as_of, actor=actor, monitoring=mon,
                                                        model_version=pub["model_version"], models=models,
                                                        mode=cadence_mode, rules_file=rules_file))
    timings = _timings(eng, as_of)
    outputs = _outputs(as_of, cyc=cyc, ingest=ingest, repairs=repairs, snap=snap, pub=pub, mon=mon, train=train,
                       timings=timings)
    outputs["versions"] = _versions(pub, snap, ingest, train, rules_file)
    rep = steps.run("report", lambda pins: _report(settings, eng, outputs=outputs, monitoring=mon))
    outputs["report"] = rep.get("path")
    outputs["timings"] = _timings(eng, as_of)
    outputs["steps"] = {name: steps.ran.get(name, "reused") for name in STEPS}
    store.finish(eng, as_of, versions=outputs["versions"], outputs=outputs)
    with eng.begin() as conn:
        audit.record(conn, actor=actor, action="cycle.run", subject=store.cycle_id(as_of),
                     inputs={"as_of": as_of, "drop": stored_drop, "retrain_mode": cadence_mode,
                             "attempt": cyc["attempts"]},
                     versions=outputs["versions"],
                     outcome=(f"published {outputs['published']['entities']}; alerts {len(outputs['alerts'])}; "
                              f"retrained {outputs['retrained']}; promoted {outputs['promoted']}"))
    return {**outputs, "already_done": False}


# ------------------------------------------------------------------------------------------------ the steps
def _ingest(settings: Settings, drop: Path, *, actor: str) -> dict[str, Any]:
    from features.ingest import ingest

    if not drop.is_dir():
        raise UserError(f"drop: expected the folder {drop} recorded for this cycle, got nothing there")
    summary = ingest(settings, drop, actor=actor)
    keep = ("ingest_id", "as_of", "loaded", "quarantined", "repaired", "deduplicated", "changes", "corrupt",
            "refused", "seconds")
    return {k: summary.get(k) for k in keep}


def _sync_repairs(settings: Settings) -> dict[str, Any]:
    """Bring the operational DB's decisions into the warehouse (idempotent): repair and objection decisions
    (`repairs`, `record_corrections`) and inspection results.

    Returns the repair sync's counts (``cases``, ``repairs``, ``corrections``) with the other feeds' by name.
    """
    from features.warehouse import sync_operational

    out = sync_operational(settings)
    return {**out.pop("repairs"), **out}


def _snapshot(settings: Settings, as_of: date, snapshots: dict[str, Any], compute: _Engine) -> dict[str, Any]:
    """Build the month's feature snapshot (kept in ``snapshots`` for the next steps of this run)."""
    from features import opinions
    from features.snapshot import build_snapshot
    from features.warehouse import connect

    con = connect(settings)
    try:
        classifier = opinions.current(settings, con)
        if compute.name == "duckdb":
            snap = build_snapshot(con, as_of=as_of, classifier=classifier)
    finally:
        con.close()
    if compute.name == "spark":
        from features.spark import run as spark_run

        snap = spark_run.snapshot(settings, as_of=as_of, spark=compute.spark)
    snapshots[snap.snapshot_id] = snap
    return {"snapshot_id": snap.snapshot_id, "entities": snap.entities, "features": len(snap.feature_names),
            "feature_set": snap.feature_set, "data_fingerprint": snap.data_fingerprint,
            "rules_versions": snap.info.get("rules_versions"), "build_seconds": snap.info.get("build_seconds"),
            "opinion_model": getattr(classifier, "model_id", None)}


def _load_snapshot(settings: Settings, snapshot_id: str, snapshots: dict[str, Any]):
    from features.snapshot import load_snapshot
    from features.warehouse import connect

    if snapshot_id not in snapshots:
        con = connect(settings)
        try:
            snapshots[snapshot_id] = load_snapshot(con, snapshot_id)
        finally:
            con.close()
    return snapshots[snapshot_id]


def _publication_of(eng, as_of: date) -> dict[str, Any] | None:
    """The month's existing publication (published first, then newest), made by any earlier run."""
    from serving.publish import PUBLICATIONS as P

    with eng.connect() as conn:
        row = conn.execute(sa.select(P).where(P.c.as_of == as_of).order_by(
            sa.case((P.c.status == "published", 0), else_=1), P.c.created_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def _load_model(settings: Settings, version: str, models: dict[str, Any]):
    """The model of ``version``: from this run's cache, the registry, or a local export."""
    from training.model import ScoringModel, champion_path

    if version in models:
        return models[version]
    model = None
    uri = settings.mlflow_uri
    no_store = uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists()
    try:
        if no_store:  # do not create an empty MLflow store just to look
            raise NotFound(f"no MLflow store at {uri}")
        model = ScoringModel.load(settings, version)
    except Exception:  # noqa: BLE001 - registry down or absent: use the local exports
        for folder in (settings.models_dir / f"v{version}", champion_path(settings)):
            try:
                candidate = ScoringModel.load_local(folder)
            except NotFound:
                continue
            if candidate.version == str(version):
                model = candidate
                break
    if model is None:
        raise NotFound(f"model version {version} is neither in the registry nor exported under {settings.models_dir}")
    models[version] = model
    return model


def _publish(settings: Settings, eng, *, as_of: date, actor: str, snapshot_id: str, pins: dict[str, Any],
             models: dict[str, Any], snapshots: dict[str, Any], compute: _Engine | None = None) -> dict[str, Any]:
    """Publish with the pinned model and snapshot (the champion and this cycle's snapshot the first time)."""
    from serving.publish import publish

    version, sid = pins.get("model_version"), pins.get("snapshot_id")
    if not version:
        existing = _publication_of(eng, as_of)
        if existing is not None:  # a publication of this month exists already (earlier attempt or by hand)
            version, sid = existing["model_version"], existing["snapshot_id"]
        else:
            from serving.models import load_champion

            loaded = load_champion(settings)
            version, sid = loaded.model.version, snapshot_id
            models[version] = loaded.model
            keep = settings.models_dir / f"v{version}"  # a re-run finds the pinned model even if the champion moves
            if not (keep / "model.json").is_file():
                loaded.model.export_local(keep)
        store.pin(eng, as_of, "publish", model_version=version, snapshot_id=sid)
    model = _load_model(settings, version, models)
    snapshot = _load_snapshot(settings, sid, snapshots)
    with contextlib.ExitStack() as stack:
        scores = None
        if compute is not None and compute.name == "spark":  # scored in the executors from the snapshot's Parquet
            from training import spark_scoring

            scores = stack.enter_context(spark_scoring.scored(settings, snapshot, model, compute.spark))
        result = publish(settings, as_of=as_of, actor=actor, model=model, snapshot=snapshot, scores=scores)
    result["model_meta"] = {"version": model.version, "schema_hash": model.schema_hash,
                            "data_end": _data_end(model.meta)}
    return result


def _data_end(meta: dict[str, Any]) -> str | None:
    from cycle.cadence import champion_data_end

    end = champion_data_end(meta)
    return end.isoformat() if end else None


def _monitor(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    from cycle.monitor import monitor

    return json.loads(json.dumps(monitor(settings, **kwargs), default=str))


def _last_retrain(eng, as_of: date) -> date | None:
    for c in store.cycles(eng, before=as_of, limit=120):
        if c["outputs"].get("retrained"):
            return c["as_of"]
    return None


def _retrain(settings: Settings, eng, *, as_of: date, actor: str, monitoring: dict[str, Any], model_version: str,
             models: dict[str, Any], mode: str, rules_file: str | None) -> dict[str, Any]:
    from cycle import cadence

    model = _load_model(settings, model_version, models)
    champion = {"version": model.version, "data_end": _data_end(model.meta)}
    decision = cadence.decide(as_of=as_of, monitoring=monitoring, champion=champion,
                              last_retrain=_last_retrain(eng, as_of), mode=mode, rules_file=rules_file)
    out: dict[str, Any] = {"decision": decision, "champion": champion, "training": None}
    if decision["retrain"]:
        training = cadence.retrain(settings, as_of=as_of, actor=actor, rules_file=rules_file)
        out["training"] = json.loads(json.dumps(training, default=str))
    return out


def _report(settings: Settings, eng, *, outputs: dict[str, Any], monitoring: dict[str, Any]) -> dict[str, Any]:
    from cycle.report import tier_history, write
    from inspection.evaluate_tiers import for_cycle

    with eng.connect() as conn:
        history = tier_history(conn)
    validation = for_cycle(settings, as_of=date.fromisoformat(outputs["as_of"]))
    outputs["tier_validation"] = validation.to_dict() if validation else None
    path = write(settings, outputs=outputs, monitoring=monitoring, history=history)
    return {"path": str(path)}


# ------------------------------------------------------------------------------------------------ summaries
def _timings(eng, as_of: date) -> dict[str, Any]:
    steps = store.get(eng, as_of)["steps"]
    return {name: {"status": row["status"], "seconds": row["seconds"], "attempt": row["attempt"]}
            for name, row in steps.items()}


def _outputs(as_of: date, *, cyc, ingest, repairs, snap, pub, mon, train, timings) -> dict[str, Any]:
    training = train.get("training") or {}
    return {
        "as_of": as_of.isoformat(), "cycle_id": cyc["cycle_id"], "attempt": cyc["attempts"],
        "published": {"publication_id": pub["publication_id"], "entities": pub["entity_count"],
                      "model_version": pub["model_version"], "snapshot_id": pub["snapshot_id"],
                      "already_published": bool(pub.get("already_published"))},
        "tier_counts": pub["tier_counts"],
        "trigger_counts": pub.get("trigger_counts") or {},
        "migration": pub.get("migration"),
        "psi_score": mon["psi_score"],
        "psi_features": dict(sorted(mon["psi_features"].items(), key=lambda kv: -kv[1])[:15]),
        "features_drifting": mon["features_drifting"],
        "alerts": mon["alerts"],
        "jumpers": mon["jumpers"],
        "repairs": mon["repairs"],
        "repairs_synced": repairs,
        "data_quality": mon["data_quality"],
        "continuity": mon["continuity"],
        "snapshot": {k: snap.get(k) for k in ("snapshot_id", "entities", "build_seconds")},
        "retrained": bool(train["decision"]["retrain"]),
        "promoted": bool(training.get("promoted", False)),
        "retrain": {"decision": train["decision"], "champion": train["champion"],
                    "training": {k: training.get(k) for k in ("model_version", "metrics", "promoted",
                                                              "promotion_reasons", "previous_champion", "spine",
                                                              "report")} if training else None},
        "timings": timings,
    }


def _versions(pub, snap, ingest, train, rules_file) -> dict[str, Any]:
    training = train.get("training") or {}
    return {"model_version": pub["model_version"], "schema_hash": (pub.get("model_meta") or {}).get("schema_hash"),
            "snapshot_id": pub["snapshot_id"], "feature_set": snap.get("feature_set"),
            "data_fingerprint": snap.get("data_fingerprint"),
            "ingest_id": None if "skipped" in ingest else ingest.get("ingest_id"),
            "challenger_version": training.get("model_version"),
            "champion_after": training.get("model_version") if training.get("promoted") else pub["model_version"],
            "rules": {"cycle": rules.load("cycle", rules_file)["meta"]["version"], "tiers": rules.version("tiers")}}
