"""Shared shape of prefline's blocking checks: a GX suite result or a gate value against
its threshold, reported the same way in the run log, the UI and the CLI."""


from typing import Any

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from pipeline.lib.gx import run_suite


def suite_check(suite: str, frame: pd.DataFrame) -> AssetCheckResult:
    result = run_suite(suite, frame)
    metadata: dict[str, Any] = {
        "rows": len(frame),
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


def gate_check(gate: str, observed: float, threshold: float, *, upper: bool = True, **extra: Any) -> AssetCheckResult:
    """``observed`` must stay at or below (upper) / at or above the threshold."""
    passed = observed <= threshold if upper else observed >= threshold
    relation = "<=" if upper else ">="
    description = (
        f"{gate}: observed {observed:.4g}, must be {relation} {threshold:.4g}"
        + ("" if passed else " — BLOCKED")
    )
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={"observed": float(observed), "threshold": float(threshold), "summary": description, **extra},
    )


def warehouse_suite(asset: str, sql: str, partitions_def=None, description: str | None = None):
    """A blocking check running expectations/<asset>.json on the rows ``sql`` selects from the
    warehouse (``?`` is the partition key for partitioned assets)."""
    from dagster import AssetCheckExecutionContext, AssetKey, asset_check

    from pipeline import warehouse
    from pipeline.partitions import window_bounds

    @asset_check(
        asset=AssetKey(asset),
        name=f"{asset}_suite",
        blocking=True,
        partitions_def=partitions_def,
        description=description or f"GX suite expectations/{asset}.json on the asset's rows.",
    )
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        # Partitioned suites select "partition_date between ? and ?": one day or a backfill range.
        params = list(window_bounds(context)) if partitions_def is not None else []
        with warehouse.connect(read_only=True) as con:
            frame = con.execute(sql, params).df()
        return suite_check(asset, frame)

    return _check
