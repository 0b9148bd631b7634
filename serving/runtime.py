"""What the running service holds: the model loaded once, the latest publication (scores read by key), the audit writer."""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core import audit
from core import tiers as core_tiers
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from serving.limits import ServiceLimits
from serving.lookup import latest_publication
from serving.outcomes import CodeLookup, response_json
from serving.reasons import finalise

log = logging.getLogger(__name__)
_RUNTIME: Runtime | None = None


class FieldError(UserError):
    """Bad input in one field of a request: ``loc`` is its path, e.g. ``("items", 3, "uscc")``."""

    def __init__(self, loc: tuple, message: str, *, status: int = 400) -> None:
        self.loc, self.status = loc, status
        super().__init__(f"{'.'.join(str(p) for p in loc)}: {message}")


class PublishedIndex:
    """The latest publication, and its scores looked up from the operational DB by primary key.

    Only the publication's header is held in memory (swapped in whole by a background thread when a newer one
    is published); each entity's score is read on demand from ``published_scores`` by its key
    ``(publication_id, uscc)``, so a worker's memory does not grow with the number of entities. A publication
    is marked published only once all its rows are written, and the index pins one publication id at a time:
    a request is answered from one whole publication, never half of one.
    """

    SQLITE_CHUNKS = (1, 8, 64, 512)  # IN lists padded to these sizes: a few statements, cached by the driver
    PG_CHUNK = 2_000

    def __init__(self, settings: Settings, *, refresh_seconds: float = 1.0, on_change=None) -> None:
        self.settings = settings
        self.refresh_seconds = refresh_seconds
        self.on_change = on_change  # called with the publication in the refresh thread when a newer one appears
        self._state: tuple[dict[str, Any] | None, str] = (None, "")
        self._loaded = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._engine = None
        self._thread: threading.Thread | None = None
        self._labels = {t.code: f'"tier":"{t.code}","tier_zh":{json.dumps(t.zh, ensure_ascii=False)},'
                        f'"tier_en":{json.dumps(t.en)}' for t in core_tiers.tiers()}

    def start(self) -> PublishedIndex:
        """Load the latest publication now and keep watching for newer ones."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="publication-index", daemon=True)
        self._thread.start()
        return self

    def publication(self) -> dict[str, Any] | None:
        """The publication served now (loaded now if it never was)."""
        if not self._loaded.is_set():
            self.refresh()
        return self._state[0]

    def current(self) -> tuple[dict[str, Any] | None, str]:
        """(publication, the JSON tail of its score fragments), swapped together."""
        if not self._loaded.is_set():
            self.refresh()
        return self._state

    def fragments(self, codes: list[str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """The served publication and ``{uscc: score JSON}`` for those of ``codes`` it holds (one read per chunk)."""
        pub, tail = self.current()
        if pub is None or not codes:
            return pub, {}
        wanted = list(dict.fromkeys(codes))
        labels, out = self._labels, {}
        for u, p, t, r in self._rows(pub["publication_id"], wanted):
            out[u] = (f'{{"status":"scored","uscc":"{u}","probability":{float(p)!r},{labels[t]},'
                      f'"reasons":{r or "[]"}{tail}')
        return pub, out

    def _sqlite(self, path: str) -> sqlite3.Connection:
        """This thread's read-only connection to the SQLite operational DB (the driver's own statement cache;
        SQLAlchemy's per-statement work cost ten times the look-up itself, bench/README.md)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, cached_statements=32)
            con.execute("PRAGMA query_only=1")
            self._local.con = con
        return con

    def _rows(self, pub_id: str, codes: list[str]):
        base = "SELECT uscc, probability, tier, reasons FROM published_scores WHERE publication_id = "
        eng = self._engine or engine(self.settings)  # migrated once; kept (engine() checks the home each call)
        self._engine = eng
        if eng.dialect.name != "sqlite":
            with eng.connect() as conn:
                for i in range(0, len(codes), self.PG_CHUNK):
                    yield from conn.exec_driver_sql(base + "%s AND uscc = ANY(%s)",
                                                    (pub_id, codes[i:i + self.PG_CHUNK])).all()
            return
        con = self._sqlite(eng.url.database)
        top = self.SQLITE_CHUNKS[-1]
        for i in range(0, len(codes), top):
            chunk = codes[i:i + top]
            size = next(n for n in self.SQLITE_CHUNKS if n >= len(chunk))
            chunk = chunk + [chunk[-1]] * (size - len(chunk))  # same statement text for every chunk of a size
            yield from con.execute(f"{base}? AND uscc IN ({','.join('?' * size)})", (pub_id, *chunk)).fetchall()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception as exc:  # keep serving the last publication; say why, without data
                log.warning("publication index refresh failed: %s", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()

    def refresh(self) -> None:
        """Swap in the latest publication if it changed."""
        with self._lock, engine(self.settings).connect() as conn:
            pub = latest_publication(conn)
            old = self._state[0]
            if pub is None or (old and pub["publication_id"] == old["publication_id"]):
                if pub is None:
                    self._state = (None, "")
                self._loaded.set()
                return
            tail = (f',"model_version":{json.dumps(pub["model_version"])},"as_of":"{pub["as_of"].isoformat()}",'
                    f'"source":"publication","publication_id":{json.dumps(pub["publication_id"])}}}')
            self._state = (pub, tail)
            self._loaded.set()
        log.info("serving publication %s (%s entities)", pub["publication_id"], pub.get("entity_count"))
        if self.on_change is not None:
            try:
                self.on_change(pub)
            except Exception as exc:  # a warm-up only: the next request computes what it needs
                log.warning("warming publication %s failed: %s", pub["publication_id"], type(exc).__name__)


class AuditWriter:
    """Appends audit entries from a background thread in small batches, so requests never wait on the DB."""

    def __init__(self, settings: Settings, *, interval: float = 0.2, refused_every: float | None = None) -> None:
        self.settings = settings
        self.interval = interval
        # refused requests (no valid key, over the rate) are counted and summarised once per this many seconds
        self.refused_every = refused_every or ServiceLimits.from_env().refused_audit_seconds
        self._refused: Counter = Counter()
        self._refused_since = time.monotonic()
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.last_error: str | None = None  # why the last write failed; None once a write succeeds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def put(self, **entry: Any) -> None:
        """Queue one entry (same fields as core.audit.record); its time is taken now."""
        entry.setdefault("at", datetime.now(UTC))
        self._queue.put(entry)

    def backlog(self) -> int:
        """Entries queued and not yet written."""
        return self._queue.qsize()

    def count_refused(self, status: int) -> None:
        """Count one refused request (no row of its own: a flood of them must not flood the log)."""
        self._refused[str(status)] += 1

    def _summarise_refused(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not (force or now - self._refused_since >= self.refused_every):
            return
        counts, self._refused = self._refused, Counter()
        if counts:
            self.put(actor="anonymous", action="api refused", outcome="counted",
                     inputs={"by_status": dict(sorted(counts.items())), "seconds": round(now - self._refused_since, 1)})
        self._refused_since = now

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.interval)
            self._summarise_refused()
            self.flush()

    def flush(self) -> int:
        batch = []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return 0
        now = datetime.now(UTC)
        rows = [{"at": e.get("at", now), "actor": e["actor"], "role": e.get("role"), "action": e["action"],
                 "subject": e.get("subject"), "outcome": str(e["outcome"])[:200],
                 "inputs": json.dumps(e.get("inputs") or {}, ensure_ascii=False, default=str, sort_keys=True),
                 "versions": json.dumps(e.get("versions") or {}, ensure_ascii=False, default=str, sort_keys=True)}
                for e in batch]
        try:
            with engine(self.settings).begin() as conn:
                conn.execute(sa.insert(audit.AUDIT), rows)  # one executemany per batch
        except Exception as exc:  # keep the entries and retry on the next tick; /readyz says so meanwhile
            self.last_error = f"audit log write failed ({type(exc).__name__}); {len(batch)} entries waiting"
            log.error("%s", self.last_error)  # no parameters: they would carry the entries
            for entry in batch:
                self._queue.put(entry)
            return 0
        self.last_error = None
        return len(batch)

    def check(self) -> str | None:
        """Why the audit sink is unusable now (a failing write or an unreachable database), else None."""
        if self.last_error:
            return self.last_error
        try:
            with engine(self.settings).connect() as conn:
                conn.execute(sa.select(sa.func.count()).select_from(
                    sa.select(audit.AUDIT.c.id).limit(1).subquery()))
        except Exception as exc:
            return f"audit log unreachable ({type(exc).__name__})"
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._summarise_refused(force=True)
        self.flush()


class Runtime:
    """The service's state: settings, model (with its source), publication index and audit writer."""

    def __init__(self, settings: Settings, *, loaded=None, load_error: str | None = None) -> None:
        self.settings = settings
        self.loaded = loaded
        self.load_error = load_error
        self.index = PublishedIndex(settings, on_change=self._warm)
        self.codes = CodeLookup(settings, self.index)
        self.audit = AuditWriter(settings)
        self._tiers = {t.code: t for t in core_tiers.tiers()}

    def _warm(self, pub: dict[str, Any]) -> None:
        """Count a newly served publication's rows for the tier list (in the background: start-up does not wait)."""
        from serving.lookup import publication_counts

        def work() -> None:
            try:
                with engine(self.settings).connect() as conn:
                    publication_counts(conn, pub["publication_id"])
            except Exception as exc:  # a warm-up only: the first tier list computes them
                log.warning("counting publication %s failed: %s", pub["publication_id"], type(exc).__name__)

        threading.Thread(target=work, name="publication-counts", daemon=True).start()

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        """Load the champion once (registry, else local export) and open the publication index."""
        from serving.models import load_champion

        engine(settings)  # migrate before the first request
        # An unreachable tracking server must not hold the start-up for minutes of retries.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        try:
            runtime = cls(settings, loaded=load_champion(settings))
        except NotFound as exc:
            log.error("no model available: %s", exc)
            runtime = cls(settings, load_error=str(exc))
        runtime.index.start()
        return runtime

    @property
    def model(self):
        return self.loaded.model if self.loaded else None

    def readiness(self) -> dict[str, Any]:
        pub = self.index.publication()
        if self.loaded is None:
            return {"ready": False, "reason": self.load_error}
        audit_problem = self.audit.check()
        if audit_problem:
            return {"ready": False, "reason": audit_problem}
        return {"ready": True, "model_version": self.model.version, "model_source": self.loaded.source,
                "note": self.loaded.note,
                "publication_id": pub["publication_id"] if pub else None,
                "publication_as_of": pub["as_of"].isoformat() if pub else None}

    def model_info(self) -> dict[str, Any]:
        if self.loaded is None:
            raise NotFound(f"model: no model is loaded ({self.load_error})")
        m = self.model
        return {"version": m.version, "source": self.loaded.source, "note": self.loaded.note,
                "training_window": m.training_window, "metrics": m.metrics,
                "feature_count": len(m.feature_names), "schema_hash": m.schema_hash}

    def _result(self, uscc, probability, tier, reasons, *, model_version, as_of, source, publication_id):
        t = self._tiers[tier]
        return {"status": "scored", "uscc": uscc, "probability": probability, "tier": tier, "tier_zh": t.zh,
                "tier_en": t.en, "reasons": reasons, "model_version": model_version, "as_of": as_of,
                "source": source, "publication_id": publication_id}

    def score_json(self, items: list[Any]) -> str:
        """Score items in order and return the ScoreResponse JSON: one outcome per item (scored from the
        latest publication or live from its feature record; not in publication; unknown; invalid code).
        Raises FieldError naming the offending field only when the request itself is malformed."""
        out: list[str | None] = [None] * len(items)
        live = [i for i, it in enumerate(items) if it.features is not None]
        lookup = [i for i, it in enumerate(items) if it.features is None]
        for i in lookup:
            if items[i].uscc is None:
                raise FieldError(("items", i), "expected 'uscc' or 'features', got neither")
        counts: Counter = Counter()
        if lookup:
            fragments, counts = self.codes.outcomes([items[i].uscc for i in lookup])
            for i, fragment in zip(lookup, fragments, strict=True):
                out[i] = fragment
        if live:
            results = self._live([items[i] for i in live], live)
            for i, result in zip(live, results, strict=True):
                out[i] = json.dumps(result, ensure_ascii=False, default=str)
            counts["scored"] += len(live)
        return response_json(out, counts)  # type: ignore[arg-type]

    def score(self, items: list[Any]) -> list[dict[str, Any]]:
        """Like :meth:`score_json`, as a list of outcome dicts."""
        return json.loads(self.score_json(items))["items"]

    def _live(self, items: list[Any], positions: list[int]) -> list[dict[str, Any]]:
        model = self.model
        if model is None:
            raise FieldError(("items", positions[0], "features"), f"no model is loaded ({self.load_error})",
                             status=409)
        names = model.feature_names
        known = set(names) | {"uscc", "as_of"}
        for pos, it in zip(positions, items, strict=True):
            unknown = sorted(set(it.features) - known)
            if unknown:
                raise FieldError(("items", pos, "features", unknown[0]),
                                 f"unknown feature; the model expects {len(names)} features such as {names[:3]}")
            absent = [n for n in names if n not in it.features]
            if absent:
                raise FieldError(("items", pos, "features", absent[0]),
                                 f"missing ({len(absent)} feature(s) absent; send null for an unknown value)")
            _as_of(it, pos)
        frame = pd.DataFrame([{n: it.features[n] for n in names} for it in items], columns=names)
        frame.insert(0, "uscc", [it.uscc for it in items])
        try:
            scored = model.score(frame)
        except UserError as exc:
            raise FieldError(("items", positions[0], "features"), str(exc)) from exc
        outcome = finalise(scored, frame)  # direct triggers the features show, records named by feature
        return [self._result(it.uscc, float(p), str(t), list(r), model_version=model.version,
                             as_of=_as_of(it, pos), source="live", publication_id=None)
                for pos, it, p, t, r in zip(positions, items, scored["probability"], outcome.tiers,
                                            outcome.reasons, strict=True)]

    def close(self) -> None:
        self.index.stop()
        self.audit.close()


def _as_of(item, pos: int) -> date | None:
    """The as_of a live feature record states (optional)."""
    value = item.features.get("as_of")
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        raise FieldError(("items", pos, "features", "as_of"), f"expected YYYY-MM-DD, got {value!r}") from None


def install(runtime: Runtime) -> Runtime:
    """Make ``runtime`` the process's runtime (read by the middleware and the resource routes)."""
    global _RUNTIME
    _RUNTIME = runtime
    return runtime


def current() -> Runtime:
    if _RUNTIME is None:
        raise Conflict("the service runtime is not started")
    return _RUNTIME
