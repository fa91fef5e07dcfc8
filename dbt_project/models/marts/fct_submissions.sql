{#- Published dataset: one row per distinct file a county sent (accepted versions
    and refused files), for timeliness and versions.
    is_current: the submission is the current one of its (county, period) for
    at least one form. The internal submission_id is not published: it depends
    on the order in which files were processed, the file hash does not. -#}

with submissions as (

    select * from {{ ref('stg_landing__submissions') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

current_ids as (

    select distinct submission_id
    from submissions_current

),

final as (

    select
        submissions.county_code::text as county_code,
        submissions.year::integer as year,
        submissions.quarter::integer as quarter,
        submissions.version::integer as version,
        submissions.received_at::timestamptz as received_at,
        submissions.deadline::date as deadline,
        submissions.is_late::boolean as late,
        submissions.status::text as status,
        submissions.n_errors::integer as errors,
        submissions.n_warnings::integer as warnings,
        submissions.file_sha256::text as file_sha256,
        (current_ids.submission_id is not null) as is_current
    from submissions
    left join current_ids
        on submissions.submission_id = current_ids.submission_id
    -- a pending submission is being audited right now: not yet an outcome to publish
    where submissions.status <> 'pending'

)

select * from final
