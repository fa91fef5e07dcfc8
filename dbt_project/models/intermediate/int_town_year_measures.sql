{#- The actual value of every assessment indicator (seed assessment_measures) for
    every town-year of int_town_years, from the Q4 values of the current
    submissions, and whether it can be scored:
      ok           the actual is known;
      not_scored   it cannot be computed and is left out of the score (the total is
                   rescaled): first_year (it needs a prior-year value and the town
                   did not report in the previous year), no_task (no annual
                   investment task in the registry or the tier);
      missing      data that was due is missing (scores 0): no_q4_value (the Q4
                   value or the Q4 report is missing), no_prior_year_value,
                   zero_prior_year_value, zero_denominator.
    Methods: task_completion = Q4 YTD / annual_task_prorated; share_pct and
    share_change_pp from int_town_quarter_shares at Q4; yoy_growth = growth_pct of
    int_report_values_yoy at Q4 (Q4 YTD / previous Q4 YTD − 1, percent);
    reported_rate and ytd_value = the Q4 value itself. -#}

with town_years as (

    select * from {{ ref('int_town_years') }}

),

report_values as (

    select * from {{ ref('int_report_values_yoy') }}

),

town_quarter_shares as (

    select * from {{ ref('int_town_quarter_shares') }}

),

assessment_measures as (

    select * from {{ ref('assessment_measures') }}

),

candidates as (

    select
        town_years.*,
        assessment_measures.indicator,
        assessment_measures.unit,
        assessment_measures.method,
        assessment_measures.source,
        assessment_measures.method in ('yoy_growth', 'share_change_pp') as needs_prior_year
    from town_years
    inner join assessment_measures
        on town_years.programme = assessment_measures.programme

),

values_q4 as (

    select * from report_values
    where quarter = 4
        and town_code is not null

),

shares_q4 as (

    select * from town_quarter_shares
    where quarter = 4

),

joined as (

    select
        candidates.*,
        values_q4.value as source_value,
        values_q4.value_prev_year as source_value_prev_year,
        values_q4.growth_pct,
        shares_q4.numerator,
        shares_q4.denominator,
        shares_q4.share_pct,
        shares_q4.share_pct_prev_year,
        shares_q4.change_pp
    from candidates
    left join values_q4
        on candidates.town_code = values_q4.town_code
        and candidates.year = values_q4.year
        and candidates.form = values_q4.form
        and candidates.source = values_q4.indicator
        and candidates.method in ('task_completion', 'yoy_growth', 'reported_rate', 'ytd_value')
    left join shares_q4
        on candidates.town_code = shares_q4.town_code
        and candidates.year = shares_q4.year
        and candidates.source = shares_q4.share
        and candidates.method in ('share_pct', 'share_change_pp')

),

measured as (

    select
        joined.*,
        case joined.method
            when 'task_completion' then round(joined.source_value / nullif(joined.annual_task_prorated, 0), 6)
            when 'yoy_growth' then joined.growth_pct
            when 'share_pct' then joined.share_pct
            when 'share_change_pp' then joined.change_pp
            else joined.source_value
        end as actual,
        case
            when joined.method in ('share_pct', 'share_change_pp') then joined.share_pct_prev_year
            else joined.source_value_prev_year
        end as actual_inputs_prev_year
    from joined

),

final as (

    select
        year,
        town_code,
        county_code,
        programme,
        tier,
        list_name,
        membership_valid_from,
        indicator,
        unit,
        method,
        source,
        actual,
        case
            when method = 'task_completion' then source_value
            when method in ('share_pct', 'share_change_pp') then share_pct
            else source_value
        end as value_q4,
        actual_inputs_prev_year as value_prev_year,
        annual_task_prorated,
        case
            when needs_prior_year and not has_prior_year_report then 'not_scored'
            when method = 'task_completion' and coalesce(annual_task_prorated, 0) = 0 then 'not_scored'
            when actual is null then 'missing'
            else 'ok'
        end as status,
        case
            when needs_prior_year and not has_prior_year_report then 'first_year'
            when method = 'task_completion' and coalesce(annual_task_prorated, 0) = 0 then 'no_task'
            when actual is not null then null
            when not has_q4_report then 'no_q4_value'
            when method in ('share_pct', 'share_change_pp') and (numerator is null or denominator is null) then 'no_q4_value'
            when method in ('share_pct', 'share_change_pp') and denominator = 0 then 'zero_denominator'
            when method not in ('share_pct', 'share_change_pp') and source_value is null then 'no_q4_value'
            when method = 'share_change_pp' and share_pct_prev_year is null then 'no_prior_year_value'
            when method = 'yoy_growth' and source_value_prev_year is null then 'no_prior_year_value'
            when method = 'yoy_growth' and source_value_prev_year = 0 then 'zero_prior_year_value'
            else 'no_q4_value'
        end as reason
    from measured

)

select * from final
