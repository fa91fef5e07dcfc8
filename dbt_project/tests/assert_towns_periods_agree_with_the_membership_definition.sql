-- One definition of membership: on every quarter end, a town is a member (macro
-- members_on, int_memberships_quarterly) exactly when a period of the published towns
-- dataset (after the recorded decisions) covers that day, in the same tier and list.

with members as (

    select * from {{ ref('int_memberships_quarterly') }}

),

towns as (

    select * from {{ ref('dim_towns') }}

),

quarters as (

    select * from {{ ref('int_quarters') }}

),

covered as (

    select
        quarters.quarter_end,
        towns.town_code,
        towns.programme,
        towns.tier,
        towns.list_name
    from towns
    inner join quarters
        on towns.valid_from <= quarters.quarter_end
        and (towns.valid_to is null or quarters.quarter_end <= towns.valid_to)

),

member_days as (

    select quarter_end, town_code, programme, tier, list_name
    from members

),

final as (

    (select 'not in towns' as problem, * from member_days except select 'not in towns', * from covered)
    union all
    (select 'not a member' as problem, * from covered except select 'not a member', * from member_days)

)

select * from final
