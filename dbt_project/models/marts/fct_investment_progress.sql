{#- Published dataset: investment progress of every characteristic town that is
    a member at quarter end and reported its FAI (programme-rules section 3).
    progress_ratio = fai_ytd / annual_task (6 decimals; the status is decided on
    the published ratio); status = the band of pace_thresholds
    with the highest min_share_of_pace such that
    progress_ratio >= min_share_of_pace * expected_pace (green at or above pace,
    amber from 80% of pace, red below). early_warning: red in this quarter and in
    the calendar quarter before (across a year end too: 2015Q4 and 2016Q1 count
    as two quarters running); a quarter without a row is not red. -#}

with report_values as (

    select * from {{ ref('int_report_values_current') }}

),

memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

expected_pace as (

    select * from {{ ref('expected_pace') }}

),

pace_thresholds as (

    select * from {{ ref('pace_thresholds') }}

),

characteristic_fai as (

    select
        memberships_quarterly.year,
        memberships_quarterly.quarter,
        memberships_quarterly.quarter_index,
        memberships_quarterly.town_code,
        memberships_quarterly.tier,
        report_values.value as fai_ytd,
        memberships_quarterly.annual_task
    from report_values
    inner join memberships_quarterly
        on report_values.town_code = memberships_quarterly.town_code
        and report_values.year = memberships_quarterly.year
        and report_values.quarter = memberships_quarterly.quarter
    where memberships_quarterly.programme = 'characteristic'
        and report_values.indicator = 'fai'

),

progress as (

    select
        characteristic_fai.*,
        round(characteristic_fai.fai_ytd / nullif(characteristic_fai.annual_task, 0), 6) as progress_ratio,
        expected_pace.expected_pace
    from characteristic_fai
    left join expected_pace
        on characteristic_fai.quarter = expected_pace.quarter

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
        order by pace_thresholds.min_share_of_pace desc
        limit 1
    ) as band on true

),

final as (

    select
        this_quarter.year::integer as year,
        this_quarter.quarter::integer as quarter,
        this_quarter.town_code::text as town_code,
        this_quarter.tier::text as tier,
        this_quarter.fai_ytd::numeric(20, 6) as fai_ytd,
        this_quarter.annual_task::numeric(20, 6) as annual_task,
        this_quarter.progress_ratio::numeric(20, 6) as progress_ratio,
        this_quarter.expected_pace::numeric(20, 6) as expected_pace,
        this_quarter.status::text as status,
        coalesce(
            this_quarter.status = 'red' and previous_quarter.status = 'red',
            false
        ) as early_warning
    from progress_status as this_quarter
    left join progress_status as previous_quarter
        on this_quarter.town_code = previous_quarter.town_code
        and this_quarter.quarter_index - 1 = previous_quarter.quarter_index

)

select * from final
