{#-
    hash_joins_only(): a pre-hook for models that join small tables through several CTEs
    (kpi × membership × form × report lookups). PostgreSQL multiplies the selectivities of
    their many join conditions (tier = any(list), list_name is null or ...), estimates one
    row, and then loops over thousands of rows per row of a join it thought had one: at
    county scale (4,550 counties, 25k towns) fct_programme_kpis ran 443 s, int_town_years
    182 s and int_assessment_components over 195 s before they were stopped; the incremental int_report_values_quarterly (616 s) and int_town_quarter_shares
    (435 s) looped the same way over the few partitions they thought they rebuilt, where hash
    joins take seconds. Nothing in these models benefits from a nested loop (no index lookups), so the model's
    transaction turns them off (SET LOCAL: the setting ends with the transaction).
-#}
{% macro hash_joins_only() -%}
    set local enable_nestloop = off
{%- endmacro %}
