{#- A fingerprint of one row for change detection only (never an id): a 64-bit integer that
    sums into a partition signature. -#}
{% macro row_fingerprint(expr) -%}
    {{ return(adapter.dispatch('row_fingerprint')(expr)) }}
{%- endmacro %}

{% macro default__row_fingerprint(expr) -%}
    cast(conv(substr({{ dbt.hash(expr) }}, 1, 15), 16, 10) as bigint)
{%- endmacro %}

{#- Spark runs dbt with ANSI mode off, so a bigint sum overflows silently: 32-bit fingerprints
    keep the partition sum exact (the signature is internal and never published). -#}
{% macro spark__row_fingerprint(expr) -%}
    cast(conv(substr({{ dbt.hash(expr) }}, 1, 8), 16, 10) as bigint)
{%- endmacro %}

{% macro duckdb__row_fingerprint(expr) -%}
    cast(hash({{ expr }}) >> 1 as bigint)
{%- endmacro %}

{#- One row per daily partition of the inputs of int_events__canonical: a signature that
    changes whenever a captured record, its filtering decision, its normalized prompt or one
    of its normalized responses changes (or the model's own SQL does), so an unchanged day is
    never recomputed. -#}
{% macro canonical_input_signatures() -%}
    select partition_date, '{{ model.checksum.checksum[:16] }}:' || cast(count(*) as {{ dbt.type_string() }})
           || ':' || cast(sum(fp) as {{ dbt.type_string() }}) as partition_signature
    from (
        select partition_date, {{ row_fingerprint("'e|' || record_id || '|' || content_hash") }} as fp
        from {{ ref('stg_feedback__events') }}
        union all
        select partition_date, {{ row_fingerprint("'f|' || record_id || '|' || cast(kept as " ~ dbt.type_string() ~ ")") }}
        from {{ ref('int_feedback__filtered') }}
        union all
        select partition_date, {{ row_fingerprint(
            "'n|' || record_id || '|' || prompt_hash || '|' || template_id || '|' || cast(template_version as "
            ~ dbt.type_string() ~ ") || '|' || coalesce(pii_kinds, '') || '|' || coalesce(edited_hash, '')") }}
        from {{ ref('stg_normalization__events') }}
        union all
        select partition_date, {{ row_fingerprint(
            "'r|' || record_id || '|' || cast(position as " ~ dbt.type_string() ~ ") || '|' || response_id"
            " || '|' || response_hash || '|' || coalesce(model, '')") }}
        from {{ ref('stg_normalization__responses') }}
    ) input_rows
    group by partition_date
{%- endmacro %}

{#- The days already built whose inputs are unchanged (same signature). -#}
{% macro unchanged_partitions() -%}
    select s.partition_date
    from ({{ canonical_input_signatures() }}) s
    inner join (select distinct partition_date, partition_signature from {{ this }}) t
        on t.partition_date = s.partition_date and t.partition_signature = s.partition_signature
{%- endmacro %}

{#- Before an incremental run: drop the days whose inputs changed or are gone. -#}
{% macro delete_changed_partitions() -%}
    {% if is_incremental() %}
        {{ delete_days("partition_date not in (" ~ unchanged_partitions() ~ ")") }}
    {% endif %}
{%- endmacro %}
