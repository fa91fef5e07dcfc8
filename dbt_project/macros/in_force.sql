{% macro in_force(policy, year) -%}
{#- A policy seed row applies to a year: every policy seed carries the years it is in
    force (valid_from_year..valid_to_year, programme-rules §0.3). -#}
{{ year }} between {{ policy }}.valid_from_year and {{ policy }}.valid_to_year
{%- endmacro %}
