{#- The current submission of every (county, year, quarter, form): the accepted
    submission with the highest version among those that carry the form. A
    workbook carries all its forms, so a new workbook supersedes all of them; a
    CSV file carries one form (reporting-spec section 2), so a corrected LZ-1.csv
    supersedes LZ-1 only. The forms of a submission are its `forms` array: the
    ingest records there every form sheet it parsed, and loads values only from
    those (ingest/parse.py), so the values never carry another form (tested:
    assert_report_values_forms_within_their_submission). The values are not read
    here: this model stays small and cheap at any scale.
    As of var as_of_date: only submissions received by the end of that day count,
    so a build with the var set rebuilds what was known then (macro known_before). -#}

with submissions as (

    select * from {{ ref('stg_landing__submissions') }}

),

accepted as (

    select * from submissions
    where status = 'accepted'
        and received_at < {{ known_before() }}

),

submission_forms as (

    select
        submission_id,
        unnest(forms) as form
    from accepted

),

ranked as (

    select
        accepted.county_code,
        accepted.year,
        accepted.quarter,
        submission_forms.form,
        accepted.submission_id,
        accepted.version,
        accepted.file_sha256,
        accepted.received_at,
        count(*) over (
            partition by accepted.county_code, accepted.year, accepted.quarter, submission_forms.form
        ) as n_accepted_versions,
        row_number() over (
            partition by accepted.county_code, accepted.year, accepted.quarter, submission_forms.form
            order by accepted.version desc
        ) as version_rank
    from accepted
    inner join submission_forms
        on accepted.submission_id = submission_forms.submission_id

),

final as (

    select
        county_code,
        year,
        quarter,
        form,
        submission_id,
        version,
        file_sha256,
        received_at,
        n_accepted_versions
    from ranked
    where version_rank = 1

)

select * from final
