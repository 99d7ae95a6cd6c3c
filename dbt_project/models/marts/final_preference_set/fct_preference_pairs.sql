{#- The candidate preference set: one row per published pair and replica, with its texts
    (the pair's prompt and its two sides, named by content hash). -#}

with weighted as (
    select * from {{ ref('int_pairs__weighted') }}
),

texts as (
    select pair_id, prompt_messages, a_hash, a_content, b_content
    from {{ ref('int_pairs__candidates') }}
    where pair_id in (select pair_id from weighted)
)

select
    {{ dbt.hash("w.pair_id || '|' || cast(w.replica_index as " ~ dbt.type_string() ~ ")") }} as row_id,
    w.pair_id,
    w.replica_index,
    w.replicas,
    w.split,
    t.prompt_messages,
    case when w.chosen_hash = t.a_hash then t.a_content else t.b_content end as chosen_content,
    case when w.chosen_hash = t.a_hash then t.b_content else t.a_content end as rejected_content,
    w.chosen_model,
    w.rejected_model,
    w.chosen_hash,
    w.rejected_hash,
    w.prompt_hash,
    w.cluster_id,
    w.label_source,
    w.pair_rule,
    w.judge_id,
    w.judge_version,
    w.verdict_ab,
    w.verdict_ba,
    w.judge_confidence,
    w.audit_flag,
    w.weight,
    w.category_weight,
    w.category,
    w.template_id,
    w.template_version,
    w.policy_version,
    w.annotator_kind,
    w.annotator_saw_model_draft,
    w.n_source_events,
    w.votes,
    w.agreement,
    w.margin,
    w.label_weight,
    w.partition_date
from weighted w
inner join texts t on t.pair_id = w.pair_id
