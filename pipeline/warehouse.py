"""Short-lived DuckDB connections to the embedded warehouse.

DuckDB allows one writer process per file and any open connection blocks dbt's writer,
so nothing here holds a connection beyond the `with` block that needs it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import duckdb
import pyarrow as pa

from pipeline import paths
from pipeline.config import load_config


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


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


def replace_partition(
    con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, partition_value: str
) -> int:
    """Make ``data`` the whole content of ``table`` for ``partition_date = partition_value``.

    Delete-then-insert in one transaction, so a re-run of a day replaces it and a crash
    leaves the previous content.
    """
    con.register("_incoming", data)
    try:
        con.execute("begin")
        con.execute(f"create table if not exists {table} as select * from _incoming limit 0")
        con.execute(f"delete from {table} where partition_date = ?::date", [partition_value])
        con.execute(f"insert into {table} by name select * from _incoming")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_incoming")
    return data.num_rows


@contextmanager
def partition_replacement(con: duckdb.DuckDBPyConnection, partition_value: str):
    """Replace tables' rows of one partition batch by batch, in one transaction: yields
    ``write(table, batch)``; the first write to a table deletes its old partition, and a
    crash leaves the previous content. A day is never held whole in memory."""
    cleared: set[str] = set()

    def write(table: str, data: pa.Table) -> None:
        con.register("_incoming", data)
        try:
            con.execute(f"create table if not exists {table} as select * from _incoming limit 0")
            if table not in cleared:
                con.execute(f"delete from {table} where partition_date = ?::date", [partition_value])
                cleared.add(table)
            con.execute(f"insert into {table} by name select * from _incoming")
        finally:
            con.unregister("_incoming")

    con.execute("begin")
    try:
        yield write
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def replace_table(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> int:
    con.register("_incoming", data)
    try:
        con.execute(f"create or replace table {table} as select * from _incoming")
    finally:
        con.unregister("_incoming")
    return data.num_rows
