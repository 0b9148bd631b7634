"""A SparkSession for the Spark engine: local mode, a standalone master, YARN or Kubernetes (docs/scale.md).

The master comes from ``master`` or ``CREDIT_RISK_SPARK_MASTER`` (default ``local[2]``); any ``spark.*`` key
can be set in the environment of spark-submit as usual. Two settings are fixed because the engines must agree:
ANSI mode off (DuckDB gives NULL for a division by zero, ANSI Spark raises) and the session time zone UTC
(dates are plain calendar days on both engines).
"""

from __future__ import annotations

import os
import sys

DEFAULT_MASTER = "local[2]"
FIXED = {"spark.sql.ansi.enabled": "false", "spark.sql.session.timeZone": "UTC"}
DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "1g",
    "spark.executor.memory": "1g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # the layout has one small file per source and month: pack many into one read task
    "spark.sql.files.openCostInBytes": "262144",
    "spark.sql.files.maxPartitionBytes": "268435456",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}


def master_of(master: str | None = None) -> str:
    return master or os.environ.get("CREDIT_RISK_SPARK_MASTER") or DEFAULT_MASTER


def session(master: str | None = None, *, app: str = "credit-risk", conf: dict[str, str] | None = None):
    """Get (or create) the SparkSession; executors run this interpreter's Python unless PYSPARK_PYTHON says
    otherwise."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master_of(master)).appName(app)
    for k, v in {**DEFAULTS, **(conf or {}), **FIXED}.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
