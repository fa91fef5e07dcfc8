{#- Shares of every town and quarter (seed shares): share_pct = numerator /
    denominator × 100 (6 decimals), null when either is missing or the denominator
    is 0; share_pct_prev_year: the same quarter of the previous year; change_pp =
    share_pct − share_pct_prev_year (percentage points). -#}

with report_values as (

    select * from {{ ref('int_report_values_current') }}

),

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
        round(numerator.value / nullif(denominator.value, 0) * 100, 6) as share_pct
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

final as (

    select
        this_year.county_code,
        this_year.year,
        this_year.quarter,
        this_year.town_code,
        this_year.share,
        this_year.numerator,
        this_year.denominator,
        this_year.share_pct,
        prior_year.share_pct as share_pct_prev_year,
        (prior_year.town_code is not null) as has_prior_year_row,
        round(this_year.share_pct - prior_year.share_pct, 6) as change_pp
    from share_values as this_year
    left join share_values as prior_year
        on this_year.town_code = prior_year.town_code
        and this_year.share = prior_year.share
        and this_year.year - 1 = prior_year.year
        and this_year.quarter = prior_year.quarter

)

select * from final
