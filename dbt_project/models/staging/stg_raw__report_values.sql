with source as (

    select * from {{ source('raw', 'report_values') }}

),

final as (

    select
        submission_id,
        county_code,
        year::integer as year,
        quarter::integer as quarter,
        form,
        town_code,
        indicator,
        value,
        value_prev_year as value_prev_year_reported,
        prev_year_source_cell,
        source_file_sha256,
        source_sheet,
        source_cell
    from source

)

select * from final
