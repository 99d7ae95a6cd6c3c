{#- A stable bucket in [0, buckets) from an md5 of the expression: the same key lands in the
    same bucket on every engine and every run (engine hash() functions are neither). -#}
{% macro hash_bucket(expr, buckets) -%}
    {{ return(adapter.dispatch('hash_bucket')(expr, buckets)) }}
{%- endmacro %}

{% macro default__hash_bucket(expr, buckets) -%}
    mod(cast(conv(substr({{ dbt.hash(expr) }}, 1, 8), 16, 10) as bigint), {{ buckets }})
{%- endmacro %}

{% macro duckdb__hash_bucket(expr, buckets) -%}
    (cast(('0x' || substr({{ dbt.hash(expr) }}, 1, 8)) as ubigint) % {{ buckets }})
{%- endmacro %}
