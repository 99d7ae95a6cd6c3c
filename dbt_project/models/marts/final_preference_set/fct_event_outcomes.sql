{#- The ledger: every captured landing record and the one place it ended — quarantine, a
    stage that dropped it (with reason), or the lineage of a published row. n_places counts
    the places a record was found in; conservation requires exactly one for every record. -#}

with captured as (
    select record_id, event_id, partition_date, source_file, source_line
    from {{ ref('stg_feedback__events') }}
    union all
    select record_id, event_id, partition_date, source_file, source_line
    from {{ ref('stg_feedback__quarantine') }}
),

quarantined as (
    select record_id, 'capture' as stage, reason, detail
    from {{ ref('stg_feedback__quarantine') }}
),

stage_drops as (
    select record_id, 'filtering' as stage, reason, detail
    from {{ ref('int_feedback__filtered') }} where not kept
    union all
    select record_id, 'template_normalization', reason, detail
    from {{ ref('stg_normalization__rejections') }}
    union all
    select record_id, 'dedup', reason, detail
    from {{ ref('int_events__deduped') }} where not kept
    union all
    select record_id, 'pair_construction', reason, detail
    from {{ ref('int_pairs__event_outcomes') }} where outcome = 'rejected'
),

published as (
    select distinct record_id from {{ ref('fct_preference_pair_sources') }}
    union
    select distinct record_id from {{ ref('fct_kto_rows') }}
),

paired_records as (
    select record_id from {{ ref('int_pairs__event_outcomes') }} where outcome = 'pair'
),

{#- A paired record whose pairs were all dropped at labeling takes the reason of its first pair;
    a pair over its near-duplicate cluster's cap is a dedup decision, a split vote and a pair
    that is not trainer-ready (trainer.max_length) are pair construction's. -#}
label_drops as (
    select record_id, case when reason = 'duplicate_near' then 'dedup'
                           when reason in ('annotators_disagree', 'comparison_superseded', 'prompt_exceeds_max_length',
                                           'identical_within_max_length') then 'pair_construction'
                           else 'judge_labeling' end as stage, reason, detail
    from (
        select
            l.record_id,
            p.reason,
            p.detail,
            row_number() over (partition by l.record_id order by p.reason, p.pair_id) as rn
        from {{ ref('int_pairs__links') }} l
        inner join {{ ref('int_pairs__labeled') }} p on p.pair_id = l.pair_id
        where l.record_id in (select record_id from paired_records)
          and l.record_id not in (select record_id from published)
    ) ranked
    where rn = 1
),

dropped as (
    select * from quarantined
    union all select * from stage_drops
    union all select * from label_drops
),

drop_counts as (
    select
        record_id,
        count(*) as n_drops,
        min(stage) as stage,
        min(reason) as reason,
        min(detail) as detail
    from dropped
    group by record_id
)

select
    c.record_id,
    c.event_id,
    c.partition_date,
    c.source_file,
    c.source_line,
    case
        when q.record_id is not null then 'quarantine'
        when p.record_id is not null then 'published'
        when d.record_id is not null then 'rejected'
    end as place,
    d.stage,
    d.reason,
    d.detail,
    coalesce(d.n_drops, 0) + case when p.record_id is not null then 1 else 0 end as n_places
from captured c
left join drop_counts d on d.record_id = c.record_id
left join quarantined q on q.record_id = c.record_id
left join published p on p.record_id = c.record_id
