{#- Published dataset programme_kpis: the city-level targets of the work plan
    (programme-rules section 2; seed city_targets), one row per KPI and year with
    Q4 data within the KPI's first_year..last_year. How each is measured (seed
    column measure), over the towns of the KPI's programme and tiers (and list):
      fai_total           sum of the Q4 YTD fixed-asset investment of the members
                          at the end of Q4;
      towns_at_year_end   members at the end of Q4 (31 December);
      towns_entered       membership periods in the tiers that start in the year
                          and do not follow a period in the same tiers (new
                          towns on the list, including promotions);
      towns_downgraded    periods starting in the year with event downgrade whose
                          previous period was in the tiers;
      downgrade_warnings  downgrade warnings of the year's assessment.
    met: value ≥ target (comparison at_least) or value ≤ target (at_most). For a
    target due later (target_year), met says whether it is reached already. -#}

with city_targets as (

    select * from {{ ref('city_targets') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

memberships as (

    select * from {{ ref('stg_seeds__memberships') }}

),

report_values as (

    select * from {{ ref('int_report_values_current') }}

),

programme_forms as (

    select * from {{ ref('programme_forms') }}

),

annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

years as (

    select distinct year
    from submissions_current
    where quarter = 4

),

kpi_years as (

    select
        years.year,
        city_targets.*,
        string_to_array(city_targets.tiers, '|') as tier_list
    from city_targets
    inner join years
        on years.year between city_targets.first_year and city_targets.last_year

),

q4_members as (

    select
        kpi_years.kpi,
        kpi_years.year,
        memberships_quarterly.town_code,
        memberships_quarterly.county_code,
        programme_forms.form
    from kpi_years
    inner join memberships_quarterly
        on kpi_years.year = memberships_quarterly.year
        and memberships_quarterly.quarter = 4
        and kpi_years.programme = memberships_quarterly.programme
        and memberships_quarterly.tier = any(kpi_years.tier_list)
        and (kpi_years.list_name is null or kpi_years.list_name = memberships_quarterly.list_name)
    inner join programme_forms
        on memberships_quarterly.programme = programme_forms.programme

),

fai_totals as (

    select
        q4_members.kpi,
        q4_members.year,
        sum(report_values.value) as value,
        count(*) as n_towns
    from q4_members
    inner join kpi_years
        on q4_members.kpi = kpi_years.kpi
        and q4_members.year = kpi_years.year
    left join report_values
        on q4_members.town_code = report_values.town_code
        and q4_members.year = report_values.year
        and report_values.quarter = 4
        and q4_members.form = report_values.form
        and report_values.indicator = 'fai'
    where kpi_years.measure = 'fai_total'
    group by q4_members.kpi, q4_members.year

),

towns_at_year_end as (

    select
        q4_members.kpi,
        q4_members.year,
        count(distinct q4_members.town_code) as value,
        count(distinct q4_members.town_code) as n_towns
    from q4_members
    inner join kpi_years
        on q4_members.kpi = kpi_years.kpi
        and q4_members.year = kpi_years.year
    where kpi_years.measure = 'towns_at_year_end'
    group by q4_members.kpi, q4_members.year

),

periods as (

    select
        memberships.*,
        lag(memberships.tier) over (
            partition by memberships.town_code, memberships.programme
            order by memberships.valid_from
        ) as previous_tier
    from memberships

),

period_events as (

    select
        kpi_years.kpi,
        kpi_years.year,
        count(distinct periods.town_code) as value,
        count(distinct periods.town_code) as n_towns
    from kpi_years
    inner join periods
        on kpi_years.programme = periods.programme
        and extract(year from periods.valid_from) = kpi_years.year
    where (
        kpi_years.measure = 'towns_entered'
        and periods.tier = any(kpi_years.tier_list)
        and (kpi_years.list_name is null or kpi_years.list_name = periods.list_name)
        and (periods.previous_tier is null or not periods.previous_tier = any(kpi_years.tier_list))
    ) or (
        kpi_years.measure = 'towns_downgraded'
        and periods.event = 'downgrade'
        and periods.previous_tier = any(kpi_years.tier_list)
    )
    group by kpi_years.kpi, kpi_years.year

),

warnings as (

    select
        kpi_years.kpi,
        kpi_years.year,
        count(*) filter (where annual_assessment.downgrade_warning) as value,
        count(*) as n_towns
    from kpi_years
    inner join annual_assessment
        on kpi_years.year = annual_assessment.year
        and kpi_years.programme = annual_assessment.programme
        and annual_assessment.tier = any(kpi_years.tier_list)
    where kpi_years.measure = 'downgrade_warnings'
    group by kpi_years.kpi, kpi_years.year

),

measured as (

    select * from fai_totals
    union all
    select * from towns_at_year_end
    union all
    select * from period_events
    union all
    select * from warnings

),

final as (

    select
        kpi_years.year::integer as year,
        kpi_years.kpi::text as kpi,
        coalesce(measured.value, 0)::numeric(20, 6) as value,
        kpi_years.target::numeric(20, 6) as target,
        kpi_years.unit::text as unit,
        (case kpi_years.comparison
            when 'at_least' then coalesce(measured.value, 0) >= kpi_years.target
            when 'at_most' then coalesce(measured.value, 0) <= kpi_years.target
        end)::boolean as met,
        kpi_years.name_zh::text as name_zh,
        kpi_years.comparison::text as comparison,
        kpi_years.target_year::integer as target_year,
        coalesce(measured.n_towns, 0)::integer as n_towns,
        kpi_years.source::text as source
    from kpi_years
    left join measured
        on kpi_years.kpi = measured.kpi
        and kpi_years.year = measured.year

)

select * from final
