"""Raw feedback capture: a day's landing files in, valid events and quarantine out."""

from collections import Counter

from dagster import AssetExecutionContext, AssetSpec, BackfillPolicy, MaterializeResult, MetadataValue, asset, multi_asset

from pipeline.capture.deletions import read_deletion_requests
from pipeline.capture.landing import iter_capture_batches
from pipeline.core import paths, warehouse
from pipeline.core.data_versions import combine_versions, counts_table, partition_fingerprint, table_version
from pipeline.core.partitions import daily_partitions, window_days
from pipeline.core.warehouse import WAREHOUSE_POOL


@multi_asset(
    name="raw_feedback_capture",
    group_name="capture",
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
    backfill_policy=BackfillPolicy.single_run(),
    code_version="capture-v1",
    specs=[
        AssetSpec(
            "raw_feedback_events",
            description=(
                "Reads $PREFLINE_HOME/landing/<day>/ (jsonl, jsonl.gz, parquet, csv) and keeps every "
                "record that meets the feedback event contract (schema version 1), one row per "
                "landing record (file and line)."
            ),
        ),
        AssetSpec("raw_feedback_responses", description="The responses of each captured event, in display order."),
        AssetSpec(
            "raw_quarantine",
            description="Landing records that break the event contract, kept verbatim with file, line and reason.",
        ),
    ],
)
def raw_feedback_capture(context: AssetExecutionContext):
    files: dict[str, int] = {}
    reasons: Counter[str] = Counter()
    n_events = n_responses = n_quarantined = 0
    versions: dict[str, list[str]] = {"events": [], "responses": [], "quarantine": []}
    for day in window_days(context):  # one day, or each day of a backfill range in turn
        # Batches stream into the warehouse as they are parsed, in one transaction per day.
        with warehouse.connect() as con:
            with warehouse.partition_replacement(con, day) as write:
                for batch in iter_capture_batches(paths.landing_dir(), day):
                    write("raw_feedback_events", batch.events)
                    write("raw_feedback_responses", batch.responses)
                    write("raw_quarantine", batch.quarantine)
                    n_events += batch.events.num_rows
                    n_responses += batch.responses.num_rows
                    n_quarantined += batch.quarantine.num_rows
                    files.update({f.file: f.records for f in batch.files})
                    reasons.update(batch.quarantine.column("reason").to_pylist())
            versions["events"].append(partition_fingerprint(con, "raw_feedback_events", "record_id || content_hash", day))
            versions["responses"].append(partition_fingerprint(
                con, "raw_feedback_responses", "record_id || response_id || md5(content)", day))
            versions["quarantine"].append(partition_fingerprint(con, "raw_quarantine", "record_id || reason", day))
    captured = n_events + n_quarantined
    yield MaterializeResult(
        asset_key="raw_feedback_events",
        data_version=combine_versions(*versions["events"]),
        metadata={
            "records_read": captured,
            "events_captured": n_events,
            "files": len(files),
            "files_read": MetadataValue.md(counts_table(files, "file")),
        },
    )
    yield MaterializeResult(
        asset_key="raw_feedback_responses",
        data_version=combine_versions(*versions["responses"]),
        metadata={"responses": n_responses},
    )
    yield MaterializeResult(
        asset_key="raw_quarantine",
        data_version=combine_versions(*versions["quarantine"]),
        metadata={
            "records_quarantined": n_quarantined,
            "quarantine_share": n_quarantined / captured if captured else 0.0,
            "quarantine_reasons": MetadataValue.md(counts_table(dict(reasons), "reason")),
        },
    )


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
    table = read_deletion_requests(paths.control_dir())
    with warehouse.connect() as con:
        warehouse.replace_table(con, "deletion_requests", table)
    return MaterializeResult(
        data_version=table_version(table, "user_id || coalesce(requested_at, '')"),
        metadata={"users": len(set(table.column("user_id").to_pylist()))},
    )
