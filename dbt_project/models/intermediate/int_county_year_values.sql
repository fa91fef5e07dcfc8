{#- The county's own values (LZ-0) at Q4, one row per county, year and indicator:
    the bases some targets are relative to (municipal pilot GDP growth target =
    county GDP growth + 2 pp, seed scoring_indicators.target_basis). -#}

with report_values as (

    select * from {{ ref('int_report_values_current') }}

),

final as (

    select
        county_code,
        year,
        indicator,
        value
    from report_values
    where town_code is null
        and quarter = 4

)

select * from final
