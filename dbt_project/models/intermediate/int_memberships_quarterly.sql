{#- One row per town and quarter at whose end the town is a member of a list, by
    THE membership definition (macro members_on, programme-rules section 1): the
    registry's lists less what recorded decisions ended, on the quarter's last day.
    The tier and list are those of that day. -#}

with quarters as (

    select * from {{ ref('int_quarters') }}

),

towns as (

    select * from {{ ref('stg_seeds__towns') }}

),

quarter_ends as (

    select quarter_end as day
    from quarters

),

members as (

    {{ members_on('quarter_ends', ref('stg_seeds__memberships'), ref('int_decisions'), ref('decision_actions')) }}

),

final as (

    select
        quarters.year,
        quarters.quarter,
        quarters.quarter_index,
        quarters.quarter_end,
        members.town_code,
        towns.county_code,
        members.programme,
        members.tier,
        members.list_name,
        members.valid_from,
        members.valid_to,
        members.plan_investment_3y,
        members.event
    from members
    inner join quarters
        on members.day = quarters.quarter_end
    left join towns
        on members.town_code = towns.town_code

)

select * from final
