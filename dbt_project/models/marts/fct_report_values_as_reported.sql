{#- "As reported" history: every value of every accepted submission with the
    time range during which it was the current value of its (county, period,
    form): known_from = receipt of its submission, known_to = receipt of the next
    accepted submission carrying the same form (exclusive; null while current).
    What was known at time T:
        select * from marts.fct_report_values_as_reported
        where known_from <= T and (known_to is null or known_to > T)
    (a whole-warehouse rebuild as of a day: dbt build --full-refresh --vars
    '{as_of_date: 2016-08-01}'). Pending submissions are never current. The forms
    of a submission are its `forms` array, as in int_submissions_current.

    Incremental by reporting partition (macro incremental_partitions): a
    (county, year, quarter) is rewritten when its accepted submissions changed
    (a new version, a renumbering, a submission forgotten by `ops reprocess`):
    the inputs are every accepted submission with its version, receipt time and
    forms; the values are fetched per submission and form through the unique
    index of raw.report_values. A full refresh gives the same rows (tested). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['county_code', 'year', 'quarter']}],
        pre_hook="{{ delete_affected_partitions(accepted_submission_inputs()) }}",
        post_hook="{{ record_partition_inputs(accepted_submission_inputs()) }}",
    )
}}

with report_values as (

    select * from {{ ref('stg_raw__report_values') }}

),

submissions as (

    select * from {{ ref('stg_landing__submissions') }}

),

accepted_forms as (

    select
        submissions.submission_id,
        submissions.county_code,
        submissions.year,
        submissions.quarter,
        submissions.version,
        submissions.received_at,
        forms.form
    from submissions
    cross join lateral unnest(submissions.forms) as forms (form)
    where submissions.status = 'accepted'
    {%- if is_incremental() %}
        and (submissions.county_code, submissions.year, submissions.quarter) in (
            {{ affected_partitions(accepted_submission_inputs()) }}
        )
    {%- endif %}

),

validity as (

    select
        accepted_forms.*,
        lead(accepted_forms.received_at) over (
            partition by accepted_forms.county_code, accepted_forms.year, accepted_forms.quarter, accepted_forms.form
            order by accepted_forms.version
        ) as known_to
    from accepted_forms

),

final as (

    select
        report_values.county_code::text as county_code,
        report_values.year::integer as year,
        report_values.quarter::integer as quarter,
        report_values.form::text as form,
        report_values.town_code::text as town_code,
        report_values.indicator::text as indicator,
        report_values.value::numeric as value,
        validity.version::integer as version,
        validity.received_at::timestamptz as known_from,
        validity.known_to::timestamptz as known_to,
        (validity.known_to is null) as is_current,
        report_values.source_file_sha256::text as source_file_sha256,
        report_values.source_sheet::text as source_sheet,
        report_values.source_cell::text as source_cell
    from report_values
    inner join validity
        on report_values.submission_id = validity.submission_id
        and report_values.form = validity.form

)

select * from final
