"""A local Spark session for warehouse.engine: spark, and loading prefline's source tables
into it. The warehouse, Derby metastore and JVM temp files live under one folder (Derby
allows one JVM per metastore and otherwise writes into the working directory)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The tables prefline's Python stages write (dbt's sources, models/staging/_sources.yml).
SOURCE_TABLES = (
    "raw_feedback_events", "raw_feedback_responses", "raw_quarantine", "deletion_requests",
    "normalized_events", "normalized_responses", "normalization_rejections",
    "prompt_clusters", "prompt_contamination", "judge_verdicts",
)


def local_session(root: Path, master: str = "local[2]", schema: str = "prefline"):
    """A Spark session whose state stays under ``root``; dbt-spark's session mode reuses it."""
    from pyspark.sql import SparkSession

    root.mkdir(parents=True, exist_ok=True)
    # The Python stages' jobs import prefline in the workers: run them on this interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    java = f"-Dderby.system.home={root / 'derby'} -Djava.io.tmpdir={root / 'tmp'}"
    (root / "tmp").mkdir(exist_ok=True)
    spark = (
        SparkSession.builder.master(master).appName("prefline")
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config("spark.local.dir", str(root / "tmp"))
        .config("spark.driver.extraJavaOptions", java)
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.session.timeZone", "UTC")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sql(f"create database if not exists {schema}")
    return spark


def load_sources_from_duckdb(spark, duckdb_file: Path, schema: str = "prefline") -> dict[str, int]:
    """Copy the source tables of a DuckDB warehouse into Spark tables (Arrow, batched)."""
    import duckdb

    counts = {}
    con = duckdb.connect(str(duckdb_file), read_only=True)
    try:
        for name in SOURCE_TABLES:
            table = con.sql(f"select * from main.{name}").arrow()
            if hasattr(table, "read_all"):
                table = table.read_all()
            spark.createDataFrame(table).write.mode("overwrite").saveAsTable(f"{schema}.{name}")
            counts[name] = table.num_rows
    finally:
        con.close()
    return counts
