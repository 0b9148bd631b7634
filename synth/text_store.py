"""Text columns of the population, held in memory or in Arrow files read a batch at a time, and exact
membership tests on them that keep no Python string per value."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

TEXT = pa.large_string()  # names and addresses of a large district pass 2 GiB
SPILL_ROWS = 65_536  # rows per batch of a text column in a file
HASH_ROWS = 500_000  # values hashed as Python strings at a time


class TextColumn:
    """One text value per entity: an Arrow array in memory or an Arrow file (``spill``, ``written``) read a batch
    of ``SPILL_ROWS`` at a time (a chunk of the district reads only the batches of its own rows)."""

    def __init__(self, values: pa.Array | pa.ChunkedArray) -> None:
        self._values: pa.Array | pa.ChunkedArray | None = values
        self._path: Path | None = None
        self.n, self.type = len(values), values.type

    def __len__(self) -> int:
        return self.n

    @classmethod
    def written(cls, parts: Iterable[pa.Array], path: Path | None) -> TextColumn:
        """The column of the values ``parts`` in turn, each written to ``path`` as it comes (kept in memory when
        ``path`` is None)."""
        if path is None:
            return cls(pa.chunked_array(list(parts), type=TEXT))
        column = cls(pa.array([], type=TEXT))
        with _BatchWriter(path) as writer:
            for part in parts:
                writer.add(part)
        column._values, column._path, column.n = None, path, writer.rows
        return column

    def spill(self, path: Path) -> None:
        """Move the values to the Arrow file ``path``; the memory they held is freed."""
        if self._values is None:
            return
        with _BatchWriter(path, self.type) as writer:
            for lo in range(0, self.n, SPILL_ROWS):
                writer.add(self._values.slice(lo, SPILL_ROWS))
        self._values, self._path = None, path

    def _batches(self, numbers: np.ndarray) -> pa.Array:
        with pa.OSFile(str(self._path)) as source:
            reader = pa.ipc.open_file(source)
            return pa.concat_arrays([reader.get_batch(int(b)).column(0) for b in numbers])

    def slice(self, lo: int, hi: int) -> pa.Array | pa.ChunkedArray:
        """Values ``lo`` .. ``hi`` (exclusive)."""
        if self._values is not None:
            return self._values.slice(lo, hi - lo)
        if hi <= lo:
            return pa.array([], type=self.type)
        first, last = lo // SPILL_ROWS, (hi - 1) // SPILL_ROWS
        return self._batches(np.arange(first, last + 1)).slice(lo - first * SPILL_ROWS, hi - lo)

    def take(self, index: np.ndarray) -> pa.Array | pa.ChunkedArray:
        """Values at ``index`` (read from disk: only the batches holding them)."""
        index = np.asarray(index, dtype=np.int64)
        if self._values is not None:
            return self._values.take(pa.array(index))
        if not len(index):
            return pa.array([], type=self.type)
        batch = index // SPILL_ROWS
        numbers = np.unique(batch)
        return self._batches(numbers).take(pa.array(np.searchsorted(numbers, batch) * SPILL_ROWS
                                                    + index % SPILL_ROWS))


class _BatchWriter:
    """Writes text values to an Arrow file in batches of exactly ``SPILL_ROWS`` (the last one shorter)."""

    def __init__(self, path: Path, typ: pa.DataType = TEXT) -> None:
        self.schema = pa.schema([("text", typ)])
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_file(self.sink, self.schema)
        self.pending: pa.Array = pa.array([], type=typ)
        self.rows = 0

    def __enter__(self) -> _BatchWriter:
        return self

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        self.rows += len(values)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        pending = pa.concat_arrays([self.pending, values]) if len(self.pending) else values
        done = len(pending) // SPILL_ROWS * SPILL_ROWS
        for lo in range(0, done, SPILL_ROWS):
            self.writer.write_batch(pa.record_batch([pending.slice(lo, SPILL_ROWS)], schema=self.schema))
        self.pending = pending.slice(done)

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None and (len(self.pending) or not self.rows):
                self.writer.write_batch(pa.record_batch([self.pending], schema=self.schema))
            self.writer.close()
        finally:
            self.sink.close()


class NameSet:
    """Membership of a text column (``in``), exact, without a Python string per value: sorted hashes of the
    values, each hit checked against the value itself."""

    def __init__(self, values: TextColumn) -> None:
        self.values = values
        hashes = np.empty(len(values), dtype=np.int64)
        for lo in range(0, len(values), HASH_ROWS):
            hi = min(lo + HASH_ROWS, len(values))
            hashes[lo:hi] = np.fromiter(map(hash, values.slice(lo, hi).to_pylist()), np.int64)
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.order = order.astype(np.int32 if len(values) < 2**31 else np.int64)

    def __contains__(self, text: object) -> bool:
        h = hash(text)
        i = int(np.searchsorted(self.hashes, h))
        while i < len(self.hashes) and self.hashes[i] == h:
            if self.values.take([int(self.order[i])])[0].as_py() == text:
                return True
            i += 1
        return False
