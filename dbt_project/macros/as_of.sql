{#-
    The "as of" date of a build (var as_of_date, YYYY-MM-DD): what was known at the
    end of that day in Asia/Shanghai. Unset: now.

    as_of_date()    a SQL date: the as-of day (unset: today in Asia/Shanghai)
    known_before()  a SQL timestamptz: submissions received before it count
                    (the start of the next day; unset: infinity, i.e. everything)
-#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of_date') -%}
    {%- if as_of -%}
        '{{ as_of }}'::date
    {%- else -%}
        (now() at time zone 'Asia/Shanghai')::date
    {%- endif -%}
{%- endmacro %}

{% macro known_before() -%}
    {%- set as_of = var('as_of_date') -%}
    {%- if as_of -%}
        (('{{ as_of }}'::date + 1)::timestamp at time zone 'Asia/Shanghai')
    {%- else -%}
        'infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}
