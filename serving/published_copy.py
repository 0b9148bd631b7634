"""A columnar copy of each publication's (uscc, tier, probability), for the month's comparisons in DuckDB.

The operational DB keeps the published rows (≈ 1 KB each with their reasons). Comparing two publications there —
the migration matrix, the jumpers, the score PSI, the continuity check — reads both publications' index pages,
which at 10M entities lie scattered through a 19 GB SQLite file: ≈ 585 s of random reads on a cold page cache
(bench/README.md, "One machine at scale"). The copy is ≈ 100 MB at 10M: written beside the rows as they are stored,
put in place before the publication completes, and rebuilt from the operational DB when it is missing or does not
hold the publication's row count (a publication from before the copy existed, another machine's home, a restore).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import tiers as core_tiers
from core.settings import Settings
from features.warehouse import limit_memory
from serving.publication_tables import PUBLICATIONS, PUBLISHED_SCORES

SCHEMA = pa.schema([("uscc", pa.string()), ("tier", pa.string()), ("probability", pa.float64())])
_EXPORT_ROWS = 200_000


@dataclass(frozen=True)
class Pair:
    """One entity in two publications: its tier and probability before and now (None where it is absent)."""

    uscc: str
    tier_before: str | None
    tier: str | None
    jump: int
    probability_before: float | None
    probability: float | None


def path(settings: Settings, publication_id: str) -> Path:
    return settings.home / "publications" / f"{publication_id}.parquet"


class Writer:
    """Tees the batches going into ``published_scores`` into the copy; :meth:`commit` puts it in place."""

    def __init__(self, settings: Settings, publication_id: str) -> None:
        self.target = path(settings, publication_id)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.target.with_name(f".{self.target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        self._writer: pq.ParquetWriter | None = None

    def tee(self, batches: Iterable[pd.DataFrame | pa.RecordBatch | pa.Table]) -> Iterator:
        for b in batches:
            self.write(b)
            yield b

    def write(self, batch: pd.DataFrame | pa.RecordBatch | pa.Table) -> None:
        if isinstance(batch, pd.DataFrame):
            table = pa.Table.from_pandas(batch[SCHEMA.names], schema=SCHEMA, preserve_index=False)
        else:
            table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
            table = table.select(SCHEMA.names).cast(SCHEMA)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, SCHEMA)
        self._writer.write_table(table)

    def commit(self) -> Path:
        if self._writer is None:
            pq.write_table(SCHEMA.empty_table(), self._tmp)
        else:
            self._writer.close()
            self._writer = None
        os.replace(self._tmp, self.target)
        return self.target

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)


def ensure(settings: Settings, conn: Connection, publication_id: str) -> Path:
    """The copy of ``publication_id``, rebuilt from ``published_scores`` (in code order, off the covering index)
    when missing or when its row count differs from the publication's ``entity_count`` as ``conn`` sees it."""
    target = path(settings, publication_id)
    expected = conn.execute(sa.select(PUBLICATIONS.c.entity_count).where(
        PUBLICATIONS.c.publication_id == publication_id)).scalar()
    if target.is_file() and expected is not None and pq.ParquetFile(target).metadata.num_rows == expected:
        return target
    s = PUBLISHED_SCORES
    result = conn.execution_options(yield_per=_EXPORT_ROWS).execute(
        sa.select(s.c.uscc, s.c.tier, s.c.probability).where(s.c.publication_id == publication_id)
        .order_by(s.c.uscc))
    writer = Writer(settings, publication_id)
    try:
        for chunk in result.partitions():
            usccs, tiers, probabilities = zip(*chunk, strict=True)
            writer.write(pa.table({"uscc": usccs, "tier": tiers, "probability": probabilities}, schema=SCHEMA))
        return writer.commit()
    except BaseException:
        writer.discard()
        raise


def _compare(settings: Settings, conn: Connection, previous_id: str, current_id: str, select: str,
             params: list) -> list[tuple]:
    """``select`` over the pairs of the two publications' copies (``pairs``: uscc, tier_before, tier,
    probability_before, probability, jump; NULL where an entity is absent), in an in-memory DuckDB."""
    codes = core_tiers.codes()

    def rank(col: str) -> str:
        return f"CASE {col} " + " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(codes)) + " END"

    pairs = (f"SELECT COALESCE(c.uscc, p.uscc) AS uscc, p.tier AS tier_before, c.tier AS tier, "
             f"p.probability AS probability_before, c.probability AS probability, "
             f"COALESCE({rank('c.tier')} - {rank('p.tier')}, 0) AS jump "
             "FROM read_parquet(?) p FULL OUTER JOIN read_parquet(?) c ON p.uscc = c.uscc")
    files = [str(ensure(settings, conn, previous_id)), str(ensure(settings, conn, current_id))]
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        limit_memory(con, settings.home / "duckdb-tmp")
        return con.execute(f"WITH pairs AS ({pairs}) {select}", [*files, *params]).fetchall()
    finally:
        con.close()


def pair_counts(settings: Settings, conn: Connection, *, previous_id: str,
                current_id: str) -> list[tuple[str | None, str | None, int]]:
    """(tier before, tier now, entities) over every entity of either publication (None: absent from it)."""
    rows = _compare(settings, conn, previous_id, current_id, "SELECT tier_before, tier, COUNT(*) FROM pairs GROUP BY ALL",
                    [])
    return [(a, b, int(n)) for a, b, n in rows]


def jumpers(settings: Settings, conn: Connection, *, previous_id: str, current_id: str, jump: int,
            limit: int) -> list[Pair]:
    """Entities of the current publication up ``jump`` tiers or more, or newly in the top tier, highest jump
    first, then highest probability, then code; at most ``limit``."""
    top = core_tiers.codes()[-1]
    rows = _compare(settings, conn, previous_id, current_id,
                    "SELECT uscc, tier_before, tier, jump, probability_before, probability FROM pairs "
                    "WHERE tier IS NOT NULL AND (jump >= ? OR (tier = ? AND (tier_before IS NULL OR tier_before <> ?))) "
                    "ORDER BY jump DESC, probability DESC, uscc LIMIT ?", [jump, top, top, limit])
    return [Pair(u, before, tier, int(j), p_before, p) for u, before, tier, j, p_before, p in rows]


def probabilities(copy: Path) -> pa.Array:
    """The probabilities in a publication's copy (one float per published entity; see :func:`ensure`)."""
    return pq.read_table(copy, columns=["probability"]).column(0).combine_chunks()
