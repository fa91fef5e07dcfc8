with source as (

    select * from {{ ref('memberships') }}

),

final as (

    select
        town_code,
        programme,
        tier,
        list_name,
        valid_from,
        valid_to,
        plan_investment_3y,
        event,
        note
    from source

)

select * from final
