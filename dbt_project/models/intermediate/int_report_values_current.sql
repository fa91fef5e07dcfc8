{#- The values of current submissions only: for each (county, year, quarter,
    form), the values loaded from its current submission.

    Incremental by reporting partition (macro incremental_partitions): a build
    rewrites the (county, year, quarter) whose current submissions (or the catalogue
    and policy seeds, current_values_inputs) changed since the table was built, and
    deletes those that lost them; the values are fetched per current submission and
    form through the unique index of raw.report_values, so adding a quarter reads
    that quarter's values only. A full refresh gives the same rows (tested). -#}

-- depends_on: {{ ref('int_submissions_current') }}
-- depends_on: {{ ref('stg_seeds__indicators') }}
-- depends_on: {{ ref('indicator_kinds') }}
-- depends_on: {{ ref('indicator_reported_growth') }}
-- depends_on: {{ ref('policy_parameters') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['county_code', 'year', 'quarter']}],
        pre_hook="{{ delete_affected_partitions(current_values_inputs()) }}",
        post_hook="{{ record_partition_inputs(current_values_inputs()) }}",
    )
}}

with report_values as (

    select * from {{ ref('stg_raw__report_values') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

{% if is_incremental() %}

affected_submissions as (

    select submissions_current.*
    from submissions_current
    inner join ({{ affected_partitions(current_values_inputs()) }}) as affected
        on submissions_current.county_code = affected.county_code
        and submissions_current.year = affected.year
        and submissions_current.quarter = affected.quarter

),

{% else %}

affected_submissions as (

    select * from submissions_current

),

{% endif %}

final as (

    select
        report_values.submission_id,
        affected_submissions.version,
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
    from affected_submissions
    inner join report_values
        on affected_submissions.submission_id = report_values.submission_id
        and affected_submissions.form = report_values.form

)

select * from final
