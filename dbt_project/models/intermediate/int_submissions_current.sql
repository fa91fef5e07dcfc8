{#- The current submission of every (county, year, quarter, form), as landing defines it
    (source landing.current_submission_forms: the accepted submission with the highest version
    among those that carry the form). The values are not read here: this model stays small
    and cheap at any scale.
    As of var as_of_date: only submissions received by the end of that day count, so a build
    with the var set rebuilds what was known then (macro current_submission_forms). -#}

with current_forms as (

    select * from {{ current_submission_forms() }}

),

accepted_versions as (

    select
        submissions.county_code,
        submissions.year,
        submissions.quarter,
        unnest(submissions.forms) as form
    from {{ ref('stg_landing__submissions') }} as submissions
    where submissions.status = 'accepted'
        and submissions.received_at < {{ known_before() }}

),

versions_per_form as (

    select
        county_code,
        year,
        quarter,
        form,
        count(*) as n_accepted_versions
    from accepted_versions
    group by county_code, year, quarter, form

),

final as (

    select
        current_forms.county_code,
        current_forms.year::integer as year,
        current_forms.quarter::integer as quarter,
        current_forms.form,
        current_forms.submission_id,
        current_forms.version,
        current_forms.file_sha256,
        current_forms.received_at,
        versions_per_form.n_accepted_versions
    from current_forms
    inner join versions_per_form
        on current_forms.county_code = versions_per_form.county_code
        and current_forms.year = versions_per_form.year
        and current_forms.quarter = versions_per_form.quarter
        and current_forms.form = versions_per_form.form

)

select * from final
