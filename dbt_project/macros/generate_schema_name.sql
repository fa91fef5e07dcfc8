{#-
    Custom schemas are used verbatim (staging, intermediate, marts, seeds), not
    prefixed with the target schema: the warehouse layout is part of the
    architecture (the BI role reads `marts` only). Nodes without a custom schema
    go to the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
