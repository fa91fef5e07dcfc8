with source as (

    select * from {{ source('landing', 'files') }}

),

final as (

    select
        file_sha256,
        size_bytes,
        archive_path,
        first_received_at
    from source

)

select * from final
