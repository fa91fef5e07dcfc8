{#- One row per town and quarter at whose end the town is a member of a list
    (valid_from <= quarter end <= valid_to, valid_to inclusive and open when null).
    annual_task: a third of the membership's 3-year plan (6 decimals), or of its tier's 3-year
    target where the registry has no plan (programme-rules section 1). -#}

with quarters as (

    select * from {{ ref('int_quarters') }}

),

memberships as (

    select * from {{ ref('stg_seeds__memberships') }}

),

towns as (

    select * from {{ ref('stg_seeds__towns') }}

),

tiers as (

    select * from {{ ref('tiers') }}

),

member_at_quarter_end as (

    select
        quarters.year,
        quarters.quarter,
        quarters.quarter_index,
        quarters.quarter_end,
        memberships.town_code,
        memberships.programme,
        memberships.tier,
        memberships.list_name,
        memberships.valid_from,
        memberships.valid_to,
        memberships.plan_investment_3y
    from memberships
    inner join quarters
        on memberships.valid_from <= quarters.quarter_end
        and (memberships.valid_to is null or memberships.valid_to >= quarters.quarter_end)

),

final as (

    select
        member_at_quarter_end.year,
        member_at_quarter_end.quarter,
        member_at_quarter_end.quarter_index,
        member_at_quarter_end.quarter_end,
        member_at_quarter_end.town_code,
        towns.county_code,
        member_at_quarter_end.programme,
        member_at_quarter_end.tier,
        member_at_quarter_end.list_name,
        member_at_quarter_end.valid_from,
        member_at_quarter_end.valid_to,
        member_at_quarter_end.plan_investment_3y,
        round(coalesce(member_at_quarter_end.plan_investment_3y, tiers.fai_target_3y) / 3, 6) as annual_task
    from member_at_quarter_end
    left join towns
        on member_at_quarter_end.town_code = towns.town_code
    left join tiers
        on member_at_quarter_end.programme = tiers.programme
        and member_at_quarter_end.tier = tiers.tier

)

select * from final
