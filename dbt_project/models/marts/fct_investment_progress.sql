{#- Published dataset investment_progress (programme-rules section 3): every
    characteristic town that is a member at quarter end and reported its FAI.
      progress_ratio   fai_ytd / the whole-year annual task of the year
                       (int_annual_tasks; also in the year a town joins: reports are
                       cumulative from January) — at Q4 the assessment's task
                       completion, the same number (6 decimals; status decided on it);
      status           the band of seed pace_thresholds of the year with the highest
                       min_share_of_pace such that progress_ratio >= min_share_of_pace ×
                       expected_pace (seed expected_pace of the year);
      early_warning    red in this quarter and the quarters before it, as many running
                       as policy_parameters early_warning_quarters (across year ends);
      fai_since_joining  the whole-year FAI of each year from the joining calendar year
                       of the current list on (Q4 of the years before, this quarter's
                       YTD in the current one), at most policy_parameters plan_window_years; null when
                       a Q4 of those years is missing;
      plan_progress_ratio = fai_since_joining / plan_investment_3y (the membership's plan,
                       else the tier's 3-year target);
      plan_time_elapsed_ratio = quarters since 1 January of the joining year / (4 × plan_window_years). -#}

with report_values as (

    select * from {{ ref('int_report_values_current') }}

),

memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

annual_tasks as (

    select * from {{ ref('int_annual_tasks') }}

),

tiers as (

    select * from {{ ref('tiers') }}

),

expected_pace as (

    select * from {{ ref('expected_pace') }}

),

pace_thresholds as (

    select * from {{ ref('pace_thresholds') }}

),

policy_parameters as (

    select * from {{ ref('policy_parameters') }}

),

fai_values as (

    select * from report_values
    where form = 'LZ-1'
        and indicator = 'fai'
        and town_code is not null

),

characteristic_fai as (

    select
        memberships_quarterly.year,
        memberships_quarterly.quarter,
        memberships_quarterly.quarter_index,
        memberships_quarterly.town_code,
        memberships_quarterly.tier,
        extract(year from memberships_quarterly.valid_from)::integer as join_year,
        coalesce(memberships_quarterly.plan_investment_3y, tiers.fai_target_3y) as plan_investment_3y,
        fai_values.value as fai_ytd,
        annual_tasks.annual_task,
        annual_tasks.annual_task_source,
        plan_window.value::integer as window_years
    from fai_values
    inner join memberships_quarterly
        on fai_values.town_code = memberships_quarterly.town_code
        and fai_values.year = memberships_quarterly.year
        and fai_values.quarter = memberships_quarterly.quarter
        and memberships_quarterly.programme = 'characteristic'
    left join tiers
        on memberships_quarterly.programme = tiers.programme
        and memberships_quarterly.tier = tiers.tier
    left join annual_tasks
        on memberships_quarterly.town_code = annual_tasks.town_code
        and memberships_quarterly.year = annual_tasks.year
    left join policy_parameters as plan_window
        on plan_window.parameter = 'plan_window_years'
        and {{ in_force('plan_window', 'memberships_quarterly.year') }}

),

since_joining as (

    select
        characteristic_fai.town_code,
        characteristic_fai.year,
        characteristic_fai.quarter,
        count(earlier_q4.value) as n_earlier_years,
        sum(earlier_q4.value) as fai_earlier_years
    from characteristic_fai
    left join fai_values as earlier_q4
        on characteristic_fai.town_code = earlier_q4.town_code
        and earlier_q4.quarter = 4
        and earlier_q4.year >= characteristic_fai.join_year
        and earlier_q4.year < least(characteristic_fai.year, characteristic_fai.join_year + characteristic_fai.window_years)
    group by 1, 2, 3

),

progress as (

    select
        characteristic_fai.*,
        round(characteristic_fai.fai_ytd / nullif(characteristic_fai.annual_task, 0), 6) as progress_ratio,
        expected_pace.expected_pace,
        case
            when since_joining.n_earlier_years
                = least(characteristic_fai.year, characteristic_fai.join_year + characteristic_fai.window_years) - characteristic_fai.join_year
                then coalesce(since_joining.fai_earlier_years, 0)
                    + case when characteristic_fai.year < characteristic_fai.join_year + characteristic_fai.window_years then characteristic_fai.fai_ytd else 0 end
        end as fai_since_joining,
        least((characteristic_fai.year - characteristic_fai.join_year) * 4 + characteristic_fai.quarter, characteristic_fai.window_years * 4)
            / (characteristic_fai.window_years * 4.0)
            as plan_time_elapsed_ratio
    from characteristic_fai
    left join since_joining
        on characteristic_fai.town_code = since_joining.town_code
        and characteristic_fai.year = since_joining.year
        and characteristic_fai.quarter = since_joining.quarter
    left join expected_pace
        on characteristic_fai.quarter = expected_pace.quarter
        and {{ in_force('expected_pace', 'characteristic_fai.year') }}

),

progress_status as (

    select
        progress.*,
        band.status
    from progress
    left join lateral (
        select pace_thresholds.status
        from pace_thresholds
        where progress.progress_ratio >= pace_thresholds.min_share_of_pace * progress.expected_pace
            and {{ in_force('pace_thresholds', 'progress.year') }}
        order by pace_thresholds.min_share_of_pace desc
        limit 1
    ) as band on true

),

warnings as (

    select
        this_quarter.town_code,
        this_quarter.quarter_index,
        count(earlier.quarter_index) as red_quarters_running,
        warning_quarters.value as early_warning_quarters
    from progress_status as this_quarter
    left join policy_parameters as warning_quarters
        on warning_quarters.parameter = 'early_warning_quarters'
        and {{ in_force('warning_quarters', 'this_quarter.year') }}
    left join progress_status as earlier
        on this_quarter.town_code = earlier.town_code
        and earlier.status = 'red'
        and earlier.quarter_index > this_quarter.quarter_index - warning_quarters.value
        and earlier.quarter_index <= this_quarter.quarter_index
    group by 1, 2, 4

),

final as (

    select
        progress_status.year::integer as year,
        progress_status.quarter::integer as quarter,
        progress_status.town_code::text as town_code,
        progress_status.tier::text as tier,
        progress_status.fai_ytd::numeric(20, 6) as fai_ytd,
        progress_status.annual_task::numeric(20, 6) as annual_task,
        progress_status.annual_task_source::text as annual_task_source,
        progress_status.progress_ratio::numeric(20, 6) as progress_ratio,
        progress_status.expected_pace::numeric(20, 6) as expected_pace,
        progress_status.status::text as status,
        coalesce(warnings.red_quarters_running >= warnings.early_warning_quarters, false)::boolean as early_warning,
        progress_status.join_year::integer as join_year,
        progress_status.fai_since_joining::numeric(20, 6) as fai_since_joining,
        progress_status.plan_investment_3y::numeric(20, 6) as plan_investment_3y,
        round(progress_status.fai_since_joining / nullif(progress_status.plan_investment_3y, 0), 6)::numeric(20, 6)
            as plan_progress_ratio,
        round(progress_status.plan_time_elapsed_ratio, 6)::numeric(20, 6) as plan_time_elapsed_ratio
    from progress_status
    left join warnings
        on progress_status.town_code = warnings.town_code
        and progress_status.quarter_index = warnings.quarter_index

)

select * from final
