{#- The annual investment task (年度投资任务) of every characteristic town for every
    year in which it is a member at a quarter end (programme-rules section 1): the
    whole-year task the city assigned (seed annual_tasks; also in the year a town
    joins, since reports are cumulative from January), else the default policy of
    that year (seed policy_parameters : the 3-year plan divided by default_annual_task_divisor, of
    the town's last membership of the year; the tier's 3-year target where the
    registry has no plan). annual_task_source: assigned / default. -#}

with memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

annual_tasks as (

    select * from {{ ref('stg_seeds__annual_tasks') }}

),

tiers as (

    select * from {{ ref('tiers') }}

),

policy_parameters as (

    select * from {{ ref('policy_parameters') }}

),

town_years as (

    select distinct on (memberships_quarterly.town_code, memberships_quarterly.year)
        memberships_quarterly.town_code,
        memberships_quarterly.year,
        memberships_quarterly.tier,
        coalesce(memberships_quarterly.plan_investment_3y, tiers.fai_target_3y) as plan_investment_3y
    from memberships_quarterly
    left join tiers
        on memberships_quarterly.programme = tiers.programme
        and memberships_quarterly.tier = tiers.tier
    where memberships_quarterly.programme = 'characteristic'
    order by memberships_quarterly.town_code, memberships_quarterly.year, memberships_quarterly.quarter desc

),

final as (

    select
        town_years.town_code,
        town_years.year,
        town_years.plan_investment_3y,
        coalesce(
            annual_tasks.annual_task,
            round(town_years.plan_investment_3y / nullif(default_share.value, 0), 6)
        ) as annual_task,
        case
            when annual_tasks.annual_task is not null then 'assigned'
            when default_share.value is not null and town_years.plan_investment_3y is not null then 'default'
        end as annual_task_source,
        default_share.value as default_annual_task_divisor
    from town_years
    left join annual_tasks
        on town_years.town_code = annual_tasks.town_code
        and town_years.year = annual_tasks.year
    left join policy_parameters as default_share
        on default_share.parameter = 'default_annual_task_divisor'
        and {{ in_force('default_share', 'town_years.year') }}

)

select * from final
