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


def _limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_the_environment_bound_wins_over_a_jobs_own_default(settings, monkeypatch):
    from features.warehouse import connect

    reference = duckdb.connect()
    reference.execute("SET memory_limit = '1GB'")
    monkeypatch.delenv("CREDIT_RISK_DUCKDB_MEMORY", raising=False)
    con = connect(settings, memory="1GB")  # ingest's own default (features.ingest.INGEST_MEMORY)
    assert _limit(con) == _limit(reference)
    con.close()
    monkeypatch.setenv("CREDIT_RISK_DUCKDB_MEMORY", "60MB")
    reference.execute("SET memory_limit = '60MB'")
    con = connect(settings, memory="1GB")
    assert _limit(con) == _limit(reference)
    con.close()
