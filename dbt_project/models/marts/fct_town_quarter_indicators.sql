{#- Published dataset town_quarter_indicators: one row per town, quarter and
    indicator of the current submissions. programme and tier are the town's
    membership at quarter end; a town that reported without being a member at
    quarter end keeps its programme from the registry and has no tier (tested,
    severity warn). value_quarter: the quarter alone, derived from the YTD values.
    value_ytd_prev_year is the prior-year value USED (int_report_values_yoy: the
    reported 上年同期 of the current submission, else last year's accepted report;
    prev_year_source says which, prev_year_last_report and prev_year_revision_pct
    show a revision).

    Incremental by reporting partition (macro incremental_partitions): the rows of a
    (county, year, quarter) are rewritten together when its inputs changed since the
    table was built (town_quarter_inputs: its current submission of each form, the
    catalogue and policy seeds, every town's programme and tier at quarter end) —
    a new or corrected report, a forgotten version that makes an older one current
    again, a registry edit or decision — and with them the same quarter of the next
    year (value_ytd_prev_year, growth_pct) and the next quarter of the same year
    (value_quarter). Partitions that lost their inputs are deleted. A full refresh
    gives the same rows (tested). -#}

-- depends_on: {{ ref('int_submissions_current') }}
-- depends_on: {{ ref('stg_seeds__indicators') }}
-- depends_on: {{ ref('indicator_kinds') }}
-- depends_on: {{ ref('indicator_reported_growth') }}
-- depends_on: {{ ref('policy_parameters') }}
-- depends_on: {{ ref('int_quarters') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['county_code', 'year', 'quarter']}],
        pre_hook=["{{ hash_joins_on_full_refresh() }}",
                  "{{ delete_affected_partitions(town_quarter_inputs(), ['next_year', 'next_quarter']) }}"],
        post_hook=["{{ record_partition_inputs(town_quarter_inputs(), ['next_year', 'next_quarter'],
                                               audited_by_gate=true) }}",
                   "{{ fault_point('dbt.town_quarter_indicators') }}"],
    )
}}

{% if is_incremental() %}

with affected as (

    {{ affected_partitions(town_quarter_inputs(), ['next_year', 'next_quarter']) }}

),

report_values as not materialized (

    select yoy.*
    from {{ ref('int_report_values_yoy') }} as yoy
    inner join affected
        on yoy.county_code = affected.county_code
        and yoy.year = affected.year
        and yoy.quarter = affected.quarter

),

report_values_quarterly as not materialized (

    select quarterly.*
    from {{ ref('int_report_values_quarterly') }} as quarterly
    inner join affected
        on quarterly.county_code = affected.county_code
        and quarterly.year = affected.year
        and quarterly.quarter = affected.quarter

),

{% else %}

with report_values as not materialized (

    select * from {{ ref('int_report_values_yoy') }}

),

report_values_quarterly as not materialized (

    select * from {{ ref('int_report_values_quarterly') }}

),

{% endif %}

memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

towns as (

    select * from {{ ref('stg_seeds__towns') }}

),

town_values as (

    select * from report_values
    where town_code is not null

),

final as (

    select
        town_values.year::integer as year,
        town_values.quarter::integer as quarter,
        town_values.county_code::text as county_code,
        town_values.town_code::text as town_code,
        coalesce(memberships_quarterly.programme, towns.programme)::text as programme,
        memberships_quarterly.tier::text as tier,
        town_values.indicator::text as indicator,
        town_values.unit::text as unit,
        town_values.value::numeric(20, 6) as value_ytd,
        town_values.value_prev_year::numeric(20, 6) as value_ytd_prev_year,
        town_values.growth_pct::numeric(20, 6) as growth_pct,
        town_values.reported_growth_pct::numeric(20, 6) as reported_growth_pct,
        town_values.source_file_sha256::text as source_file_sha256,
        town_values.source_sheet::text as source_sheet,
        town_values.source_cell::text as source_cell,
        report_values_quarterly.value_quarter::numeric(20, 6) as value_quarter,
        town_values.prev_year_source::text as prev_year_source,
        town_values.prev_year_last_report::numeric(20, 6) as prev_year_last_report,
        town_values.prev_year_revision_pct::numeric(20, 6) as prev_year_revision_pct,
        town_values.prev_year_source_cell::text as prev_year_source_cell
    from town_values
    left join report_values_quarterly
        on town_values.county_code = report_values_quarterly.county_code
        and town_values.year = report_values_quarterly.year
        and town_values.quarter = report_values_quarterly.quarter
        and town_values.form = report_values_quarterly.form
        and town_values.town_code = report_values_quarterly.town_code
        and town_values.indicator = report_values_quarterly.indicator
    left join memberships_quarterly
        on town_values.town_code = memberships_quarterly.town_code
        and town_values.year = memberships_quarterly.year
        and town_values.quarter = memberships_quarterly.quarter
    left join towns
        on town_values.town_code = towns.town_code

)

select * from final
