{#- The current submission of every (county, year, quarter, form) as of var as_of_date: the
    landing function behind source landing.current_submission_forms (the one definition of
    "current", ingest/migrations/versions/0003), called with known_before(). -#}
{% macro current_submission_forms() -%}
    {%- set view = source('landing', 'current_submission_forms') -%}
    {{ adapter.quote(view.schema) }}.current_submission_forms_at({{ known_before() }})
{%- endmacro %}
