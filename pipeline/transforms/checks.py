"""GX suites on the dbt models, run as blocking checks next to the dbt tests. Each selects the
columns its suite reads, plus a few derived facts (a decision and its reason agree, a pair's
two sides differ) that GX asserts as boolean columns."""

from pipeline.checks_common import warehouse_suite
from pipeline.partitions import daily_partitions

WINDOW = "partition_date between ?::date and ?::date"

stg_events_suite = warehouse_suite(
    "stg_feedback__events",
    f"select record_id, event_type, annotator_kind, category, policy_version from stg_feedback__events where {WINDOW}",
    daily_partitions,
)
stg_responses_suite = warehouse_suite(
    "stg_feedback__responses",
    f"select record_id, position, content_chars from stg_feedback__responses where {WINDOW}",
    daily_partitions,
)
stg_deletions_suite = warehouse_suite("stg_control__deletions", "select user_id from stg_control__deletions")
filtered_suite = warehouse_suite(
    "int_feedback__filtered",
    f"select record_id, kept, reason, kept = (reason is null) as decision_consistent "
    f"from int_feedback__filtered where {WINDOW}",
    daily_partitions,
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
links_suite = warehouse_suite(
    "int_pairs__links", "select pair_id, record_id, a_hash <> b_hash as sides_differ from int_pairs__links"
)
candidates_suite = warehouse_suite(
    "int_pairs__candidates",
    "select pair_id, split, label_source, n_source_events, "
    "needs_judge = (label_source = 'ai_judge') as judge_rule_consistent from int_pairs__candidates",
)
kto_candidates_suite = warehouse_suite(
    "int_kto__candidates", "select kto_id, desirable, split from int_kto__candidates"
)
outcomes_suite = warehouse_suite(
    "int_pairs__event_outcomes",
    "select record_id, outcome, (outcome <> 'rejected') or reason is not null as rejected_has_reason "
    "from int_pairs__event_outcomes",
)
labeled_suite = warehouse_suite(
    "int_pairs__labeled",
    "select pair_id, label_source, not kept or chosen_hash <> rejected_hash as kept_pair_differs, "
    "reason = 'duplicate_near' or label_source <> 'ai_judge' or judge_id is not null as ai_label_has_judge "
    "from int_pairs__labeled",
)
weighted_suite = warehouse_suite(
    "int_pairs__weighted",
    "select weight, category_weight, split, split = 'train' or category_weight = 1 as test_unweighted "
    "from int_pairs__weighted",
)
pairs_suite = warehouse_suite(
    "fct_preference_pairs",
    "select row_id, weight, split, chosen_hash <> rejected_hash as chosen_differs from fct_preference_pairs",
)
sources_suite = warehouse_suite(
    "fct_preference_pair_sources", "select pair_id, record_id, event_id from fct_preference_pair_sources"
)
kto_suite = warehouse_suite(
    "fct_kto_rows", "select kto_id, desirable, length(completion) as completion_chars from fct_kto_rows"
)
ledger_suite = warehouse_suite("fct_event_outcomes", "select record_id, place, n_places from fct_event_outcomes")
