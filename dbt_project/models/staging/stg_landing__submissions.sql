with source as (

    select * from {{ source('landing', 'submissions') }}

),

final as (

    select
        submission_id,
        file_sha256,
        file_name,
        received_at,
        processed_at,
        county_code,
        year::integer as year,
        quarter::integer as quarter,
        forms,
        status,
        version,
        deadline,
        late as is_late,
        errors as n_errors,
        warnings as n_warnings,
        report_date
    from source

)

select * from final
