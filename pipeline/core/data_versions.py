"""Small helpers that turn stage results into Dagster metadata and data versions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import duckdb
import pyarrow as pa
from dagster import DataVersion

from pipeline.core.hashing import md5_hex


def fingerprint(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """md5 over the ordered rows of a one-column query (each row a string key)."""
    row = con.execute(
        f"select coalesce(md5(string_agg(k, ',' order by k)), '') from ({sql}) as t(k)"
    ).fetchone()
    return row[0]


def partition_fingerprint(con: duckdb.DuckDBPyConnection, table: str, key_expr: str, day: str) -> str:
    """``fingerprint`` of one daily partition of a warehouse table."""
    return fingerprint(con, f"select {key_expr} from {table} where partition_date = "
                            f"'{date.fromisoformat(day).isoformat()}'::date")


def table_version(table: pa.Table, key_expr: str) -> DataVersion:
    """A content hash of an Arrow table, from a SQL expression over its rows that identifies
    each row's content (e.g. ``record_id || content_hash``)."""
    con = duckdb.connect()
    try:
        con.register("t", table)
        return DataVersion(fingerprint(con, f"select {key_expr} from t"))
    finally:
        con.close()


def combine_versions(*parts: str) -> DataVersion:
    return DataVersion(md5_hex("|".join(parts)))


def counts_table(counts: Mapping[str, int], label: str) -> str:
    """A markdown table of counts, largest first — how drops by reason read in the UI."""
    if not counts:
        return "_no rows_"
    lines = [f"| {label} | rows |", "|---|---:|"]
    for key, value in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {key} | {value:,} |")
    return "\n".join(lines)
