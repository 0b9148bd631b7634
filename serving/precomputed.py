"""Scores computed elsewhere (``--engine spark``: in the executors), read by a publication one batch at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from core.errors import UserError

COLUMNS = ("uscc", "probability", "tier", "reasons")


class Precomputed:
    """The champion answering with scores computed elsewhere by the same ``model.score``, each batch in its own
    row order: ``scores`` is a folder of Parquet files of (uscc, probability, tier, reasons JSON) in uscc order
    (training.spark_scoring.write); each batch's scores are read from it in DuckDB by their codes, so memory is a
    batch, not the district. An active entity without a score, or a code scored twice, is an error."""

    def __init__(self, model: Any, scores: Path) -> None:
        self._model = model
        self._con = duckdb.connect()
        self._con.execute("SET enable_progress_bar = false")
        if any(Path(scores).glob("*.parquet")):
            files = str(Path(scores) / "*.parquet").replace("'", "''")
            self._con.execute(f"CREATE VIEW _scores AS SELECT {', '.join(COLUMNS)} "
                              f"FROM read_parquet('{files}', hive_partitioning = false)")
        else:  # no scored rows
            self._con.execute("CREATE VIEW _scores AS SELECT NULL::VARCHAR AS uscc, NULL::DOUBLE AS probability, "
                              "NULL::VARCHAR AS tier, NULL::VARCHAR AS reasons WHERE false")
        self.rows = int(self._con.execute("SELECT COUNT(*) FROM _scores").fetchall()[0][0])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def score(self, frame: pd.DataFrame, reasons: bool = True) -> pd.DataFrame:
        keys = frame["uscc"].astype(str)
        got = read(self._con, keys, reasons=reasons)
        got = got.set_index(got["uscc"])
        if not got.index.is_unique:
            raise UserError("expected one precomputed score per entity, got duplicated credit codes")
        missing = ~keys.isin(got.index)
        if missing.any():
            raise UserError(f"expected a precomputed score for every active entity, {int(missing.sum()):,} have none")
        out = got.loc[keys.to_numpy()].reset_index(drop=True)
        if reasons:
            out["reasons"] = [json.loads(r) for r in out["reasons"]]
        return out

    def close(self) -> None:
        self._con.close()


def read(con: duckdb.DuckDBPyConnection, keys: pd.Series, *, reasons: bool) -> pd.DataFrame:
    """The stored scores of these codes (one batch): the range from the least to the greatest, which the row
    groups' statistics of files in uscc order narrow to the batch's own, then the codes themselves."""
    cols = ", ".join(COLUMNS if reasons else COLUMNS[:3])
    if not len(keys):
        return con.execute(f"SELECT {cols} FROM _scores WHERE false").df()
    con.register("_keys", pa.table({"uscc": pa.array(keys.to_numpy(), pa.string())}))
    try:
        return con.execute(f"SELECT {cols} FROM _scores WHERE uscc BETWEEN ? AND ? "
                           "AND uscc IN (SELECT uscc FROM _keys)", [keys.min(), keys.max()]).df()
    finally:
        con.unregister("_keys")
