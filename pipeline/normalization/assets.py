"""Template normalization: every kept event's prompt as canonical messages."""


from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from pipeline import warehouse
from pipeline.lib.normalize import normalize_prompts
from pipeline.metadata import combine_versions, counts_table, fingerprint, table_version
from pipeline.partitions import daily_partitions
from pipeline.transforms.assets import WAREHOUSE_POOL

BATCH_ROWS = 50_000

# Responses and edits are normalized in SQL (columnar): CRLF folded, ends trimmed, md5'd.
_CLEAN = "regexp_replace(replace({col}, chr(13) || chr(10), chr(10)), '^\\s+|\\s+$', '', 'g')"

KEPT_EVENTS_SQL = """
    select e.record_id, e.event_id, e.partition_date, e.prompt_json, e.label_edited_content
    from stg_feedback__events e
    join int_feedback__filtered f on f.record_id = e.record_id
    where f.kept and e.partition_date = ?::date and f.partition_date = ?::date
"""


@multi_asset(
    name="template_normalization",
    group_name="template_normalization",
    partitions_def=daily_partitions,
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
    day = context.partition_key
    with warehouse.connect() as con:
        reader = con.execute(
            f"select record_id, prompt_json from ({KEPT_EVENTS_SQL}) order by record_id", [day, day]
        ).to_arrow_reader(BATCH_ROWS)
        parsed, rejected = normalize_prompts(reader)
        con.register("parsed", parsed)
        con.register("rejected", rejected)
        normalized = con.execute(
            f"""
            select k.record_id, k.event_id, k.partition_date, p.prompt_messages, p.prompt_text,
                   p.prompt_hash, p.template_id, p.template_version,
                   {_CLEAN.format(col='k.label_edited_content')} as edited_content,
                   md5({_CLEAN.format(col='k.label_edited_content')}) as edited_hash
            from ({KEPT_EVENTS_SQL}) k join parsed p on p.record_id = k.record_id
            order by k.record_id
            """,
            [day, day],
        ).to_arrow_table()
        responses = con.execute(
            f"""
            select r.record_id, r.partition_date, r.position, r.response_id,
                   {_CLEAN.format(col='r.content')} as content,
                   md5({_CLEAN.format(col='r.content')}) as response_hash,
                   r.model
            from raw_feedback_responses r
            join parsed p on p.record_id = r.record_id
            where r.partition_date = ?::date
            order by r.record_id, r.position
            """,
            [day],
        ).to_arrow_table()
        rejections = con.execute(
            f"""
            select x.record_id, k.event_id, k.partition_date, x.reason, x.detail
            from rejected x join ({KEPT_EVENTS_SQL}) k on k.record_id = x.record_id
            order by x.record_id
            """,
            [day, day],
        ).to_arrow_table()
        warehouse.replace_partition(con, "normalized_events", normalized, day)
        warehouse.replace_partition(con, "normalized_responses", responses, day)
        warehouse.replace_partition(con, "normalization_rejections", rejections, day)
        version = combine_versions(
            fingerprint(con, "select record_id || prompt_hash from parsed"),
            fingerprint(con, "select record_id || reason from rejected"),
        )
    responses_version = table_version(responses, "record_id || cast(position as varchar) || response_hash")
    templates = normalized.group_by("template_id").aggregate([("record_id", "count")]).to_pylist()
    reasons = rejections.group_by("reason").aggregate([("record_id", "count")]).to_pylist()
    total = normalized.num_rows + rejections.num_rows
    yield MaterializeResult(asset_key="normalized_responses", data_version=responses_version,
                            metadata={"responses": responses.num_rows})
    yield MaterializeResult(
        asset_key="normalization_rejections",
        data_version=table_version(rejections, "record_id || reason"),
        metadata={
            "events_rejected": rejections.num_rows,
            "rejection_reasons": MetadataValue.md(
                counts_table({r["reason"]: r["record_id_count"] for r in reasons}, "reason")
            ),
        },
    )
    yield MaterializeResult(
        asset_key="normalized_events",
        data_version=version,
        metadata={
            "events_in": total,
            "events_normalized": normalized.num_rows,
            "unknown_template_share": (
                sum(r["record_id_count"] for r in reasons if r["reason"] == "template_unknown") / total
                if total
                else 0.0
            ),
            "template_mix": MetadataValue.md(
                counts_table({r["template_id"]: r["record_id_count"] for r in templates}, "template")
            ),
        },
    )
