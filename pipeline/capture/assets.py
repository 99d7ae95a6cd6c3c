"""Raw feedback capture: a day's landing files in, valid events and quarantine out."""

from __future__ import annotations

import csv

import pyarrow as pa
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipeline import paths, warehouse
from pipeline.lib.capture import capture_day
from pipeline.partitions import daily_partitions
from pipeline.transforms.assets import WAREHOUSE_POOL
from pipeline.metadata import combine_versions, counts_table, table_version

CAPTURE_TABLES = ("raw_feedback_events", "raw_feedback_responses", "raw_quarantine")


@asset(
    group_name="capture",
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
    code_version="capture-v1",
    description=(
        "Reads $PREFLINE_HOME/landing/<day>/ (jsonl, jsonl.gz, parquet, csv), validates every "
        "record against the feedback event contract (schema version 1) and writes the valid "
        "events and their responses to the warehouse; records that break the contract are "
        "quarantined verbatim with file, line and reason."
    ),
)
def raw_feedback_events(context: AssetExecutionContext) -> MaterializeResult:
    day = context.partition_key
    result = capture_day(paths.landing_dir(), day)
    with warehouse.connect() as con:
        warehouse.replace_partition(con, "raw_feedback_events", result.events, day)
        warehouse.replace_partition(con, "raw_feedback_responses", result.responses, day)
        warehouse.replace_partition(con, "raw_quarantine", result.quarantine, day)
    n_events, n_quarantined = result.events.num_rows, result.quarantine.num_rows
    reasons = (
        result.quarantine.group_by("reason").aggregate([("record_id", "count")]).to_pylist()
        if n_quarantined
        else []
    )
    captured = n_events + n_quarantined
    return MaterializeResult(
        data_version=combine_versions(
            table_version(result.events, "record_id || content_hash").value,
            table_version(result.quarantine, "record_id || reason").value,
        ),
        metadata={
            "records_read": captured,
            "events_captured": n_events,
            "records_quarantined": n_quarantined,
            "quarantine_share": n_quarantined / captured if captured else 0.0,
            "files": len(result.files),
            "quarantine_reasons": MetadataValue.md(
                counts_table({r["reason"]: r["record_id_count"] for r in reasons}, "reason")
            ),
        },
    )


DELETIONS_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("requested_at", pa.string()), ("reason", pa.string())]
)


def read_deletion_requests() -> pa.Table:
    """All deletion requests under $PREFLINE_HOME/control/deletions*.csv (user_id, requested_at, reason)."""
    rows: list[dict] = []
    for path in sorted(paths.control_dir().glob("deletions*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("user_id"):
                    rows.append(
                        {
                            "user_id": row["user_id"].strip(),
                            "requested_at": (row.get("requested_at") or "").strip() or None,
                            "reason": (row.get("reason") or "").strip() or None,
                        }
                    )
    rows.sort(key=lambda r: (r["user_id"], r["requested_at"] or ""))
    return pa.Table.from_pylist(rows, schema=DELETIONS_SCHEMA)


@asset(
    group_name="capture",
    pool=WAREHOUSE_POOL,
    code_version="deletions-v1",
    description=(
        "Deletion requests from $PREFLINE_HOME/control/deletions*.csv. Every build excludes "
        "these users' events, whenever they were captured."
    ),
)
def deletion_requests(context: AssetExecutionContext) -> MaterializeResult:
    table = read_deletion_requests()
    with warehouse.connect() as con:
        warehouse.replace_table(con, "deletion_requests", table)
    return MaterializeResult(
        data_version=table_version(table, "user_id || coalesce(requested_at, '')"),
        metadata={"users": len(set(table.column("user_id").to_pylist()))},
    )
