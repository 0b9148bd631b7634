"""Bulk writes to the operational DB from a stream of Arrow or pandas batches (PostgreSQL: COPY)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

_CHUNK = 5_000


def _frames(batches: Iterable[Any]) -> Iterable[pd.DataFrame]:
    for b in batches:
        if isinstance(b, pd.DataFrame):
            yield b
        elif hasattr(b, "to_pandas"):  # pyarrow RecordBatch / Table
            yield b.to_pandas()
        else:
            yield pd.DataFrame(list(b))


def _records(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    sub = frame[columns].astype(object)
    return [tuple(None if v is None or (isinstance(v, float) and v != v) else v for v in row)
            for row in sub.itertuples(index=False, name=None)]


def write(conn: Connection, table: str, batches: Iterable[Any], columns: list[str]) -> int:
    """Append every batch's ``columns`` to ``table`` inside the caller's transaction; rows written.

    PostgreSQL gets one ``COPY ... FROM STDIN`` over all batches (psycopg 3); other databases an executemany
    insert per chunk.
    """
    n = 0
    quoted = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for frame in _frames(batches):
                for row in _records(frame, columns):
                    copy.write_row(row)
                    n += 1
        return n
    raw = conn.connection.driver_connection
    marks = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in columns)
    cur = raw.cursor()
    try:
        for frame in _frames(batches):
            rows = _records(frame, columns)
            for i in range(0, len(rows), _CHUNK):
                cur.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', rows[i:i + _CHUNK])
            n += len(rows)
    finally:
        cur.close()
    return n
