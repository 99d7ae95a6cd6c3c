{#- Where each deduplicated event went at pair construction: into a pair, a KTO row, or
    dropped with the rule that left it out; a vote of an annotator held out under
    label_trust.annotator_policy: hold_out is annotator_unreliable, with the flag's numbers. -#}

with events as (
    select * from {{ ref('int_events__deduped') }}
    where kept
),

paired as (
    select distinct record_id from {{ ref('int_pairs__links') }}
),

kto as (
    select record_id from {{ ref('int_kto__candidates') }}
),

held_out as (
    select e.record_id, r.flag_detail
    from events e
    inner join {{ ref('int_annotators__reliability') }} r on r.annotator_id = e.annotator_id
    where r.flagged and r.vote_weight = 0
      and e.event_type = 'pairwise' and e.label_preferred is not null
      and coalesce(e.annotator_kind, 'end_user') <> 'ai'
),

empty_responses as (
    select distinct record_id
    from {{ ref('stg_normalization__responses') }}
    where content = ''
)

select
    e.record_id,
    e.event_id,
    e.partition_date,
    case
        when p.record_id is not null then 'pair'
        when k.record_id is not null then 'kto'
        else 'rejected'
    end as outcome,
    case
        when p.record_id is not null or k.record_id is not null then null
        when h.record_id is not null then 'annotator_unreliable'
        when e.event_type = 'pairwise' and coalesce(e.label_tie, false) then 'tie'
        when x.record_id is not null then 'response_empty'
        when e.event_type = 'regenerate' then 'regenerate_excluded'
        when e.event_type = 'edit' then 'edit_unchanged'
        when e.event_type = 'rating' then 'rating_neutral'
        else 'chosen_equals_rejected'
    end as reason,
    case
        when p.record_id is not null or k.record_id is not null then null
        when h.record_id is not null then 'annotator ' || e.annotator_id || ' held out (label_trust.annotator_policy: hold_out): ' || h.flag_detail
        when e.event_type = 'pairwise' and coalesce(e.label_tie, false) then 'annotator marked a tie'
        when x.record_id is not null then 'a response needed for the pair is empty'
        when e.event_type = 'regenerate' then 'regenerate events are left out of pairs (pairs.include_regenerate)'
        when e.event_type = 'edit' then 'edited content equals the original response'
        when e.event_type = 'rating' then 'score ' || cast(e.label_score as {{ dbt.type_string() }}) || ' with no pair by score gap'
        else 'every response has the same content'
    end as detail
from events e
left join paired p on p.record_id = e.record_id
left join kto k on k.record_id = e.record_id
left join held_out h on h.record_id = e.record_id
left join empty_responses x on x.record_id = e.record_id
