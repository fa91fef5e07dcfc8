{#-
    The read-only role of BI tools (architecture: "the BI role reads marts only").

    bi_reader_role()        its name: var bi_reader_role, else <database>_bi_reader
                            (role names are cluster-wide, databases share a server)
    ensure_bi_reader_role() on-run-start: create it (NOLOGIN) if missing — a role that may
                            not create roles leaves that to the DBA, with a warning; create
                            the marts schema, which the role reads (empty until the first
                            audited build is switched in)
    grant_bi_reader()       on-run-end: connect on the database (a server where PUBLIC may
                            not connect, as docker/warehouse-init.sh sets it up, would
                            refuse BI logins otherwise), usage on marts, select on all
                            its tables and views; nothing else: every privilege on the other schemas,
                            marts_build included, is revoked. dbt writes the marts into
                            marts_build; publish.marts switches an audited build into
                            marts and grants the role select on it in the same transaction
                            (core/marts.py), so no default privileges are needed (and any
                            left by an earlier version of this macro are revoked).
    stamp_marts_build()     on-run-end: when this invocation wrote a mart, mark marts_build
                            as holding the build of this invocation (its comment, JSON), so
                            the marts gate and the switch know which build they audit and
                            publish, and a build changed after its audit is not published.
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
    {%- set other_schemas = ['landing', 'raw', 'staging', 'intermediate', 'seeds', 'snapshots', 'incremental_state',
                             'marts_build', 'quality', target.schema] -%}
    do $bi$
    begin
        if not exists (select from pg_roles where rolname = '{{ role }}') then
            raise warning 'BI role "{{ role }}" does not exist: no grants';
            return;
        end if;
        execute format('grant connect on database %I to %I', current_database(), '{{ role }}');
        execute 'grant usage on schema marts to "{{ role }}"';
        execute 'grant select on all tables in schema marts to "{{ role }}"';
        execute 'alter default privileges in schema marts revoke select on tables from "{{ role }}"';
        {%- for schema in other_schemas %}
        if exists (select from pg_namespace where nspname = '{{ schema }}') then
            execute 'revoke all on schema "{{ schema }}" from "{{ role }}"';
            execute 'revoke all on all tables in schema "{{ schema }}" from "{{ role }}"';
            execute 'alter default privileges in schema "{{ schema }}" revoke all on tables from "{{ role }}"';
        end if;
        {%- endfor %}
    end
    $bi$;
{% endmacro %}

{% macro stamp_marts_build() %}
    {%- set wrote = [] -%}
    {%- set succeeded = [] -%}
    {%- for result in results or [] -%}
        {%- if result.node.resource_type in ('model', 'seed', 'snapshot') and result.node.schema == 'marts_build'
              and result.status != 'skipped' -%}
            {%- do wrote.append(result.node.unique_id) -%}
            {%- if result.status == 'success' -%}
                {%- do succeeded.append(result.node.unique_id) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if wrote -%}
        {%- set marts = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.schema == 'marts_build' and node.config.enabled -%}
                {%- do marts.append(node.unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {#- complete: this invocation built every mart, without an error (a `--select` of some marts, or a
            failed model, leaves marts_build holding tables of two builds: audited, never published) -#}
        {%- set missing = marts | reject('in', succeeded) | list -%}
        {%- set stamp = {'state': 'built', 'build_id': invocation_id, 'command': flags.WHICH,
                         'built_at': run_started_at.isoformat(), 'marts': marts | length,
                         'complete': missing | length == 0,
                         'not_built': missing | map('replace', 'model.twotowns.', '') | list} -%}
        comment on schema marts_build is '{{ tojson(stamp) | replace("'", "''") }}'
    {%- endif -%}
{% endmacro %}
