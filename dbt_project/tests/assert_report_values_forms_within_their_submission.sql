-- The forms of a submission are its `forms` array (int_submissions_current reads no
-- values): no value may carry a form its submission does not list. Fails with each
-- submission and form that has values outside the list. Whole table, and cheap: one
-- probe of the unique index of raw.report_values (submission_id, form, ...) per
-- submission and form of the catalogue that it does not list.

with submissions as (

    select * from {{ ref('stg_landing__submissions') }}

),

catalogue_forms as (

    select distinct form from {{ ref('stg_seeds__indicators') }}

),

unlisted as (

    select
        submissions.submission_id,
        catalogue_forms.form
    from submissions
    cross join catalogue_forms
    where not (catalogue_forms.form = any(submissions.forms))

),

final as (

    select unlisted.*
    from unlisted
    where exists (
        select 1
        from {{ ref('stg_raw__report_values') }} as report_values
        where report_values.submission_id = unlisted.submission_id
            and report_values.form = unlisted.form
    )

)

select * from final
