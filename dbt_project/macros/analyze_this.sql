{#-
    analyze_this(): post-hook of every table the project builds (dbt_project.yml). A table
    made by CREATE TABLE AS has no column statistics until autovacuum gets to it, so the
    next model's joins were planned with default selectivities: at 4,550 counties
    PostgreSQL estimated joins of hundreds of thousands of rows at one row and ran nested
    loops for minutes (int_assessment_components, the KPI reconciliation test). ANALYZE
    samples at most 30,000 rows: well under a second, also on the large incremental tables.
-#}
{% macro analyze_this() -%}
    {%- if model.config.materialized in ('table', 'incremental', 'seed') -%}
        analyze {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
