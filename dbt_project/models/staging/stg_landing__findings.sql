with source as (

    select * from {{ source('landing', 'findings') }}

),

final as (

    select
        submission_id,
        finding_no,
        severity,
        code as finding_code,
        sheet,
        cell,
        town_code,
        indicator,
        message_zh,
        message_en
    from source

)

select * from final
