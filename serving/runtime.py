"""What the running service holds: the model loaded once, the latest publication in memory, the audit writer."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core import audit
from core import tiers as core_tiers
from core import uscc as uscc_check
from core.errors import Conflict, NotFound, UserError
from core.opdb import engine
from core.settings import Settings
from serving.lookup import latest_publication
from serving.publish import PUBLISHED_SCORES

log = logging.getLogger(__name__)
_RUNTIME: Runtime | None = None


class FieldError(UserError):
    """Bad input in one field of a request: ``loc`` is its path, e.g. ``("items", 3, "uscc")``."""

    def __init__(self, loc: tuple, message: str, *, status: int = 400) -> None:
        self.loc, self.status = loc, status
        super().__init__(f"{'.'.join(str(p) for p in loc)}: {message}")


class PublishedIndex:
    """The latest publication's scores in memory, reloaded when a newer publication appears.

    Each entity's score is kept as a ready JSON fragment (a :class:`~serving.schemas.ScoreResult`),
    so that a 10,000-item batch is answered by joining strings.
    """

    def __init__(self, settings: Settings, *, refresh_seconds: float = 1.0) -> None:
        self.settings = settings
        self.refresh_seconds = refresh_seconds
        self.publication: dict[str, Any] | None = None
        self._rows: dict[str, str] = {}
        self._checked = -1e9
        self._lock = threading.Lock()

    def current(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """(publication, {uscc: score JSON}), refreshed at most every refresh_seconds."""
        now = time.monotonic()
        if now - self._checked >= self.refresh_seconds:
            with self._lock:
                if now - self._checked >= self.refresh_seconds:
                    self._refresh()
                    self._checked = time.monotonic()
        return self.publication, self._rows

    def _refresh(self) -> None:
        with engine(self.settings).connect() as conn:
            pub = latest_publication(conn)
            if pub is None:
                self.publication, self._rows = None, {}
                return
            if self.publication and pub["publication_id"] == self.publication["publication_id"]:
                return
            s = PUBLISHED_SCORES
            rows = conn.execute(sa.select(s.c.uscc, s.c.probability, s.c.tier, s.c.reasons)
                                .where(s.c.publication_id == pub["publication_id"]))
            tail = (f',"model_version":{json.dumps(pub["model_version"])},"as_of":"{pub["as_of"].isoformat()}",'
                    f'"source":"publication","publication_id":{json.dumps(pub["publication_id"])}}}')
            labels = {t.code: f'"tier":"{t.code}","tier_zh":{json.dumps(t.zh, ensure_ascii=False)},'
                      f'"tier_en":{json.dumps(t.en)}' for t in core_tiers.tiers()}
            self._rows = {u: f'{{"uscc":"{u}","probability":{float(p)!r},{labels[t]},"reasons":{r or "[]"}{tail}'
                          for u, p, t, r in rows}
            self.publication = pub
        log.info("serving publication %s (%d entities)", pub["publication_id"], len(self._rows))


class AuditWriter:
    """Appends audit entries from a background thread in small batches, so requests never wait on the DB."""

    def __init__(self, settings: Settings, *, interval: float = 0.2) -> None:
        self.settings = settings
        self.interval = interval
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def put(self, **entry: Any) -> None:
        """Queue one entry (same fields as core.audit.record); its time is taken now."""
        entry.setdefault("at", datetime.now(UTC))
        self._queue.put(entry)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.interval)
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
        except Exception:  # pragma: no cover - keep the entries and retry on the next tick
            log.exception("audit write failed; %d entries will be retried", len(batch))
            for entry in batch:
                self._queue.put(entry)
        return len(batch)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()


class Runtime:
    """The service's state: settings, model (with its source), publication index and audit writer."""

    def __init__(self, settings: Settings, *, loaded=None, load_error: str | None = None) -> None:
        self.settings = settings
        self.loaded = loaded
        self.load_error = load_error
        self.index = PublishedIndex(settings)
        self.audit = AuditWriter(settings)
        self._tiers = {t.code: t for t in core_tiers.tiers()}

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        """Load the champion once (registry, else local export) and open the publication index."""
        from serving.models import load_champion

        engine(settings)  # migrate before the first request
        # An unreachable tracking server must not hold the start-up for minutes of retries.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        try:
            return cls(settings, loaded=load_champion(settings))
        except NotFound as exc:
            log.error("no model available: %s", exc)
            return cls(settings, load_error=str(exc))

    @property
    def model(self):
        return self.loaded.model if self.loaded else None

    def readiness(self) -> dict[str, Any]:
        pub, _ = self.index.current()
        if self.loaded is None:
            return {"ready": False, "reason": self.load_error}
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
        return {"uscc": uscc, "probability": probability, "tier": tier, "tier_zh": t.zh, "tier_en": t.en,
                "reasons": reasons, "model_version": model_version, "as_of": as_of, "source": source,
                "publication_id": publication_id}

    def score_json(self, items: list[Any]) -> str:
        """Score items in order and return the ScoreResponse JSON: by credit code from the latest
        publication, or live from feature records. Raises FieldError naming the offending field."""
        out: list[str | None] = [None] * len(items)
        live = [i for i, it in enumerate(items) if it.features is not None]
        lookup = [i for i, it in enumerate(items) if it.features is None]
        for i in lookup:
            if items[i].uscc is None:
                raise FieldError(("items", i), "expected 'uscc' or 'features', got neither")
        if lookup:
            pub, rows = self.index.current()
            for i in lookup:
                hit = rows.get(items[i].uscc)
                if hit is None:
                    self._miss(i, items[i].uscc, pub)
                out[i] = hit
        if live:
            results = self._live([items[i] for i in live], live)
            for i, result in zip(live, results, strict=True):
                out[i] = json.dumps(result, ensure_ascii=False, default=str)
        return '{"items":[' + ",".join(out) + "]}"  # type: ignore[arg-type]

    def score(self, items: list[Any]) -> list[dict[str, Any]]:
        """Like :meth:`score_json`, as a list of result dicts."""
        return json.loads(self.score_json(items))["items"]

    @staticmethod
    def _miss(i: int, code: str, pub: dict[str, Any] | None) -> None:
        problem = uscc_check.problem(code)
        if problem:
            raise FieldError(("items", i, "uscc"), problem)
        if pub is None:
            raise FieldError(("items", i, "uscc"), "nothing has been published yet "
                             "(run `credit-risk score --as-of DATE`)", status=409)
        raise FieldError(("items", i, "uscc"), f"{code} is not in publication {pub['publication_id']} "
                         f"(as_of {pub['as_of']})", status=404)

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
        return [self._result(it.uscc, float(p), str(t), list(r), model_version=model.version,
                             as_of=_as_of(it, pos), source="live", publication_id=None)
                for pos, it, p, t, r in zip(positions, items, scored["probability"], scored["tier"],
                                            scored["reasons"], strict=True)]

    def close(self) -> None:
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
