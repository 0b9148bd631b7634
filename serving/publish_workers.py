"""The second pass of a large publication (scoring with reasons) in worker processes, one uscc range at a time.

The publishing process runs the first pass (every tier, serving.publish.fix_tiers), cuts the stored snapshot into
uscc ranges of a batch each, writes the staged reason records and the affiliates' tiers to Parquet and closes the
warehouse. Each worker opens the warehouse read-only, loads the same model bundle and scores its ranges with
reasons exactly as serving.publish.reasoned_batches does in one process; the publishing process writes the rows in
range order. A row is the same to the last bit in one process or several (tests/serving/test_publish_stream.py).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.settings import Settings

WORKERS_ENV = "CREDIT_RISK_PUBLISH_WORKERS"
# Operational, not a rule: below this many entities a worker's start-up (imports, model load: seconds) costs more
# than sharing the scoring saves.
PARALLEL_MIN_ROWS = 300_000


def workers_for(entities: int, requested: int | None = None) -> int:
    """How many worker processes score a publication of ``entities``: ``requested``, else
    ``$CREDIT_RISK_PUBLISH_WORKERS``, else one per core from PARALLEL_MIN_ROWS entities (1: in this process)."""
    if requested is None and os.environ.get(WORKERS_ENV):
        requested = int(os.environ[WORKERS_ENV])
    if requested is None:
        requested = (os.cpu_count() or 1) if entities >= PARALLEL_MIN_ROWS else 1
    return max(1, requested)


@dataclass(frozen=True)
class Job:
    """What every worker is given once: where to read, which snapshot, the model bundle, the sanction hits and the
    folder of precomputed scores (serving.precomputed) when the model was run elsewhere."""

    settings: Settings
    snapshot_id: str
    folder: Path
    hits: dict[str, Any]
    native: bool
    scores: Path | None = None


def reasoned_batches(settings: Settings, model: Any, snapshot: Any, source: Any, *, rows: int, workers: int,
                     tally: Any, scores: Path | None = None) -> Iterator[pd.DataFrame]:
    """The published rows of every range of ``snapshot``, in uscc order, scored by ``workers`` processes (or, with
    ``scores``, their precomputed scores read from those files); counts go into ``tally``. ``source``
    (serving.publish._RecordSource, its tiers fixed) is exported and closed."""
    from features.snapshot import stored_ranges

    ranges = stored_ranges(source.con, snapshot.snapshot_id, rows)
    spill = settings.warehouse_path.parent / "duckdb-tmp"
    spill.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="publish-", dir=spill) as tmp:
        folder = Path(tmp)
        source.export(folder)
        model.export_local(folder / "model")
        job = Job(settings, snapshot.snapshot_id, folder, source.hits,
                  native=getattr(model, "_native", None) is not None, scores=scores)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                 initargs=(job,)) as pool:
            pending: deque[Future] = deque()
            todo = iter(ranges)
            for low, high in todo:  # two ranges queued per worker: the writer never waits for a start-up
                pending.append(pool.submit(_score_range, low, high, rows))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                table, counts = pending.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.submit(_score_range, *nxt, rows))
                tally.add(counts)
                if table.num_rows:
                    yield table.to_pandas()


class _ParquetRecords:
    """The records and affiliates' tiers exported by the publishing process, read by uscc range (the row groups
    whose statistics overlap it), in the staged order."""

    def __init__(self, folder: Path, hits: dict[str, Any]) -> None:
        self.hits = hits
        self.records_file, self.affiliates_file = (pq.ParquetFile(folder / "records.parquet"),
                                                   pq.ParquetFile(folder / "affiliates.parquet"))

    @staticmethod
    def _read(file: pq.ParquetFile, lo: str, hi: str) -> pa.Table:
        groups = []
        for i in range(file.metadata.num_row_groups):
            stats = file.metadata.row_group(i).column(0).statistics
            if stats is None or not stats.has_min_max or (stats.min <= hi and stats.max >= lo):
                groups.append(i)
        table = file.read_row_groups(groups) if groups else file.schema_arrow.empty_table()
        uscc = table.column("uscc")
        return table.filter(pc.and_(pc.greater_equal(uscc, lo), pc.less_equal(uscc, hi)))

    def records(self, usccs: list[str]) -> tuple[dict[str, dict[str, list]], dict[str, str]]:
        from serving.publish import records_by_entity

        if not usccs:
            return {}, {}
        lo, hi = min(usccs), max(usccs)
        aff = self._read(self.affiliates_file, lo, hi)
        tiers = dict(zip(aff.column("ref").to_pylist(), aff.column("tier").to_pylist(), strict=True))
        return records_by_entity(self._read(self.records_file, lo, hi), set(usccs)), tiers


_worker: tuple[Job, Any, Any, _ParquetRecords] | None = None


def _start(job: Job) -> None:
    """Worker start-up: the model bundle (its C trees from the cache when the publisher built them), a read-only
    warehouse connection and the exported records."""
    global _worker
    from core.settings import apply_offline_env
    from features.warehouse import connect
    from training.model import ScoringModel

    apply_offline_env()
    model = ScoringModel.load_local(job.folder / "model")
    if job.native:
        model.native()
    if job.scores is not None:
        from serving.precomputed import Precomputed

        model = Precomputed(model, job.scores)
    con = connect(job.settings, read_only=True)
    _worker = (job, model, con, _ParquetRecords(job.folder, job.hits))


def _score_range(low: str, high: str | None, rows: int) -> tuple[pa.Table, Any]:
    """The published rows of the snapshot's entities with ``low <= uscc < high`` and their counts."""
    from features.snapshot import stored_batches
    from serving.publish import _active_parts, _Tally, reasoned_batches

    assert _worker is not None, "worker not started"
    job, model, con, records = _worker
    tally = _Tally()
    frames = _active_parts(stored_batches(con, job.snapshot_id, rows, low=low, high=high))
    parts = [pa.Table.from_pandas(r, preserve_index=False)
             for r in reasoned_batches(model, frames, source=records, tally=tally)]
    return (pa.concat_tables(parts, promote_options="default") if parts else pa.table({})), tally
