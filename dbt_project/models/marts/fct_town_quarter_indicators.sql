{#- Published dataset town_quarter_indicators: one row per town, quarter and
    indicator of the current submissions. programme and tier are the town's
    membership at quarter end; a town that reported without being a member at
    quarter end keeps its programme from the registry and has no tier (tested,
    severity warn). value_quarter: the quarter alone, derived from the YTD values.
    value_ytd_prev_year is the prior-year value USED (int_report_values_yoy: the
    reported 上年同期 of the current submission, else last year's accepted report;
    prev_year_source says which, prev_year_last_report and prev_year_revision_pct
    show a revision).

    Incremental: the rows of a (county, year, quarter) are rebuilt together
    (delete+insert on those keys) when that partition is affected —
      * its current submission changed (a new or corrected report: the set of
        source files of its town rows differs from what was built), or a
        town's programme or tier at quarter end changed (registry edit);
      * or such a change happened in the same quarter of the previous year
        (value_ytd_prev_year, growth_pct) or in the previous quarter of the same
        year (value_quarter).
    Partitions that no longer have a current submission (a build with an earlier
    as_of_date) are deleted by the pre-hook. A full refresh gives the same rows. -#}

-- depends_on: {{ ref('int_report_values_current') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['county_code', 'year', 'quarter'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{% if is_incremental() %}
            delete from {{ this }} as built
            where not exists (
                select 1 from {{ ref('int_report_values_current') }} as current_values
                where current_values.town_code is not null
                    and current_values.county_code = built.county_code
                    and current_values.year = built.year
                    and current_values.quarter = built.quarter
            )
            {% else %}select 1{% endif %}"
        ],
    )
}}

with report_values as (

    select * from {{ ref('int_report_values_yoy') }}

),

report_values_quarterly as (

    select * from {{ ref('int_report_values_quarterly') }}

),

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

current_partitions as (

    select
        town_values.county_code,
        town_values.year,
        town_values.quarter,
        town_values.town_code,
        town_values.source_file_sha256,
        coalesce(memberships_quarterly.programme, towns.programme) as programme,
        memberships_quarterly.tier
    from town_values
    left join memberships_quarterly
        on town_values.town_code = memberships_quarterly.town_code
        and town_values.year = memberships_quarterly.year
        and town_values.quarter = memberships_quarterly.quarter
    left join towns
        on town_values.town_code = towns.town_code
    group by 1, 2, 3, 4, 5, 6, 7

),

{% if is_incremental() %}

built_partitions as (

    select distinct
        county_code,
        year,
        quarter,
        town_code,
        source_file_sha256,
        programme,
        tier
    from {{ this }}

),

changed_partitions as (

    select county_code, year, quarter
    from (
        (select * from current_partitions except select * from built_partitions)
        union all
        (select * from built_partitions except select * from current_partitions)
    ) as differences
    group by 1, 2, 3

),

affected_partitions as (

    select county_code, year, quarter from changed_partitions
    union
    select county_code, year + 1, quarter from changed_partitions
    union
    select county_code, year, quarter + 1 from changed_partitions where quarter < 4

),

{% else %}

affected_partitions as (

    select distinct county_code, year, quarter
    from current_partitions

),

{% endif %}

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
    inner join affected_partitions
        on town_values.county_code = affected_partitions.county_code
        and town_values.year = affected_partitions.year
        and town_values.quarter = affected_partitions.quarter
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
