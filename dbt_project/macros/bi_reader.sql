{#-
    The read-only role of BI tools (architecture: "the BI role reads marts only").

    bi_reader_role()        its name: var bi_reader_role, else <database>_bi_reader
                            (role names are cluster-wide, databases share a server)
    ensure_bi_reader_role() on-run-start: create it (NOLOGIN) if missing — a role that may
                            not create roles leaves that to the DBA, with a warning; create
                            the marts schema so that default privileges can be set on it
    grant_bi_reader()       on-run-end: usage on marts, select on all its tables and
                            views, and select by default on tables the owner creates later
                            (dbt recreates tables on every build); nothing else: every
                            privilege on the other schemas is revoked.
    Users get access by membership: grant <role> to <login role>.
-#}
{% macro bi_reader_role() -%}
    {%- set configured = var('bi_reader_role') -%}
    {%- if configured -%}
        {{ return(configured) }}
    {%- else -%}
        {{ return((target.dbname ~ '_bi_reader')[-63:]) }}
    {%- endif -%}
{%- endmacro %}

{% macro ensure_bi_reader_role() %}
    {%- set role = bi_reader_role() -%}
    do $bi$
    begin
        if not exists (select from pg_roles where rolname = '{{ role }}') then
            create role "{{ role }}" nologin;
        end if;
    exception
        when duplicate_object or unique_violation then
            null;  -- created meanwhile by a build of another database on the same server
        when insufficient_privilege then
            raise warning 'cannot create the BI role "{{ role }}": ask the DBA to create it (NOLOGIN)';
    end
    $bi$;
    create schema if not exists marts;
{% endmacro %}

{% macro grant_bi_reader() %}
    {%- set role = bi_reader_role() -%}
    {%- set other_schemas = ['landing', 'raw', 'staging', 'intermediate', 'seeds', 'snapshots', 'incremental_state', target.schema] -%}
    do $bi$
    begin
        if not exists (select from pg_roles where rolname = '{{ role }}') then
            raise warning 'BI role "{{ role }}" does not exist: no grants';
            return;
        end if;
        execute 'grant usage on schema marts to "{{ role }}"';
        execute 'grant select on all tables in schema marts to "{{ role }}"';
        execute 'alter default privileges in schema marts grant select on tables to "{{ role }}"';
        {%- for schema in other_schemas %}
        if exists (select from pg_namespace where nspname = '{{ schema }}') then
            execute 'revoke all on schema "{{ schema }}" from "{{ role }}"';
            execute 'revoke all on all tables in schema "{{ schema }}" from "{{ role }}"';
        end if;
        {%- endfor %}
    end
    $bi$;
{% endmacro %}
