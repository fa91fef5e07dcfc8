{#- The actual value of every assessment indicator (seed assessment_measures) for
    every monitored town-year (int_town_years), from the Q4 values of the current
    submissions, and whether it can be scored (programme-rules section 4):
      ok           the actual is known;
      missing      a current Q4 value the indicator needs is missing (no_q4_report,
                   no_q4_value): the result is pending (待数据), never scored 0;
      not_scored   it cannot be computed from the data that is there and is left
                   out of the score, which is rescaled: no_prior_year_value (neither a
                   reported 上年同期 nor last year's report), zero_prior_year_value,
                   zero_denominator, no_task.
    Methods: task_completion = Q4 YTD FAI / the whole-year annual task of the year
    (the same figure as investment_progress at Q4, unrounded); share_pct and
    share_change_pp from int_town_quarter_shares at Q4; yoy_growth = growth_pct of
    int_report_values_yoy at Q4; reported_rate and ytd_value = the Q4 value. -#}

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
        assessment_measures.source
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
        values_q4.growth_pct_unrounded as growth_pct,
        shares_q4.numerator,
        shares_q4.denominator,
        shares_q4.denominator_prev_year,
        shares_q4.share_pct_unrounded as share_pct,
        shares_q4.share_pct_prev_year,
        shares_q4.change_pp_unrounded as change_pp
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
            when 'task_completion' then joined.source_value / nullif(joined.annual_task, 0)
            when 'yoy_growth' then joined.growth_pct
            when 'share_pct' then joined.share_pct
            when 'share_change_pp' then joined.change_pp
            else joined.source_value
        end as actual,
        case
            when joined.method in ('share_pct', 'share_change_pp')
                then joined.numerator is null or joined.denominator is null
            else joined.source_value is null
        end as q4_value_missing
    from joined

),

classified as (

    select
        measured.*,
        case
            when actual is not null then null
            when not has_q4_report then 'no_q4_report'
            when q4_value_missing then 'no_q4_value'
            when method = 'task_completion' and coalesce(annual_task, 0) = 0 then 'no_task'
            when method = 'share_pct' and denominator = 0 then 'zero_denominator'
            when method = 'share_change_pp' and denominator = 0 then 'zero_denominator'
            when method = 'share_change_pp' and denominator_prev_year = 0 then 'zero_prior_year_value'
            when method = 'share_change_pp' then 'no_prior_year_value'
            when method = 'yoy_growth' and source_value_prev_year = 0 then 'zero_prior_year_value'
            when method = 'yoy_growth' then 'no_prior_year_value'
            else 'no_q4_value'
        end as reason
    from measured

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
        assessed,
        indicator,
        unit,
        method,
        source,
        round(actual, 6) as actual,
        actual as actual_unrounded,
        case
            when method in ('share_pct', 'share_change_pp') then round(share_pct, 6)
            else source_value
        end as value_q4,
        case
            when method in ('share_pct', 'share_change_pp') then share_pct_prev_year
            else source_value_prev_year
        end as value_prev_year,
        annual_task,
        case
            when reason is null then 'ok'
            when reason in ('no_q4_report', 'no_q4_value') then 'missing'
            else 'not_scored'
        end as status,
        reason
    from classified

)

select * from final
