"""The Spark engine: the same feature declaration (features/sql, transpiled at run time) over the Parquet layout.

- :mod:`features.spark.parquet` — the warehouse as Parquet partitioned by source and month, read by both engines.
- :mod:`features.spark.session` — a SparkSession for local mode, a standalone master, YARN or Kubernetes.
- :mod:`features.spark.snapshot` — the point-in-time snapshot on Spark (sqlglot, DuckDB → Spark SQL).
"""
