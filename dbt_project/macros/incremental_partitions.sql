{#-
    Incremental models keyed by reporting partition: (county_code, year, quarter).

    A model built this way records, in schema incremental_state, what each of its
    partitions was built FROM (its "inputs": rows of county_code, year, quarter and an
    input text, e.g. 'LZ-1:1234:<catalogue md5>' for "form LZ-1 of submission 1234 is
    current" or 'town:CT-330421-01:characteristic:provincial_creation' for a town's
    membership at quarter end). The next build compares the inputs of now with the
    recorded ones (both small: one row per current submission form, or per town and
    quarter; never the values) and rebuilds exactly the partitions whose inputs
    differ, in either direction, plus the partitions that read them (follows):
        'next_year'     the same quarter of the next year (prior-year columns)
        'next_quarter'  the next quarter of the same year (quarterly derivations)
    A partition that lost its inputs (a submission forgotten by `ops reprocess`, an
    earlier as_of_date) is deleted; one whose older version became current again is
    rebuilt from it: the comparison is with the set of inputs, never a watermark.

    Use (the model selects only affected_partitions() when incremental):

        {{ config(materialized='incremental', incremental_strategy='append',
                  indexes=[{'columns': ['county_code', 'year', 'quarter']}],
                  pre_hook="{{ delete_affected_partitions(my_inputs(), ['next_year']) }}",
                  post_hook="{{ record_partition_inputs(my_inputs(), ['next_year']) }}") }}

    Everything happens in the model's transaction: the delete (pre-hook), the insert
    and the new record (post-hook) commit together or not at all, so a failed build
    leaves the table and its record as they were and the next build redoes the work.
    Without a record (first build, or a table built before this macro), an
    incremental build rebuilds every partition.

    incremental_state."<schema>__<table>__inputs"   the inputs the table was built from
    incremental_state."<schema>__<table>__rebuilt"  the partitions the last build wrote
        (every partition after a full refresh): data tests of big tables restrict
        themselves to these (where: "__rebuilt_partitions__", see get_where_subquery).
    incremental_state."<schema>__<table>__unaudited"  (a mart the GX marts gate checks
        by partition: record_partition_inputs(..., audited_by_gate=true)) the partitions
        written by any build since the last passed marts gate: each build adds what it
        rebuilt, a full refresh replaces the set with every partition, and only a passed
        gate empties it (expectations.gate). So a partition a build wrote whose gate
        failed is audited again by the next gate even if the next build leaves it alone.
        Like the other state tables it follows its table when publish.marts switches
        marts_build and marts.
-#}

{% macro partition_state_relation(relation, suffix) -%}
    {{- return(api.Relation.create(database=relation.database, schema='incremental_state',
                                   identifier=(relation.schema ~ '__' ~ relation.identifier ~ '__' ~ suffix)[-63:],
                                   type='table')) -}}
{%- endmacro %}

{% macro partition_state_exists() -%}
    {%- if not execute -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set state = partition_state_relation(this, 'inputs') -%}
    {{- return(adapter.get_relation(database=state.database, schema=state.schema, identifier=state.identifier)
               is not none) -}}
{%- endmacro %}

{#- The partitions an incremental build writes: those whose inputs changed, and those
    that follow them. On a full refresh (or without a record): every partition of the
    inputs. -#}
{% macro affected_partitions(inputs, follows=[]) -%}
    {%- if is_incremental() and partition_state_exists() -%}
        {%- set state = partition_state_relation(this, 'inputs') -%}
        select county_code, year, quarter
        from (
            with inputs as (
                select county_code::text as county_code, year::integer as year, quarter::integer as quarter,
                    input::text as input
                from ({{ inputs }}) as inputs
            ),
            changed as (
                select county_code, year, quarter
                from (
                    (select county_code, year, quarter, input from inputs
                     except
                     select county_code, year, quarter, input from {{ state }})
                    union all
                    (select county_code, year, quarter, input from {{ state }}
                     except
                     select county_code, year, quarter, input from inputs)
                ) as differences
                group by county_code, year, quarter
            )
            select county_code, year, quarter from changed
            {%- if 'next_year' in follows %}
            union
            select county_code, year + 1, quarter from changed
            {%- endif %}
            {%- if 'next_quarter' in follows %}
            union
            select county_code, year, quarter + 1 from changed where quarter < 4
            {%- endif %}
        ) as affected
    {%- else -%}
        select distinct county_code::text as county_code, year::integer as year, quarter::integer as quarter
        from ({{ inputs }}) as inputs
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: delete the affected partitions (all rows without a record). -#}
{% macro delete_affected_partitions(inputs, follows=[]) -%}
    {%- if is_incremental() and partition_state_exists() -%}
        delete from {{ this }}
        where (county_code, year, quarter) in ({{ affected_partitions(inputs, follows) }})
    {%- elif is_incremental() -%}
        {#- no record: a table built before this macro (then also without the partition
            index, which the indexes config only makes when dbt creates the table) -#}
        delete from {{ this }};
        do $partition_index$
        begin
            if not exists (
                select 1 from pg_indexes
                where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
                    and indexdef like '%(county_code, year, quarter)'
            ) then
                execute 'create index on {{ this }} (county_code, year, quarter)';
            end if;
        end
        $partition_index$
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: record what was rebuilt (from the previous record) and what the table is
    now built from; with audited_by_gate, add what was rebuilt to what no gate has audited. -#}
{% macro record_partition_inputs(inputs, follows=[], audited_by_gate=false) -%}
    {%- set state = partition_state_relation(this, 'inputs') -%}
    {%- set rebuilt = partition_state_relation(this, 'rebuilt') -%}
    create schema if not exists incremental_state;  -- made by on-run-start (dbt_project.yml): a no-op here
    drop table if exists {{ rebuilt }};
    create table {{ rebuilt }} as {{ affected_partitions(inputs, follows) }};
    create index on {{ rebuilt }} (county_code, year, quarter);
    {%- if audited_by_gate %}
    {%- set unaudited = partition_state_relation(this, 'unaudited') %}
    create table if not exists {{ unaudited }} (
        county_code text not null, year integer not null, quarter integer not null,
        primary key (county_code, year, quarter));
    {%- if not (is_incremental() and partition_state_exists()) %}
    delete from {{ unaudited }};  -- a full refresh (or a first build): every partition is new
    {%- endif %}
    insert into {{ unaudited }} select distinct county_code, year, quarter from {{ rebuilt }}
        on conflict do nothing;
    analyze {{ unaudited }};
    {%- endif %}
    drop table if exists {{ state }};
    create table {{ state }} as
        select county_code::text as county_code, year::integer as year, quarter::integer as quarter,
            input::text as input
        from ({{ inputs }}) as inputs;
    analyze {{ rebuilt }};
    analyze {{ state }}
{%- endmacro %}

{#- The tested relation restricted to the partitions its last build wrote: in a data
    test's config, where: "__rebuilt_partitions__" (see get_where_subquery). -#}
{% macro rebuilt_partitions_condition(relation, alias=none) -%}
    ({{ alias ~ '.' if alias }}county_code, {{ alias ~ '.' if alias }}year, {{ alias ~ '.' if alias }}quarter) in (
        select county_code, year, quarter from {{ partition_state_relation(relation, 'rebuilt') }})
{%- endmacro %}

{#- dbt's where config, with one placeholder: __rebuilt_partitions__ = the partitions of
    the tested model that its last build wrote. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__rebuilt_partitions__' in where -%}
            {%- set where = where | replace('__rebuilt_partitions__', rebuilt_partitions_condition(relation)) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{- return(filtered) -}}
    {%- else -%}
        {{- return(relation) -}}
    {%- endif -%}
{%- endmacro %}

{#- An md5 of whole small tables (seeds): an input that changes when any row does. -#}
{% macro tables_fingerprint(relations) -%}
    (select md5(string_agg(fingerprints.part, '|' order by fingerprints.part)) from (
        {%- for relation in relations %}
        select '{{ loop.index }}:' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as part
        from {{ relation }} as t
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as fingerprints)
{%- endmacro %}

{#- Inputs of the models of current values: every current (county, period, form) and
    its submission, and the catalogue and policy seeds these models read. -#}
{% macro current_values_inputs() -%}
    select
        submissions_current.county_code,
        submissions_current.year,
        submissions_current.quarter,
        submissions_current.form || ':' || submissions_current.submission_id || ':' || seeds.fingerprint as input
    from {{ ref('int_submissions_current') }} as submissions_current
    cross join (
        select {{ tables_fingerprint([ref('stg_seeds__indicators'), ref('indicator_kinds'),
                                      ref('indicator_reported_growth'), ref('policy_parameters')]) }} as fingerprint
    ) as seeds
{%- endmacro %}

{#- Inputs of town_quarter_indicators beyond the current values: every town's programme
    and tier at each quarter end (a registry edit or a decision rebuilds the town's
    county in the quarters it changes). -#}
{% macro town_membership_inputs() -%}
    select
        towns.county_code,
        quarters.year,
        quarters.quarter,
        'town:' || towns.town_code || ':' || coalesce(memberships_quarterly.programme, towns.programme, '')
            || ':' || coalesce(memberships_quarterly.tier, '') as input
    from {{ ref('stg_seeds__towns') }} as towns
    cross join {{ ref('int_quarters') }} as quarters
    left join {{ ref('int_memberships_quarterly') }} as memberships_quarterly
        on towns.town_code = memberships_quarterly.town_code
        and quarters.year = memberships_quarterly.year
        and quarters.quarter = memberships_quarterly.quarter
{%- endmacro %}

{#- The inputs of a model that reads an incremental model: what that model's partitions
    were built FROM, as it recorded them (so a partial run, `dbt run -s` one model, never
    leaves a reader believing it read something its source does not hold yet). Before
    the source has a record (its first build in this run), the same inputs computed. -#}
{% macro recorded_inputs(source, otherwise) -%}
    {%- set state = partition_state_relation(source, 'inputs') -%}
    {%- if execute and adapter.get_relation(database=state.database, schema=state.schema,
                                            identifier=state.identifier) is not none -%}
        select county_code, year, quarter, input from {{ state }}
    {%- else -%}
        {{ otherwise }}
    {%- endif -%}
{%- endmacro %}

{#- yoy and quarterly read int_report_values_current. -#}
{% macro current_values_read_inputs() -%}
    {{ recorded_inputs(ref('int_report_values_current'), current_values_inputs()) }}
{%- endmacro %}

{#- int_town_quarter_shares reads yoy. -#}
{% macro yoy_read_inputs() -%}
    {{ recorded_inputs(ref('int_report_values_yoy'), current_values_inputs()) }}
{%- endmacro %}

{#- town_quarter_indicators reads yoy and quarterly, and the towns' memberships. -#}
{% macro town_quarter_inputs() -%}
    {{ recorded_inputs(ref('int_report_values_yoy'), current_values_inputs()) }}
    union
    {{ recorded_inputs(ref('int_report_values_quarterly'), current_values_inputs()) }}
    union
    {{ town_membership_inputs() }}
{%- endmacro %}

{#- Inputs of the "as reported" history: every accepted submission of a partition with
    its version, receipt time and forms (known_to reads the next version's receipt). -#}
{% macro accepted_submission_inputs() -%}
    select
        county_code,
        year,
        quarter,
        submission_id || ':' || version || ':' || received_at || ':' || array_to_string(forms, ',') as input
    from {{ ref('stg_landing__submissions') }}
    where status = 'accepted'
{%- endmacro %}
