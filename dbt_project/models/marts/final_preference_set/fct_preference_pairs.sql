{#- The candidate preference set: one row per published pair and replica. -#}

with weighted as (
    select * from {{ ref('int_pairs__weighted') }}
)

select
    {{ dbt.hash("pair_id || '|' || cast(replica_index as " ~ dbt.type_string() ~ ")") }} as row_id,
    pair_id,
    replica_index,
    replicas,
    split,
    prompt_messages,
    chosen_content,
    rejected_content,
    chosen_model,
    rejected_model,
    chosen_hash,
    rejected_hash,
    prompt_hash,
    cluster_id,
    label_source,
    pair_rule,
    judge_id,
    judge_version,
    verdict_ab,
    verdict_ba,
    judge_confidence,
    audit_flag,
    weight,
    category_weight,
    category,
    template_id,
    template_version,
    policy_version,
    annotator_kind,
    annotator_saw_model_draft,
    n_source_events,
    partition_date
from weighted
