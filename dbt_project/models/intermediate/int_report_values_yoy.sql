{#- Current values with the same period of the previous year and growth
    (programme-rules section 2, "Definitions"):
      value_prev_year      the prior-year value USED: the 上年同期 the county reported
                           beside the current value (it includes revisions, as
                           official statistics do), else last year's accepted report;
      prev_year_source     reported / last_year_report (null: neither);
      prev_year_last_report  last year's accepted current value of the same
                           town, indicator and quarter;
      prev_year_revision_pct (reported / last report − 1) × 100 where both exist;
      prev_year_revised    the revision exceeds the tolerance of the year (seed
                           policy_parameters prior_mismatch_tolerance);
      growth_pct           (value / value_prev_year − 1) × 100 (6 decimals; the
                           assessment uses growth_pct_unrounded), for
                           kinds with yoy_growth (flows and stocks, not reported
                           rates); null when either value is null or the prior is 0;
      reported_growth_pct  the growth the county reported itself for the indicator
                           (gdp -> gdp_growth, seed indicator_reported_growth).

    Incremental by reporting partition (macro incremental_partitions): a build
    rewrites the (county, year, quarter) whose current submissions or seeds changed
    and the same quarter of the next year (whose prior-year columns read them). The
    prior-year and reported-growth rows are equi-joins on the full key (county,
    form, town, indicator, period), read per affected partition through the
    partition index of int_report_values_current: no join grows beyond one row per
    value. A full refresh gives the same rows (tested). -#}

-- depends_on: {{ ref('int_submissions_current') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['county_code', 'year', 'quarter']}],
        pre_hook=["{{ hash_joins_on_full_refresh() }}",
                  "{{ delete_affected_partitions(current_values_read_inputs(), ['next_year']) }}"],
        post_hook="{{ record_partition_inputs(current_values_read_inputs(), ['next_year']) }}",
    )
}}



{% if is_incremental() %}

with affected as (

    {{ affected_partitions(current_values_read_inputs(), ['next_year']) }}

),

report_values as not materialized (

    select current_values.*
    from {{ ref('int_report_values_current') }} as current_values
    inner join affected
        on current_values.county_code = affected.county_code
        and current_values.year = affected.year
        and current_values.quarter = affected.quarter

),

last_year_values as (

    select current_values.county_code, current_values.form, current_values.town_code, current_values.indicator, current_values.year, current_values.quarter, current_values.value
    from {{ ref('int_report_values_current') }} as current_values
    inner join affected
        on current_values.county_code = affected.county_code
        and current_values.year = affected.year - 1
        and current_values.quarter = affected.quarter

),

{% else %}

with report_values as not materialized (

    select * from {{ ref('int_report_values_current') }}

),

last_year_values as (

    {#- the key and the value only: narrow rows keep the hash table of the full refresh (11 M values at nation
        scale) in memory -#}
    select county_code, form, town_code, indicator, year, quarter, value from {{ ref('int_report_values_current') }}

),

{% endif %}

indicators as (

    select * from {{ ref('stg_seeds__indicators') }}

),

indicator_kinds as (

    select * from {{ ref('indicator_kinds') }}

),

indicator_reported_growth as (

    select * from {{ ref('indicator_reported_growth') }}

),

policy_parameters as (

    select * from {{ ref('policy_parameters') }}

),

growth_values as (

    {#- the reported growth rates only (gdp_growth beside gdp, ...): the join's hash table is a few per cent
        of the values, not all of them -#}
    select report_values.county_code, report_values.form, report_values.town_code, report_values.indicator, report_values.year, report_values.quarter, report_values.value
    from report_values
    where (report_values.form, report_values.indicator) in (
        select form, growth_indicator from indicator_reported_growth
    )

),

with_catalogue as (

    select
        report_values.*,
        indicators.unit,
        indicators.kind,
        coalesce(indicator_kinds.yoy_growth, false) as has_yoy_growth,
        indicator_reported_growth.growth_indicator
    from report_values
    left join indicators
        on report_values.form = indicators.form
        and report_values.indicator = indicators.indicator
    left join indicator_kinds
        on indicators.kind = indicator_kinds.kind
    left join indicator_reported_growth
        on report_values.form = indicator_reported_growth.form
        and report_values.indicator = indicator_reported_growth.indicator

),

with_prior_year as (

    select
        with_catalogue.*,
        last_year.value as prev_year_last_report,
        coalesce(with_catalogue.value_prev_year_reported, last_year.value) as value_prev_year,
        case
            when with_catalogue.value_prev_year_reported is not null then 'reported'
            when last_year.value is not null then 'last_year_report'
        end as prev_year_source,
        tolerance.value as prior_mismatch_tolerance,
        reported_growth.value as reported_growth_pct
    from with_catalogue
    left join last_year_values as last_year
        on with_catalogue.county_code = last_year.county_code
        and with_catalogue.form = last_year.form
        and coalesce(with_catalogue.town_code, '') = coalesce(last_year.town_code, '')  -- hashable; town codes are never ''
        and with_catalogue.indicator = last_year.indicator
        and with_catalogue.year - 1 = last_year.year
        and with_catalogue.quarter = last_year.quarter
    left join growth_values as reported_growth
        on with_catalogue.county_code = reported_growth.county_code
        and with_catalogue.form = reported_growth.form
        and coalesce(with_catalogue.town_code, '') = coalesce(reported_growth.town_code, '')  -- hashable; town codes are never ''
        and with_catalogue.growth_indicator = reported_growth.indicator
        and with_catalogue.year = reported_growth.year
        and with_catalogue.quarter = reported_growth.quarter
    left join policy_parameters as tolerance
        on tolerance.parameter = 'prior_mismatch_tolerance'
        and {{ in_force('tolerance', 'with_catalogue.year') }}

),

final as (

    select
        submission_id,
        version,
        county_code,
        year,
        quarter,
        form,
        town_code,
        indicator,
        unit,
        kind,
        value,
        value_prev_year,
        prev_year_source,
        prev_year_last_report,
        case
            when value_prev_year_reported is not null and prev_year_last_report <> 0
                then round((value_prev_year_reported / prev_year_last_report - 1) * 100, 6)
        end as prev_year_revision_pct,
        coalesce(
            abs(value_prev_year_reported - prev_year_last_report)
                > prior_mismatch_tolerance * abs(prev_year_last_report),
            false
        ) as prev_year_revised,
        case
            when has_yoy_growth and value_prev_year <> 0
                then round((value / value_prev_year - 1) * 100, 6)
        end as growth_pct,
        case
            when has_yoy_growth and value_prev_year <> 0
                then (value / value_prev_year - 1) * 100
        end as growth_pct_unrounded,
        reported_growth_pct,
        source_file_sha256,
        source_sheet,
        source_cell,
        prev_year_source_cell
    from with_prior_year

)

select * from final
