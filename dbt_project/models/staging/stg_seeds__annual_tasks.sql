with source as (

    select * from {{ ref('annual_tasks') }}

),

final as (

    select
        town_code,
        year,
        annual_task,
        source,
        note
    from source

)

select * from final
