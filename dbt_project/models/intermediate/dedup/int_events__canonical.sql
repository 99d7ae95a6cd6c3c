{{
    config(
        materialized='incremental',
        incremental_strategy=day_incremental_strategy(),
        partition_by=day_partition_by(),
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_changed_partitions() }}"
    )
}}

{#- Every kept, normalized event with its canonical content key: the per-event half of dedup,
    which depends on that event's own day only. Incremental by day: a day is recomputed when
    its inputs' signature changes (see canonical_input_signatures), so a nightly build keys
    one new day, not the whole window. The window-wide half (clusters, deletions,
    contamination, the duplicate ranking) is int_events__deduped. A change to this SQL
    changes every day's signature, so every day is recomputed (into the new columns). -#}

with signatures as (
    {{ canonical_input_signatures() }}
),

todo as (
    select partition_date, partition_signature
    from signatures
    {% if is_incremental() %}
    {#- days not yet built with these inputs (on DuckDB the pre-hook deleted the others) -#}
    where partition_date not in ({{ unchanged_partitions() }})
    {% endif %}
),

kept as (
    select f.record_id
    from {{ ref('int_feedback__filtered') }} f
    inner join todo t on t.partition_date = f.partition_date
    where f.kept
),

events as (
    select e.*
    from {{ ref('stg_feedback__events') }} e
    inner join kept k on k.record_id = e.record_id
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
    from {{ ref('stg_normalization__responses') }} r
    inner join events e on e.record_id = r.record_id
    group by r.record_id
)

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
    rk.responses_key,
    rk.n_responses,
    rk.preferred_hash,
    rk.discarded_hash,
    {{ dbt.hash(
        "e.event_type || '|' || n.prompt_hash || '|' || rk.responses_key"
        " || '|' || coalesce(rk.preferred_hash, '') || '|' || coalesce(cast(e.label_tie as " ~ dbt.type_string() ~ "), '')"
        " || '|' || coalesce(cast(e.label_score as " ~ dbt.type_string() ~ "), '') || '|' || coalesce(e.label_thumb, '')"
        " || '|' || coalesce(n.edited_hash, '') || '|' || coalesce(rk.discarded_hash, '')"
    ) }} as content_key,
    t.partition_signature,
    '{{ invocation_id }}' as computed_in_invocation
from events e
inner join todo t on t.partition_date = e.partition_date
inner join {{ ref('stg_normalization__events') }} n on n.record_id = e.record_id
inner join response_keys rk on rk.record_id = e.record_id
