{#- Human pairs pass through with their label; pairs nobody labeled take the judge's
    verdict when it is consistent in both orders, and are dropped with the judge's reason
    otherwise. An AI label is always marked ai_judge with its judge id. Pairs over their
    near-duplicate cluster's cap are dropped as duplicate_near (and never sent to the judge).
    Sides are named by content hash; the published pairs take their texts at
    fct_preference_pairs. -#}

with candidates as (
    select * from {{ ref('int_pairs__candidates') }}
),

verdicts as (
    select * from {{ ref('stg_judge__verdicts') }}
),

{#- Trainer readiness (pair construction's pair_token_counts): a pair TRL would drop or train
    on for nothing is ledgered, not published. -#}
tokens as (
    select * from {{ ref('stg_pairs__token_counts') }}
),

labeled as (
    select
        c.*,
        v.judge_id,
        v.judge_version,
        v.verdict_ab,
        v.verdict_ba,
        v.winner as judge_winner,
        v.confidence as judge_confidence,
        v.audit_flag,
        t.prompt_tokens,
        t.budget as token_budget,
        t.counted_by as tokens_counted_by,
        case
            when not c.needs_judge then 'a'
            when v.winner in ('a', 'b') then v.winner
        end as chosen_side,
        case
            when c.superseded_by_rule is not null then 'comparison_superseded'
            when c.capped then 'duplicate_near'
            when c.pair_rule = 'pairwise_preferred' and c.margin = 0 then 'annotators_disagree'
            when t.reason is not null then t.reason
            when not c.needs_judge then null
            when v.pair_id is null then 'judge_missing'
            when v.winner = 'tie' then 'judge_tie'
            when v.winner is null then coalesce(v.reason, 'judge_inconsistent')
        end as reason
    from candidates c
    left join verdicts v on v.pair_id = c.pair_id
    left join tokens t on t.pair_id = c.pair_id
)

select
    pair_id,
    pair_rule,
    label_source,
    needs_judge,
    prompt_hash,
    cluster_id,
    case when chosen_side = 'b' then b_hash else a_hash end as chosen_hash,
    case when chosen_side = 'b' then b_model else a_model end as chosen_model,
    case when chosen_side = 'b' then a_hash else b_hash end as rejected_hash,
    case when chosen_side = 'b' then a_model else b_model end as rejected_model,
    category,
    template_id,
    template_version,
    policy_version,
    annotator_kind,
    annotator_saw_model_draft,
    n_source_events,
    votes,
    majority_votes,
    agreement,
    margin,
    superseded_by_rule,
    superseded_by_pair_id,
    label_weight,
    partition_date,
    split,
    rank_in_cluster,
    pairs_in_cluster,
    judge_id,
    judge_version,
    verdict_ab,
    verdict_ba,
    judge_confidence,
    audit_flag,
    reason is null as kept,
    reason,
    case
        when reason = 'duplicate_near' then 'near-duplicate cluster ' || cluster_id || ' has ' || cast(pairs_in_cluster as {{ dbt.type_string() }})
            || ' pairs; this one ranks ' || cast(rank_in_cluster as {{ dbt.type_string() }}) || ' over the cap of {{ var('max_pairs_per_cluster') }}'
        when reason = 'annotators_disagree' then cast(votes as {{ dbt.type_string() }}) || ' votes split '
            || cast(majority_votes as {{ dbt.type_string() }}) || '/' || cast(votes - majority_votes as {{ dbt.type_string() }})
            || ' between the two responses: no majority'
        when reason = 'comparison_superseded' then 'the same two responses are decided by the '
            || superseded_by_rule || ' pair ' || superseded_by_pair_id
        when reason = 'prompt_exceeds_max_length' then 'prompt of ' || cast(prompt_tokens as {{ dbt.type_string() }})
            || ' tokens (' || tokens_counted_by || ') fill trainer.max_length'
        when reason = 'identical_within_max_length' then 'chosen and rejected are identical in the first '
            || cast(token_budget as {{ dbt.type_string() }}) || ' response tokens (' || tokens_counted_by
            || ') that fit trainer.max_length'
        when reason = 'judge_missing' then 'no verdict recorded for this pair'
        when reason is not null then 'judge ' || coalesce(judge_id, '?') || ': ' || coalesce(verdict_ab, 'none') || ' / ' || coalesce(verdict_ba, 'none')
    end as detail
from labeled
