-- One basis for one number: a characteristic town's investment completion in the
-- assessment is its Q4 investment progress (YTD FAI / the whole-year task), and
-- both use the same task.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

investment_progress as (

    select * from {{ ref('fct_investment_progress') }}

),

final as (

    select
        annual_assessment.year,
        annual_assessment.town_code,
        annual_assessment.investment_completion,
        investment_progress.progress_ratio
    from annual_assessment
    inner join investment_progress
        on annual_assessment.year = investment_progress.year
        and annual_assessment.town_code = investment_progress.town_code
        and investment_progress.quarter = 4
    where annual_assessment.investment_completion is distinct from investment_progress.progress_ratio
        or annual_assessment.annual_task is distinct from investment_progress.annual_task

)

select * from final
