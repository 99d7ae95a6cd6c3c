{{
    config(
        materialized='incremental',
        incremental_strategy=day_incremental_strategy(),
        partition_by=day_partition_by(),
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window() }}"
    )
}}

{#- One decision per captured record of the partition window: kept, or the first rule that
    drops it. Redelivery is judged against every earlier delivery of the same event id. -#}

with day_events as (
    select * from {{ ref('stg_feedback__events') }}
    where {{ in_partition_window('partition_date') }}
),

same_event_id as (
    select record_id, event_id, content_hash, partition_date, source_file, source_line
    from {{ ref('stg_feedback__events') }}
    where partition_date <= cast('{{ var("partition_end") }}' as date)
      and event_id in (select event_id from day_events)
),

deliveries as (
    select
        record_id,
        row_number() over (
            partition by event_id
            order by partition_date, source_file, source_line, record_id
        ) as delivery,
        first_value(record_id) over (
            partition by event_id
            order by partition_date, source_file, source_line, record_id
        ) as first_record_id,
        first_value(content_hash) over (
            partition by event_id
            order by partition_date, source_file, source_line, record_id
        ) as first_content_hash,
        content_hash
    from same_event_id
),

response_lengths as (
    select record_id, max(content_chars) as max_response_chars
    from {{ ref('stg_feedback__responses') }}
    where {{ in_partition_window('partition_date') }}
    group by record_id
),

deletions as (
    select user_id from {{ ref('stg_control__deletions') }}
),

decided as (
    select
        e.record_id,
        e.event_id,
        e.partition_date,
        case
            when d.delivery > 1 and d.content_hash = d.first_content_hash then 'duplicate_redelivery'
            when d.delivery > 1 then 'event_id_conflict'
            when not coalesce(e.consent_training, false) then 'consent'
            when x.user_id is not null then 'deletion'
            when length(e.prompt_json) > {{ var('max_prompt_chars') }} then 'length:prompt'
            when r.max_response_chars > {{ var('max_response_chars') }} then 'length:response'
            {% if var('languages') | length > 0 %}
            when e.language is null or e.language not in ({% for l in var('languages') %}'{{ l }}'{% if not loop.last %}, {% endif %}{% endfor %}) then 'language'
            {% endif %}
        end as reason,
        case
            when d.delivery > 1 then 'first delivered as record ' || d.first_record_id
            when not coalesce(e.consent_training, false) then 'consent_training is not true'
            when x.user_id is not null then 'user ' || e.user_id || ' asked for deletion'
            when length(e.prompt_json) > {{ var('max_prompt_chars') }}
                then 'prompt is ' || cast(length(e.prompt_json) as {{ dbt.type_string() }}) || ' chars'
            when r.max_response_chars > {{ var('max_response_chars') }}
                then 'a response is ' || cast(r.max_response_chars as {{ dbt.type_string() }}) || ' chars'
        end as detail
    from day_events e
    inner join deliveries d on d.record_id = e.record_id
    left join response_lengths r on r.record_id = e.record_id
    left join deletions x on x.user_id = e.user_id
)

select
    record_id,
    event_id,
    partition_date,
    reason is null as kept,
    reason,
    detail
from decided
