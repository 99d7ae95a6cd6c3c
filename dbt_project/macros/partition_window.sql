{#- The daily partition window Dagster passes as --vars. -#}
{% macro in_partition_window(column) -%}
    {{ column }} between cast('{{ var("partition_start") }}' as date) and cast('{{ var("partition_end") }}' as date)
{%- endmacro %}

{#- Incremental daily models replace their window: delete it first, then append (DuckDB), or
    overwrite its day partitions (Spark; see delete_days). -#}
{% macro delete_partition_window() -%}
    {% if is_incremental() %}
        {{ delete_days(in_partition_window('partition_date')) }}
    {% endif %}
{%- endmacro %}

{#- Tests of daily models read the days this run built, not all history: dbt_project.yml gives
    their tests `where: "__partition_window__"`, and this override of dbt's where-subquery
    (the documented way to reach a macro from a test config) puts in_partition_window there. -#}
{% macro get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where %}
        {% set where = where | replace('__partition_window__', in_partition_window('partition_date')) %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}
