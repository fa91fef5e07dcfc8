{#- Quarterly values derived from the year-to-date values: for flows (kind
    flow_ytd) value_quarter = this quarter's YTD − the previous quarter's YTD of
    the same year (Q1: the YTD itself); null when either is missing (a town that
    joined during the year has no YTD of the quarter before it joined). Stocks and
    rates have no quarterly flow.

    Incremental by reporting partition (macro incremental_partitions): a build
    rewrites the (county, year, quarter) whose current submissions or seeds changed
    and the next quarter of the same year (which subtracts them). The previous
    quarter is an equi-join on the full key (one row per value). A full refresh
    gives the same rows (tested). -#}

-- depends_on: {{ ref('int_submissions_current') }}
-- depends_on: {{ ref('indicator_kinds') }}
-- depends_on: {{ ref('indicator_reported_growth') }}
-- depends_on: {{ ref('policy_parameters') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['county_code', 'year', 'quarter']}],
        pre_hook=["{{ hash_joins_only() }}", "{{ hash_joins_on_full_refresh() }}",
                  "{{ delete_affected_partitions(current_values_read_inputs(), ['next_quarter']) }}"],
        post_hook="{{ record_partition_inputs(current_values_read_inputs(), ['next_quarter']) }}",
    )
}}

{% if is_incremental() %}

with affected as (

    {{ affected_partitions(current_values_read_inputs(), ['next_quarter']) }}

),

report_values as not materialized (

    {#- the affected partitions and the quarter before each -#}
    select current_values.*
    from {{ ref('int_report_values_current') }} as current_values
    inner join (
        select county_code, year, quarter from affected
        union
        select county_code, year, quarter - 1 from affected where quarter > 1
    ) as needed
        on current_values.county_code = needed.county_code
        and current_values.year = needed.year
        and current_values.quarter = needed.quarter

),

{% else %}

with report_values as not materialized (

    select * from {{ ref('int_report_values_current') }}

),

{% endif %}

indicators as (

    select * from {{ ref('stg_seeds__indicators') }}

),

flows as not materialized (

    {#- only what the join and the output read: the hash table of the previous quarter stays small -#}
    select
        report_values.county_code,
        report_values.year,
        report_values.quarter,
        report_values.form,
        report_values.town_code,
        report_values.indicator,
        report_values.value
    from report_values
    inner join indicators
        on report_values.form = indicators.form
        and report_values.indicator = indicators.indicator
    where indicators.kind = 'flow_ytd'

),

final as (

    select
        this_quarter.county_code,
        this_quarter.year,
        this_quarter.quarter,
        this_quarter.form,
        this_quarter.town_code,
        this_quarter.indicator,
        this_quarter.value as value_ytd,
        previous_quarter.value as value_ytd_previous_quarter,
        case
            when this_quarter.quarter = 1 then this_quarter.value
            else this_quarter.value - previous_quarter.value
        end as value_quarter
    from flows as this_quarter
    left join flows as previous_quarter
        on this_quarter.county_code = previous_quarter.county_code
        and this_quarter.form = previous_quarter.form
        and coalesce(this_quarter.town_code, '') = coalesce(previous_quarter.town_code, '')  -- hashable; town codes are never ''
        and this_quarter.indicator = previous_quarter.indicator
        and this_quarter.year = previous_quarter.year
        and this_quarter.quarter - 1 = previous_quarter.quarter
    {%- if is_incremental() %}
    where (this_quarter.county_code, this_quarter.year, this_quarter.quarter) in (select * from affected)
    {%- endif %}

)

select * from final
