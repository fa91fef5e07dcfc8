with source as (

    select * from {{ ref('towns') }}

),

final as (

    select
        town_code,
        county_code,
        name_zh,
        aliases,
        unit_kind as programme,
        admin_code,
        source as registry_source
    from source

)

select * from final
