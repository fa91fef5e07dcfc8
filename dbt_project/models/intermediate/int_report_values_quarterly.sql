{#- Quarterly values derived from the year-to-date values: for flows (kind
    flow_ytd) value_quarter = this quarter's YTD − the previous quarter's YTD of
    the same year (Q1: the YTD itself); null when either is missing (a town that
    joined during the year has no YTD of the quarter before it joined). Stocks and
    rates have no quarterly flow. -#}

with report_values as (

    select * from {{ ref('int_report_values_current') }}

),

indicators as (

    select * from {{ ref('stg_seeds__indicators') }}

),

flows as (

    select
        report_values.*,
        indicators.kind
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
        and this_quarter.town_code is not distinct from previous_quarter.town_code
        and this_quarter.indicator = previous_quarter.indicator
        and this_quarter.year = previous_quarter.year
        and this_quarter.quarter - 1 = previous_quarter.quarter

)

select * from final
