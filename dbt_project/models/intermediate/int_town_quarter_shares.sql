{#- Shares of every town and quarter (seed shares): share_pct = numerator /
    denominator × 100 (6 decimals), null when either is missing or the denominator
    is 0; share_pct_prev_year: the same share from the prior-year values used
    (int_report_values_yoy: the reported 上年同期, else last year's accepted
    report); change_pp = share_pct − share_pct_prev_year (percentage points), from
    the unrounded shares (published to 6 decimals; the *_unrounded columns feed the
    assessment, programme-rules section 4 "computed from unrounded inputs").

    Incremental by reporting partition (macro incremental_partitions): a share reads
    the values of its own (county, year, quarter) only (the prior-year values ride on
    yoy's rows), so a build rewrites the partitions whose yoy rows were rebuilt: its
    inputs are what int_report_values_yoy recorded, and, as for yoy, the same quarter
    of the next year follows. A full refresh gives the same rows (tested). -#}

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
        pre_hook=["{{ hash_joins_only() }}", "{{ hash_joins_on_full_refresh() }}",
                  "{{ delete_affected_partitions(yoy_read_inputs(), ['next_year']) }}"],
        post_hook="{{ record_partition_inputs(yoy_read_inputs(), ['next_year']) }}",
    )
}}

{% if is_incremental() %}

with report_values as not materialized (

    select yoy.*
    from {{ ref('int_report_values_yoy') }} as yoy
    inner join ({{ affected_partitions(yoy_read_inputs(), ['next_year']) }}) as affected
        on yoy.county_code = affected.county_code
        and yoy.year = affected.year
        and yoy.quarter = affected.quarter

),

{% else %}

with report_values as not materialized (

    select * from {{ ref('int_report_values_yoy') }}

),

{% endif %}

shares as (

    select * from {{ ref('shares') }}

),

town_periods as (

    select distinct
        report_values.county_code,
        report_values.year,
        report_values.quarter,
        report_values.form,
        report_values.town_code
    from report_values
    where report_values.town_code is not null

),

share_values as (

    select
        town_periods.county_code,
        town_periods.year,
        town_periods.quarter,
        town_periods.town_code,
        shares.share,
        numerator.value as numerator,
        denominator.value as denominator,
        numerator.value_prev_year as numerator_prev_year,
        denominator.value_prev_year as denominator_prev_year
    from town_periods
    inner join shares
        on town_periods.form = shares.form
    left join report_values as numerator
        on town_periods.county_code = numerator.county_code
        and town_periods.year = numerator.year
        and town_periods.quarter = numerator.quarter
        and town_periods.form = numerator.form
        and town_periods.town_code = numerator.town_code
        and shares.numerator_indicator = numerator.indicator
    left join report_values as denominator
        on town_periods.county_code = denominator.county_code
        and town_periods.year = denominator.year
        and town_periods.quarter = denominator.quarter
        and town_periods.form = denominator.form
        and town_periods.town_code = denominator.town_code
        and shares.denominator_indicator = denominator.indicator

),

computed as (

    select
        share_values.*,
        numerator / nullif(denominator, 0) * 100 as share_pct_unrounded,
        numerator_prev_year / nullif(denominator_prev_year, 0) * 100 as share_pct_prev_year_unrounded
    from share_values

),

final as (

    select
        county_code,
        year,
        quarter,
        town_code,
        share,
        numerator,
        denominator,
        numerator_prev_year,
        denominator_prev_year,
        round(share_pct_unrounded, 6) as share_pct,
        round(share_pct_prev_year_unrounded, 6) as share_pct_prev_year,
        (numerator_prev_year is not null or denominator_prev_year is not null) as has_prior_year_row,
        round(share_pct_unrounded - share_pct_prev_year_unrounded, 6) as change_pp,
        share_pct_unrounded,
        share_pct_unrounded - share_pct_prev_year_unrounded as change_pp_unrounded
    from computed

)

select * from final
