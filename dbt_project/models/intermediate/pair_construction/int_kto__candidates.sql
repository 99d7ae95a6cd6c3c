{#- Unpaired thumbs and clear-cut unpaired ratings become KTO rows (prompt, completion,
    desirable or not). Texts join in at fct_kto_rows. -#}

with events as (
    select * from {{ ref('int_events__deduped') }}
    where kept and event_type in ('rating', 'thumbs')
),

paired as (
    select distinct record_id from {{ ref('int_pairs__links') }}
),

first_response as (
    select record_id, content = '' as is_empty, response_hash, model
    from {{ ref('stg_normalization__responses') }}
    where position = 0
),

labeled as (
    select
        e.*,
        r.response_hash as completion_hash,
        r.model as completion_model,
        case
            when e.event_type = 'thumbs' then e.label_thumb = 'up'
            when e.label_score >= {{ var('kto_desirable_min_score') }} then true
            when e.label_score <= {{ var('kto_undesirable_max_score') }} then false
        end as desirable
    from events e
    inner join first_response r on r.record_id = e.record_id
    where e.record_id not in (select record_id from paired)
      and not r.is_empty
)

select
    {{ dbt.hash("'kto|' || record_id") }} as kto_id,
    record_id,
    event_id,
    prompt_hash,
    cluster_id,
    completion_hash,
    completion_model,
    desirable,
    case when annotator_kind = 'ai' then 'ai_annotator' else 'human_' || event_type end as label_source,
    category,
    template_id,
    policy_version,
    {{ split_of('cluster_id') }} as split
from labeled
where desirable is not null
