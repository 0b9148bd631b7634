"""The warehouse's memory bound: a second connection in the same process after the first has spilled to disk."""

from __future__ import annotations

import duckdb

from features.warehouse import limit_memory


def test_a_second_connection_after_a_spill_keeps_the_spill_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDIT_RISK_DUCKDB_MEMORY", "60MB")
    path, spill = tmp_path / "warehouse.duckdb", tmp_path / "duckdb-tmp"
    first = duckdb.connect(str(path))
    limit_memory(first, spill)
    first.execute("SET threads = 1")
    # more than the limit: DuckDB writes the temporary table's blocks to the spill directory
    first.execute("CREATE TEMP TABLE big AS SELECT range AS i, md5(CAST(range AS VARCHAR)) AS s FROM range(2000000)")
    assert any(spill.iterdir())
    second = duckdb.connect(str(path))  # the same database instance: its settings are shared
    limit_memory(second, spill)  # setting the used directory again was refused ("Cannot switch temporary directory")
    assert second.execute("SELECT current_setting('temp_directory')").fetchall() == [(str(spill),)]
    limit_memory(first, spill)  # and the connection reads on at once (no result left unfinished)
    assert first.sql("SELECT COUNT(*) AS n FROM big").to_arrow_reader(10).read_all().column("n").to_pylist() == [2_000_000]
    second.close()
    first.close()
