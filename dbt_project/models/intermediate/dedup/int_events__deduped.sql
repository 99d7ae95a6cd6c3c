{#- Every kept, normalized event with its canonical content key, and the dedup decision:
    deletion requests that arrived after a day was filtered apply first, then eval-set
    contamination of the prompt, then exact duplicates of canonical content (prompt +
    responses + label), which keep the earliest event.
    Each event's content key comes from int_events__canonical, kept up to date day by day.
    The rows are narrow (hashes, no texts): a window of millions of events repeats a few
    thousand prompts, and the models that need a text look it up by record or hash. -#}

with canonical_events as (
    select * from {{ ref('int_events__canonical') }}
),

clusters as (
    select prompt_hash, cluster_id from {{ ref('stg_dedup__prompt_clusters') }}
),

deletions as (
    select user_id from {{ ref('stg_control__deletions') }}
),

contamination as (
    select
        prompt_hash,
        min(benchmark || ':' || item_id || ' matched "' || matched_text || '"') as contamination_detail
    from {{ ref('stg_dedup__prompt_contamination') }}
    group by prompt_hash
),

canonical as (
    select
        {{ star_except('e', ["partition_signature", "computed_in_invocation"]) }},
        coalesce(c.cluster_id, e.prompt_hash) as cluster_id,
        x.user_id is not null as deleted,
        ct.contamination_detail
    from canonical_events e
    left join clusters c on c.prompt_hash = e.prompt_hash
    left join deletions x on x.user_id = e.user_id
    left join contamination ct on ct.prompt_hash = e.prompt_hash
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

{#- The duplicate ranking sorts only the five columns it needs and joins back, so a window of
    millions of events sorts keys, not whole rows (DuckDB spills a narrow sort within its
    memory cap). -#}
{#- A pairwise preference is a vote: the same preference from another annotator (or user)
    corroborates the comparison and is aggregated at pair construction, so only a repeat by
    the same voter is a duplicate. -#}
ranked as (
    select
        record_id,
        row_number() over (
            partition by screen_reason, content_key, voter order by created_at, event_id, record_id
        ) as content_rank,
        first_value(event_id) over (
            partition by screen_reason, content_key, voter order by created_at, event_id, record_id
        ) as kept_event_id
    from (
        select
            record_id, screen_reason, content_key, created_at, event_id,
            case
                when event_type = 'pairwise' and label_preferred is not null
                    then coalesce(annotator_id, user_id, '')
                else ''
            end as voter
        from screened
    ) as sort_keys
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
