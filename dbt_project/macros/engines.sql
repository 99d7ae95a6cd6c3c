{#- What differs between the engines prefline's dbt project runs on (DuckDB embedded, Apache
    Spark via dbt-spark), behind adapter dispatch: the models themselves stay portable SQL. -#}

{#- dbt-spark's stock listagg drops the ORDER BY (content keys would then depend on row order);
    Spark 4 has the standard ordered listagg. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("listagg with a limit is not supported on Spark") }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }})
    {%- if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}

{#- Daily incremental models replace whole days. DuckDB deletes the days in a pre-hook and
    appends; plain Spark tables cannot delete, so there the table is partitioned by day and
    each run overwrites the days it writes (dynamic partition overwrite). -#}
{% macro day_incremental_strategy() -%}
    {{ return(adapter.dispatch('day_incremental_strategy')()) }}
{%- endmacro %}
{% macro default__day_incremental_strategy() -%}{{ return('append') }}{%- endmacro %}
{% macro spark__day_incremental_strategy() -%}{{ return('insert_overwrite') }}{%- endmacro %}

{% macro day_partition_by() -%}
    {{ return(adapter.dispatch('day_partition_by')()) }}
{%- endmacro %}
{% macro default__day_partition_by() -%}{{ return(none) }}{%- endmacro %}
{% macro spark__day_partition_by() -%}{{ return(['partition_date']) }}{%- endmacro %}

{#- The day-replacing pre-hook: a delete where the engine has one, nothing on Spark (the
    partition overwrite replaces the days). -#}
{% macro delete_days(where_sql) -%}
    {{ return(adapter.dispatch('delete_days')(where_sql)) }}
{%- endmacro %}
{% macro default__delete_days(where_sql) -%}
    delete from {{ this }} where {{ where_sql }}
{%- endmacro %}
{% macro spark__delete_days(where_sql) -%}
    {#- nothing to delete: insert_overwrite replaces the partitions written -#}
{%- endmacro %}

{#- Every column of a relation but some: DuckDB's `* exclude`, Spark's `* except`. -#}
{% macro star_except(alias, columns) -%}
    {{ return(adapter.dispatch('star_except')(alias, columns)) }}
{%- endmacro %}
{% macro default__star_except(alias, columns) -%}{{ alias }}.* exclude ({{ columns | join(', ') }}){%- endmacro %}
{% macro spark__star_except(alias, columns) -%}{{ alias }}.* except ({{ columns | join(', ') }}){%- endmacro %}
