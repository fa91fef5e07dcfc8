-- The FAI totals of programme_kpis equal the sum of the Q4 FAI published in
-- town_quarter_indicators for the towns of the KPI's tiers (and list) at the end
-- of Q4.

with programme_kpis as (

    select * from {{ ref('fct_programme_kpis') }}

),

city_targets as (

    select * from {{ ref('city_targets') }}

),

town_quarter_indicators as (

    select * from {{ ref('fct_town_quarter_indicators') }}

),

memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

town_sums as (

    select
        city_targets.kpi,
        town_quarter_indicators.year,
        sum(town_quarter_indicators.value_ytd) as total
    from city_targets
    inner join memberships_quarterly
        on city_targets.programme = memberships_quarterly.programme
        and memberships_quarterly.tier = any(string_to_array(city_targets.tiers, '|'))
        and (city_targets.list_name is null or city_targets.list_name = memberships_quarterly.list_name)
        and memberships_quarterly.quarter = 4
    inner join town_quarter_indicators
        on memberships_quarterly.town_code = town_quarter_indicators.town_code
        and memberships_quarterly.year = town_quarter_indicators.year
        and town_quarter_indicators.quarter = 4
        and town_quarter_indicators.indicator = 'fai'
    where city_targets.measure = 'fai_total'
    group by 1, 2

),

final as (

    select
        programme_kpis.year,
        programme_kpis.kpi,
        programme_kpis.value,
        town_sums.total
    from programme_kpis
    inner join city_targets
        on programme_kpis.kpi = city_targets.kpi
    left join town_sums
        on programme_kpis.kpi = town_sums.kpi
        and programme_kpis.year = town_sums.year
    where city_targets.measure = 'fai_total'
        and abs(programme_kpis.value - coalesce(town_sums.total, 0)) > 0.000001

)

select * from final
