{#- The values of current submissions only: for each (county, year, quarter,
    form), the values loaded from its current submission. -#}

with report_values as (

    select * from {{ ref('stg_raw__report_values') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

final as (

    select
        report_values.submission_id,
        submissions_current.version,
        report_values.county_code,
        report_values.year,
        report_values.quarter,
        report_values.form,
        report_values.town_code,
        report_values.indicator,
        report_values.value,
        report_values.value_prev_year_reported,
        report_values.prev_year_source_cell,
        report_values.source_file_sha256,
        report_values.source_sheet,
        report_values.source_cell
    from report_values
    inner join submissions_current
        on report_values.submission_id = submissions_current.submission_id
        and report_values.form = submissions_current.form

)

select * from final
