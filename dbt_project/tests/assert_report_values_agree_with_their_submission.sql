-- Raw values belong to an accepted (or, while it is being audited, pending)
-- submission and agree with it on county,
-- period and file: a value loaded under the wrong submission would otherwise be
-- published for the wrong county or quarter.

with report_values as (

    select * from {{ ref('stg_raw__report_values') }}

),

submissions as (

    select * from {{ ref('stg_landing__submissions') }}

),

final as (

    select
        report_values.submission_id,
        report_values.form,
        report_values.town_code,
        report_values.indicator,
        submissions.status
    from report_values
    left join submissions
        on report_values.submission_id = submissions.submission_id
    where submissions.submission_id is null
        or submissions.status not in ('accepted', 'pending')
        or submissions.county_code is distinct from report_values.county_code
        or submissions.year is distinct from report_values.year
        or submissions.quarter is distinct from report_values.quarter
        or submissions.file_sha256 <> report_values.source_file_sha256

)

select * from final
