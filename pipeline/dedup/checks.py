"""Blocking checks on dedup: near-duplicate clusters, eval-set matches, the incremental content
keys and the exact-duplicate decisions."""

from pipeline.core.checks import warehouse_suite

prompt_clusters_suite = warehouse_suite(
    "prompt_clusters",
    """
    select c.prompt_hash, c.cluster_id, c.similarity,
           c.kept_prompt_hash in (select prompt_hash from prompt_clusters) as kept_is_member
    from prompt_clusters c
    """,
)
prompt_contamination_suite = warehouse_suite(
    "prompt_contamination", "select prompt_hash, benchmark, item_id, matched_text from prompt_contamination"
)

# One row per day: the incremental model is compared with its inputs day by day, so a day
# that should have been recomputed and was not fails here without loading every row.
CANONICAL_PER_DAY_SQL = """
    with expected as (
        select f.record_id, f.partition_date
        from int_feedback__filtered f
        inner join normalized_events n on n.record_id = f.record_id
        where f.kept
    ),
    per_day as (
        select
            coalesce(c.partition_date, x.partition_date) as partition_date,
            count(*) filter (where c.record_id is null) as missing_records,
            count(*) filter (where x.record_id is null) as extra_records,
            count(c.record_id) - count(distinct c.record_id) as repeated_records,
            count(*) filter (where c.record_id is not null and (c.content_key is null or c.prompt_hash is null))
                as missing_keys
        from int_events__canonical c
        full outer join expected x on x.record_id = c.record_id
        group by 1
    )
    select * from per_day order by partition_date
"""
canonical_suite = warehouse_suite("int_events__canonical", CANONICAL_PER_DAY_SQL)
deduped_suite = warehouse_suite(
    "int_events__deduped",
    "select record_id, prompt_hash, reason, kept = (reason is null) as decision_consistent from int_events__deduped",
)
