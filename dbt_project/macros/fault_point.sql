{#-
    A named fault point inside a build (core/faults.py, the fault matrix of tests/test_fault_matrix.py):
    when TWOTOWNS_FAULT_AT names it, the hook waits for the advisory lock `twotowns fault point <name>`
    (shared) in the model's transaction, its rows and state written and not committed. A test that holds
    that lock stops the build there, sees it waiting in pg_stat_activity, and kills the build or stops
    the server, or releases the lock to let it go on. Otherwise `select 1`. Nothing in the product sets
    TWOTOWNS_FAULT_AT.
-#}
{% macro fault_point(name) -%}
    {%- if env_var('TWOTOWNS_FAULT_AT', '') == name -%}
        select pg_advisory_xact_lock_shared(hashtext('twotowns fault point {{ name }}'))
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
