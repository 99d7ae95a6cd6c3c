"""Shared shape of prefline's blocking checks: a GX suite result or a gate value against
its threshold, reported the same way in the run log, the UI and the CLI."""


import shutil
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb
import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from pipeline.core import paths
from pipeline.core.gates import GateResult
from pipeline.core.gx import SuiteResult, chunkable, load_suite, run_suite, unique_keys
from pipeline.core.sql_suite import verdict as sql_verdict

# A suite reads a table this many rows at a time: a window of millions of rows never sits in
# pandas at once (a 3M-row window table is 6 chunks of a few tens of MB).
SUITE_CHUNK_ROWS = 500_000


class WarehouseRows:
    """The rows a suite checks, as SQL over the warehouse: iterating gives them as pandas
    frames in bounded chunks (for GX), and `suite_check` first lets DuckDB decide the suite on
    them without leaving the warehouse (pipeline/core/sql_suite.py)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str, params_list: list[list], suite: str,
                 chunk_rows: int = SUITE_CHUNK_ROWS) -> None:
        self.con, self.sql, self.params_list, self.suite, self.chunk_rows = con, sql, params_list, suite, chunk_rows

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for params in self.params_list:
            yield from _frames(self.con, self.sql, params, self.suite, self.chunk_rows)

    def verdict(self) -> tuple[bool, int] | None:
        """(every expectation met on every unit, rows) as DuckDB decides it, or None."""
        spec, rows = load_suite(self.suite), 0
        for params in self.params_list:
            decided = sql_verdict(self.con, spec, self.sql, params)
            if decided is None or not decided[0]:
                return None if decided is None else (False, rows + decided[1])
            rows += decided[1]
        return True, rows


def _frames(con: duckdb.DuckDBPyConnection, sql: str, params: list, suite: str, chunk_rows: int
            ) -> Iterator[pd.DataFrame]:
    total = con.execute(f"select count(*) from ({sql})", params).fetchall()[0][0]
    chunks = -(-total // chunk_rows)
    spec = load_suite(suite)
    keys = {tuple(k) for k in unique_keys(spec)}
    if chunks <= 1 or len(keys) > 1 or not chunkable(spec):
        yield con.execute(sql, params).df()
        return
    bucket = f"hash({', '.join(next(iter(keys)))})" if keys else "hash(t)"
    for chunk in range(chunks):
        yield con.execute(f"select * from ({sql}) t where {bucket} % {chunks} = {chunk}", params).df()


def warehouse_frames(
    con: duckdb.DuckDBPyConnection, sql: str, params: list, suite: str, chunk_rows: int = SUITE_CHUNK_ROWS
) -> WarehouseRows:
    """The rows ``sql`` selects, in chunks of about ``chunk_rows``. Rows go to a chunk by a hash
    of the suite's unique key (of the whole row when it has none), so a repeated key always
    meets its twin in one chunk and the suite's uniqueness expectations hold table-wide. A suite
    that judges the table as a whole (or by two different unique keys) gets it in one frame."""
    return WarehouseRows(con, sql, [params], suite, chunk_rows)


def day_frames(
    con: duckdb.DuckDBPyConnection, sql: str, days: list[str], suite: str, chunk_rows: int = SUITE_CHUNK_ROWS
) -> WarehouseRows:
    """A partitioned suite's rows day by day (``sql`` selects "partition_date between ? and ?"):
    a backfill of many days is checked as that many daily runs would check it, `mostly`
    thresholds included, and holds one day in pandas at a time."""
    return WarehouseRows(con, sql, [[day, day] for day in days], suite, chunk_rows)


def decide_suite(suite: str, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> SuiteResult:
    """The suite's result: decided by DuckDB when the rows are in the warehouse and DuckDB finds
    every expectation met; otherwise (a violation, a rule DuckDB does not translate, rows
    already in pandas) by GX, which reports counts and samples and writes the Data Docs."""
    if isinstance(frames, WarehouseRows):
        decided = frames.verdict()
        if decided is not None and decided[0]:
            spec = load_suite(suite)
            shutil.rmtree(paths.gx_docs_dir() / suite, ignore_errors=True)  # stale docs of an earlier failure
            return SuiteResult(spec["name"], True, len(spec["expectations"]), rows=decided[1], chunks=0,
                               engine="duckdb")
    return run_suite(suite, frames)


def suite_check(suite: str, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> AssetCheckResult:
    return suite_result(decide_suite(suite, frames))


def suite_result(result: SuiteResult) -> AssetCheckResult:
    """A GX suite's result as a check result."""
    metadata: dict[str, Any] = {
        "rows": result.rows,
        "chunks": result.chunks,
        "decided_by": result.engine,
        "expectations": result.evaluated,
        "failed": len(result.failed),
        "summary": result.summary(),
    }
    if result.failed:
        metadata["failures"] = MetadataValue.json(result.failed)
    if result.docs_path:
        metadata["gx_validation"] = MetadataValue.path(result.docs_path)
    return AssetCheckResult(
        passed=result.success,
        severity=AssetCheckSeverity.ERROR,
        description=result.summary(),
        metadata=metadata,
    )


def gate_result(gate: GateResult, **target: Any) -> AssetCheckResult:
    """A gate as a check result: the one rendering of a gate for the run log, the UI, the CLI
    and the manifest (``target``: check_name / asset_key, for multi-checks)."""
    metadata: dict[str, Any] = gate.metadata()
    for key, value in gate.extra.items():
        metadata[key] = MetadataValue.json(value)
    return AssetCheckResult(
        passed=gate.passed,
        severity=AssetCheckSeverity.ERROR,
        description=gate.summary(),
        metadata=metadata,
        **target,
    )


def warehouse_suite(asset: str, sql: str, partitions_def=None, description: str | None = None):
    """A blocking check running <stage>/expectations/<asset>.json on the rows ``sql`` selects from the
    warehouse (``?`` is the partition key for partitioned assets)."""
    from dagster import AssetCheckExecutionContext, AssetKey, asset_check

    from pipeline.core import warehouse
    from pipeline.core.partitions import window_days

    @asset_check(
        asset=AssetKey(asset),
        name=f"{asset}_suite",
        blocking=True,
        partitions_def=partitions_def,
        description=description or f"GX suite {asset}.json (in its stage's expectations/ folder) on the asset's rows.",
    )
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        # Partitioned suites select "partition_date between ? and ?": one day, or each day of a
        # backfill range in turn.
        with warehouse.connect(read_only=True) as con:
            if partitions_def is not None:
                return suite_check(asset, day_frames(con, sql, window_days(context), asset))
            return suite_check(asset, warehouse_frames(con, sql, [], asset))

    return _check
