"""Template normalization: every kept event's prompt as canonical messages."""

from collections import Counter

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from pipeline.core import warehouse
from pipeline.core.config import load_config
from pipeline.core.data_versions import combine_versions, counts_table, partition_fingerprint
from pipeline.core.partitions import daily_partitions, window_days
from pipeline.core.warehouse import WAREHOUSE_POOL
from pipeline.template_normalization.normalize import normalize_day_slices

VERSION_KEYS = {
    "normalized_events": "record_id || prompt_hash || coalesce(edited_hash, '')",
    "normalized_responses": "record_id || cast(position as varchar) || response_hash",
    "normalization_rejections": "record_id || reason",
}


@multi_asset(
    name="template_normalization",
    group_name="template_normalization",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    code_version="normalize-v1",
    specs=[
        AssetSpec(
            "normalized_events",
            deps=[AssetKey("int_feedback__filtered")],
            description=(
                "Every kept event's prompt — rendered in chatml, llama-3, llama-2 [INST], alpaca, HH "
                "(Human/Assistant) or plain text, or given as messages — as canonical messages with a "
                "prompt hash, so the same prompt in two chat formats deduplicates; edits normalized too."
            ),
        ),
        AssetSpec(
            "normalized_responses",
            deps=[AssetKey("int_feedback__filtered"), AssetKey("stg_feedback__responses")],
            description="Responses of the kept events with normalized content and a content hash.",
        ),
        AssetSpec(
            "normalization_rejections",
            deps=[AssetKey("int_feedback__filtered")],
            description="Kept events whose prompt does not parse, with the parser's reason.",
        ),
    ],
)
def template_normalization(context: AssetExecutionContext):
    rows: Counter[str] = Counter()
    templates: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    versions: dict[str, list[str]] = {name: [] for name in VERSION_KEYS}
    pii_policy = load_config()["privacy"]["pii_policy"]
    for day in window_days(context):
        with warehouse.connect() as con:
            with warehouse.partition_replacement(con, day) as write:
                for tables in normalize_day_slices(con, day, pii_policy=pii_policy):
                    for name, table in tables.items():
                        write(name, table)
                        rows[name] += table.num_rows
                    templates.update(tables["normalized_events"].column("template_id").to_pylist())
                    reasons.update(tables["normalization_rejections"].column("reason").to_pylist())
            for name, key in VERSION_KEYS.items():
                versions[name].append(partition_fingerprint(con, name, key, day))
    total = rows["normalized_events"] + rows["normalization_rejections"]
    yield MaterializeResult(
        asset_key="normalized_events",
        data_version=combine_versions(*versions["normalized_events"]),
        metadata={
            "events_in": total,
            "events_normalized": rows["normalized_events"],
            "unknown_template_share": reasons["template_unknown"] / total if total else 0.0,
            "pii_policy": pii_policy,
            "template_mix": MetadataValue.md(counts_table(dict(templates), "template")),
        },
    )
    yield MaterializeResult(
        asset_key="normalized_responses",
        data_version=combine_versions(*versions["normalized_responses"]),
        metadata={"responses": rows["normalized_responses"]},
    )
    yield MaterializeResult(
        asset_key="normalization_rejections",
        data_version=combine_versions(*versions["normalization_rejections"]),
        metadata={
            "events_rejected": rows["normalization_rejections"],
            "rejection_reasons": MetadataValue.md(counts_table(dict(reasons), "reason")),
        },
    )
