{#- Current values with the same period of the previous year and growth:
    growth_pct = (value / value_prev_year - 1) * 100 (6 decimals), for kinds with
    yoy_growth (flows and stocks, not reported rates); null when either value is
    null or the previous value is 0. reported_growth_pct: the growth the county
    reported itself for the indicator (gdp -> gdp_growth, seed
    indicator_reported_growth), of the same row and quarter. -#}

with report_values as (

    select * from {{ ref('int_report_values_current') }}

),

indicators as (

    select * from {{ ref('stg_seeds__indicators') }}

),

indicator_kinds as (

    select * from {{ ref('indicator_kinds') }}

),

indicator_reported_growth as (

    select * from {{ ref('indicator_reported_growth') }}

),

with_catalogue as (

    select
        report_values.*,
        indicators.unit,
        indicators.kind,
        coalesce(indicator_kinds.yoy_growth, false) as has_yoy_growth,
        indicator_reported_growth.growth_indicator
    from report_values
    left join indicators
        on report_values.form = indicators.form
        and report_values.indicator = indicators.indicator
    left join indicator_kinds
        on indicators.kind = indicator_kinds.kind
    left join indicator_reported_growth
        on report_values.form = indicator_reported_growth.form
        and report_values.indicator = indicator_reported_growth.indicator

),

with_prior_year as (

    select
        with_catalogue.*,
        prior_year.value as value_prev_year,
        reported_growth.value as reported_growth_pct
    from with_catalogue
    left join report_values as prior_year
        on with_catalogue.county_code = prior_year.county_code
        and with_catalogue.form = prior_year.form
        and with_catalogue.town_code is not distinct from prior_year.town_code
        and with_catalogue.indicator = prior_year.indicator
        and with_catalogue.year - 1 = prior_year.year
        and with_catalogue.quarter = prior_year.quarter
    left join report_values as reported_growth
        on with_catalogue.county_code = reported_growth.county_code
        and with_catalogue.form = reported_growth.form
        and with_catalogue.town_code is not distinct from reported_growth.town_code
        and with_catalogue.growth_indicator = reported_growth.indicator
        and with_catalogue.year = reported_growth.year
        and with_catalogue.quarter = reported_growth.quarter

),

final as (

    select
        submission_id,
        version,
        county_code,
        year,
        quarter,
        form,
        town_code,
        indicator,
        unit,
        kind,
        value,
        value_prev_year,
        case
            when has_yoy_growth and value_prev_year <> 0
                then round((value / value_prev_year - 1) * 100, 6)
        end as growth_pct,
        reported_growth_pct,
        source_file_sha256,
        source_sheet,
        source_cell
    from with_prior_year

)

select * from final
