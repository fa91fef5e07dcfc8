{#-
    hash_joins_on_full_refresh(): a pre-hook for the models that join whole per-value tables with each other on
    their full key (the prior year, the previous quarter, the value beside its quarter). On a full refresh
    PostgreSQL estimates those six-column joins at a fraction of their rows and answers with merge joins (a sort
    of both sides, every parallel worker sorting the whole inner side again) or index loops; hashed they take
    a fraction of the time. At nation scale (11 M values, this machine): int_report_values_yoy 185 s -> 35 s,
    int_report_values_quarterly 66 s -> 13 s, fct_town_quarter_indicators 91 s -> 21 s,
    int_town_quarter_shares 65 s -> 42 s. An incremental build keeps the planner's choice: it reads a few
    partitions through their index, where a nested loop is right. (SET LOCAL: it ends with the transaction;
    empty on an incremental run, which dbt skips.)
-#}
{% macro hash_joins_on_full_refresh() -%}
    {%- if not is_incremental() -%}
    set local enable_mergejoin = off; set local enable_nestloop = off
    {%- endif -%}
{%- endmacro %}
