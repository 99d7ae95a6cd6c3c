{#- Every kept, normalized event with its canonical content key, and the dedup decision:
    deletion requests that arrived after a day was filtered apply first, then eval-set
    contamination of the prompt, then exact duplicates of canonical content (prompt +
    responses + label), which keep the earliest event.
    The rows are narrow (hashes, no texts): a window of millions of events repeats a few
    thousand prompts, and the models that need a text look it up by record or hash. -#}

with kept as (
    select record_id
    from {{ ref('int_feedback__filtered') }}
    where kept
),

events as (
    select e.*
    from {{ ref('stg_feedback__events') }} e
    inner join kept k on k.record_id = e.record_id
),

normalized as (
    select * from {{ source('prefline', 'normalized_events') }}
),

{#- One pass over the responses gives each event its response key and the hashes of the
    preferred and discarded responses. -#}
response_keys as (
    select
        r.record_id,
        {{ dbt.listagg('r.response_hash', "','", 'order by r.position') }} as responses_key,
        count(*) as n_responses,
        max(case when r.response_id = e.label_preferred then r.response_hash end) as preferred_hash,
        max(case when r.response_id = e.label_discarded then r.response_hash end) as discarded_hash
    from {{ source('prefline', 'normalized_responses') }} r
    inner join events e on e.record_id = r.record_id
    group by r.record_id
),
clusters as (
    select prompt_hash, cluster_id from {{ source('prefline', 'prompt_clusters') }}
),

deletions as (
    select user_id from {{ ref('stg_control__deletions') }}
),

contamination as (
    select
        prompt_hash,
        min(benchmark || ':' || item_id || ' matched "' || matched_text || '"') as contamination_detail
    from {{ source('prefline', 'prompt_contamination') }}
    group by prompt_hash
),

canonical as (
    select
        e.record_id,
        e.event_id,
        e.event_type,
        e.created_at,
        e.partition_date,
        e.user_id,
        e.label_preferred,
        e.label_tie,
        e.label_score,
        e.label_thumb,
        e.label_discarded,
        e.annotator_kind,
        e.annotator_id,
        e.annotator_saw_model_draft,
        e.policy_version,
        e.category,
        e.language,
        n.prompt_hash,
        n.template_id,
        n.template_version,
        n.pii_kinds,
        n.edited_hash,
        coalesce(c.cluster_id, n.prompt_hash) as cluster_id,
        rk.responses_key,
        rk.n_responses,
        rk.preferred_hash,
        rk.discarded_hash,
        x.user_id is not null as deleted,
        ct.contamination_detail,
        {{ dbt.hash(
            "e.event_type || '|' || n.prompt_hash || '|' || rk.responses_key"
            " || '|' || coalesce(rk.preferred_hash, '') || '|' || coalesce(cast(e.label_tie as " ~ dbt.type_string() ~ "), '')"
            " || '|' || coalesce(cast(e.label_score as " ~ dbt.type_string() ~ "), '') || '|' || coalesce(e.label_thumb, '')"
            " || '|' || coalesce(n.edited_hash, '') || '|' || coalesce(rk.discarded_hash, '')"
        ) }} as content_key
    from events e
    inner join normalized n on n.record_id = e.record_id
    inner join response_keys rk on rk.record_id = e.record_id
    left join clusters c on c.prompt_hash = n.prompt_hash
    left join deletions x on x.user_id = e.user_id
    left join contamination ct on ct.prompt_hash = n.prompt_hash
),

screened as (
    select
        canonical.*,
        case
            when deleted then 'deletion'
            when contamination_detail is not null then 'eval_contamination'
        end as screen_reason
    from canonical
),

{#- The duplicate ranking runs on narrow rows and joins back, so a million-event window sorts
    keys, not prompts and responses (DuckDB spills a narrow sort within its memory cap). -#}
ranked as (
    select
        record_id,
        row_number() over (
            partition by screen_reason, content_key order by created_at, event_id, record_id
        ) as content_rank,
        first_value(event_id) over (
            partition by screen_reason, content_key order by created_at, event_id, record_id
        ) as kept_event_id
    from (select record_id, screen_reason, content_key, created_at, event_id from screened)
)

select
    s.*,
    r.content_rank,
    r.kept_event_id,
    s.screen_reason is null and r.content_rank = 1 as kept,
    case
        when s.screen_reason is not null then s.screen_reason
        when r.content_rank > 1 then 'duplicate_exact'
    end as reason,
    case
        when s.deleted then 'user ' || s.user_id || ' asked for deletion'
        when s.screen_reason = 'eval_contamination' then s.contamination_detail
        when r.content_rank > 1 then 'same canonical content as event ' || r.kept_event_id
    end as detail
from screened s
inner join ranked r on r.record_id = s.record_id
