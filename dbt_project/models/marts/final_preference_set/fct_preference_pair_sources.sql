{#- Which captured records each published pair was built from. -#}

select distinct
    l.pair_id,
    l.record_id,
    l.event_id,
    l.vote,
    l.vote_weight,
    l.annotator_flag
from {{ ref('int_pairs__links') }} l
inner join {{ ref('int_pairs__labeled') }} p on p.pair_id = l.pair_id
where p.kept
