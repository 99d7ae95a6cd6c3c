"""Short-lived DuckDB connections to the embedded warehouse.

DuckDB allows one writer process per file and any open connection blocks dbt's writer,
so nothing here holds a connection beyond the `with` block that needs it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core import paths
from pipeline.core.config import load_config

# Every step that opens the warehouse takes a slot of this Dagster pool (one slot: one writer).
WAREHOUSE_POOL = "warehouse"


@contextmanager
def connect(read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = paths.warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run a build first")
    settings = load_config()["warehouse"]
    tmp = paths.home() / "tmp" / "duckdb"
    tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(path),
        read_only=read_only,
        config={
            "memory_limit": str(settings["memory_limit"]),
            "threads": int(settings["threads"]),
            "temp_directory": str(tmp),
            "preserve_insertion_order": False,
        },
    )
    try:
        yield con
    finally:
        con.close()


@contextmanager
def partition_replacement(con: duckdb.DuckDBPyConnection, partition_value: str):
    """Replace tables' rows of one partition batch by batch: yields ``write(table, batch)``.
    Batches are staged as Parquet files as they come; then one transaction swaps each
    table's partition for its staged rows, read back by DuckDB as one insert. A crash leaves
    the previous content, and a day is never held whole in memory: DuckDB keeps a
    transaction's appended rows in memory until it commits (a million-event day's batches
    appended in one transaction peaked at twice the memory), and committing each batch to a
    staging table pays the write-ahead log for every text twice."""
    stage_root = paths.home() / "tmp" / "partition-stage"
    shutil.rmtree(stage_root, ignore_errors=True)
    staged: dict[str, list[Path]] = {}

    def write(table: str, data: pa.Table) -> None:
        files = staged.get(table)
        if files is None:
            files = staged[table] = []
            con.register("_incoming", data)
            try:
                con.execute(f"create table if not exists {table} as select * from _incoming limit 0")
            finally:
                con.unregister("_incoming")
        path = stage_root / table / f"{len(files):06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path, compression="lz4")
        files.append(path)

    try:
        yield write
        con.execute("begin")
        try:
            for table, files in staged.items():
                con.execute(f"delete from {table} where partition_date = ?::date", [partition_value])
                con.execute(f"insert into {table} by name select * from read_parquet(?)", [[str(f) for f in files]])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        shutil.rmtree(stage_root, ignore_errors=True)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> int:
    con.register("_incoming", data)
    try:
        con.execute(f"create or replace table {table} as select * from _incoming")
    finally:
        con.unregister("_incoming")
    return data.num_rows
