{#- The daily partition window Dagster passes as --vars. -#}
{% macro in_partition_window(column) -%}
    {{ column }} between cast('{{ var("partition_start") }}' as date) and cast('{{ var("partition_end") }}' as date)
{%- endmacro %}

{#- Incremental daily models replace their window: delete it first, then append. -#}
{% macro delete_partition_window() -%}
    {% if is_incremental() %}
        delete from {{ this }} where {{ in_partition_window('partition_date') }}
    {% endif %}
{%- endmacro %}
