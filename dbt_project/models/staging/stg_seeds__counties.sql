with source as (

    select * from {{ ref('counties') }}

),

final as (

    select
        county_code,
        name_zh,
        short_name,
        kind as county_kind
    from source

)

select * from final
