{#- The score and grade of every town-year of int_town_years (before the
    consequences of earlier years):
        score = sum(points) × 100 / sum(weights of the scorable indicators)
    (6 decimals), scorable = status ok or missing; when some weight is not
    scorable (first year: no prior-year value) the total is rescaled to 100 over
    the others; null when nothing is scorable. grade: the grade of seed
    assessment_grades with the highest min_score the score reaches.
    investment_completion: the actual of the task_completion indicator;
    investment_completion_missing when that data was due and missing. -#}

with components as (

    select * from {{ ref('int_assessment_components') }}

),

town_years as (

    select * from {{ ref('int_town_years') }}

),

assessment_grades as (

    select * from {{ ref('assessment_grades') }}

),

totals as (

    select
        year,
        town_code,
        sum(points) as points,
        sum(weight) filter (where status <> 'not_scored') as scorable_weight,
        sum(weight) as total_weight,
        max(actual) filter (where method = 'task_completion') as investment_completion,
        coalesce(bool_or(status = 'missing') filter (where method = 'task_completion'), false)
            as investment_completion_missing,
        count(*) filter (where status = 'missing') as n_missing,
        count(*) filter (where status = 'not_scored') as n_not_scored
    from components
    group by year, town_code

),

scored as (

    select
        town_years.*,
        totals.points,
        coalesce(totals.scorable_weight, 0) as scorable_weight,
        coalesce(totals.total_weight, 0) as total_weight,
        round(totals.points * 100 / nullif(totals.scorable_weight, 0), 6) as score,
        totals.investment_completion,
        coalesce(totals.investment_completion_missing, false) as investment_completion_missing,
        coalesce(totals.n_missing, 0) as n_missing,
        coalesce(totals.n_not_scored, 0) as n_not_scored
    from town_years
    left join totals
        on town_years.year = totals.year
        and town_years.town_code = totals.town_code

),

final as (

    select
        scored.*,
        scored.scorable_weight < scored.total_weight as is_rescaled,
        grade.grade,
        grade.is_passing
    from scored
    left join lateral (
        select
            assessment_grades.grade,
            assessment_grades.is_passing
        from assessment_grades
        where scored.score >= assessment_grades.min_score
        order by assessment_grades.min_score desc
        limit 1
    ) as grade on true

)

select * from final
