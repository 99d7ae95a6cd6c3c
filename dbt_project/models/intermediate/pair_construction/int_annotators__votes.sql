{#- One row per human pairwise vote (a kept pairwise preference and each response it was
    preferred over), with what per-annotator reliability reads: the comparison it voted on (the
    same comparison id as int_pairs__links: prompt and both responses, either display order),
    whether the preferred response was the one shown first, whether the annotator saw the
    model's draft, and how the other voters on the comparison voted. Peers are every other
    human voter (annotator id, else user id) on the comparison; an annotator's own repeat votes
    (both display orders) are not its peers. The peer majority exists when the others split
    unevenly; a vote is peer-comparable when at least two others voted and they have a majority. -#}

with events as (
    select *
    from {{ ref('int_events__deduped') }}
    where kept
      and event_type = 'pairwise'
      and label_preferred is not null
      and coalesce(annotator_kind, 'end_user') <> 'ai'
),

responses as (
    select r.record_id, r.position, r.response_id, r.response_hash
    from {{ ref('stg_normalization__responses') }} r
    inner join events e on e.record_id = r.record_id
),

first_shown as (
    select record_id, min(position) as first_position
    from responses
    group by record_id
),

sides as (
    select
        e.record_id,
        e.event_id,
        e.partition_date,
        e.user_id,
        e.annotator_id,
        coalesce(e.annotator_id, e.user_id) as voter,
        coalesce(e.annotator_saw_model_draft, false) as saw_draft,
        e.prompt_hash,
        c.response_hash as preferred_hash,
        r.response_hash as other_hash,
        c.position = f.first_position as chose_first
    from events e
    inner join responses c on c.record_id = e.record_id and c.response_id = e.label_preferred
    inner join responses r on r.record_id = e.record_id and r.response_id <> e.label_preferred
    inner join first_shown f on f.record_id = e.record_id
    where c.response_hash <> r.response_hash
),

keyed as (
    select
        *,
        {{ dbt.hash("'pairwise_preferred|' || prompt_hash || '|' || least(preferred_hash, other_hash) || '|' || greatest(preferred_hash, other_hash)") }} as comparison_id,
        case when preferred_hash < other_hash then 1 else 0 end as prefers_low
    from sides
),

counted as (
    select
        *,
        count(*) over (partition by comparison_id) - count(*) over (partition by comparison_id, voter) as other_votes,
        sum(prefers_low) over (partition by comparison_id)
            - sum(prefers_low) over (partition by comparison_id, voter) as other_low
    from keyed
)

select
    record_id,
    event_id,
    partition_date,
    user_id,
    annotator_id,
    voter,
    saw_draft,
    chose_first,
    comparison_id,
    prompt_hash,
    preferred_hash,
    other_hash,
    prefers_low,
    other_votes,
    case when other_low * 2 > other_votes then 1 when other_low * 2 < other_votes then 0 end as peer_majority_low,
    other_votes >= 2 and other_low * 2 <> other_votes as peer_comparable,
    case
        when other_votes >= 2 and other_low * 2 <> other_votes
            then (other_low * 2 > other_votes) = (prefers_low = 1)
    end as agrees_with_peers
from counted
