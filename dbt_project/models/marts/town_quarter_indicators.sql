{#- Published dataset: one row per town, quarter and indicator of the current
    submissions. programme and tier are the town's membership at quarter end;
    a town that reported without being a member at quarter end keeps its
    programme from the registry and has no tier (tested, severity warn). -#}

with report_values as (

    select * from {{ ref('int_report_values_yoy') }}

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
        town_values.source_cell::text as source_cell
    from town_values
    left join memberships_quarterly
        on town_values.town_code = memberships_quarterly.town_code
        and town_values.year = memberships_quarterly.year
        and town_values.quarter = memberships_quarterly.quarter
    left join towns
        on town_values.town_code = towns.town_code

)

select * from final
