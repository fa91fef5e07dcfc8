-- Raw values belong to an accepted (or, while it is being audited, pending)
-- submission and agree with it on county,
-- period and file: a value loaded under the wrong submission would otherwise be
-- published for the wrong county or quarter.
--
-- Read per submission through the index of raw.report_values (submission_id first):
-- the values of the accepted submissions of the partitions the last build of
-- fct_report_values_as_reported wrote (every accepted value is published there; all
-- partitions after a full refresh), of every pending submission, and any value left
-- under a submission of another status (one index probe per such submission). Values
-- cannot lose their submission (foreign key), and a submission's values never change
-- after it is decided (ingest: accepted values stay, refused ones are deleted).

with submissions as (

    select * from {{ ref('stg_landing__submissions') }}

),

checked_submissions as (

    select submissions.*
    from submissions
    where submissions.status = 'pending'
        or (submissions.status = 'accepted'
            and {{ rebuilt_partitions_condition(ref('fct_report_values_as_reported'), 'submissions') }})
        or (submissions.status not in ('accepted', 'pending')
            and exists (
                select 1 from {{ ref('stg_raw__report_values') }} as report_values
                where report_values.submission_id = submissions.submission_id
            ))

),

final as (

    select
        report_values.submission_id,
        report_values.form,
        report_values.town_code,
        report_values.indicator,
        checked_submissions.status
    from checked_submissions
    inner join {{ ref('stg_raw__report_values') }} as report_values
        on report_values.submission_id = checked_submissions.submission_id
    where checked_submissions.status not in ('accepted', 'pending')
        or checked_submissions.county_code is distinct from report_values.county_code
        or checked_submissions.year is distinct from report_values.year
        or checked_submissions.quarter is distinct from report_values.quarter
        or checked_submissions.file_sha256 <> report_values.source_file_sha256

)

select * from final
