"""Blocking checks on template normalization: canonical messages are well formed."""

from pipeline.core.checks import warehouse_suite
from pipeline.core.partitions import daily_partitions

normalized_events_suite = warehouse_suite(
    "normalized_events",
    """
    with m as (
        select record_id, prompt_hash, template_id,
               from_json(prompt_messages, '[{"role": "VARCHAR", "content": "VARCHAR"}]') as msgs
        from normalized_events where partition_date between ?::date and ?::date
    )
    select record_id, prompt_hash, template_id,
           msgs[len(msgs)].role as last_role,
           list_bool_and(list_transform(msgs, lambda x: x.role in ('system', 'user', 'assistant'))) as roles_valid,
           list_bool_and(list_transform(msgs, lambda x: length(trim(x.content)) > 0)) as contents_non_empty
    from m
    """,
    daily_partitions,
    description="GX suite: roles valid, no empty turn, the last turn is the user's, hashes well formed.",
)
normalized_responses_suite = warehouse_suite(
    "normalized_responses",
    "select record_id, position, response_hash, content = trim(content) as trimmed "
    "from normalized_responses where partition_date between ?::date and ?::date",
    daily_partitions,
)
normalization_rejections_suite = warehouse_suite(
    "normalization_rejections",
    "select record_id, reason from normalization_rejections where partition_date between ?::date and ?::date",
    daily_partitions,
)
