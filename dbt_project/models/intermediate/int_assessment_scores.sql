{#- The score, grade and standing of every assessed town-year (programme-rules
    section 4):
      pending      a component is missing (due Q4 data not there): no score, no
                   grade, no rank, no proposal until the report arrives;
      score        sum(points) × 100 / sum(weights of the scored indicators), from
                   unrounded points, published to 6 decimals (rescaled to 100 when
                   some weight is not scored); grade, ties, rank and proposals use it;
      comparable   not pending and the scored weight is at least the share of the
                   total weight of the year's policy (seed policy_parameters
                   min_comparable_weight_share): only comparable scores are ranked
                   and can ground a proposal;
      grade        of seed assessment_grades valid in the year: the grade with the
                   highest min_score the score reaches;
      investment_completion  the unrounded task completion (compared unrounded). -#}

with components as (

    select * from {{ ref('int_assessment_components') }}

),

town_years as (

    select * from {{ ref('int_town_years') }}

),

assessment_grades as (

    select * from {{ ref('assessment_grades') }}

),

policy_parameters as (

    select * from {{ ref('policy_parameters') }}

),

totals as (

    select
        year,
        town_code,
        sum(points_unrounded) as points,
        sum(weight) filter (where status = 'ok') as scored_weight,
        sum(weight) as total_weight,
        bool_or(status = 'missing') as is_pending,
        max(actual_unrounded) filter (where method = 'task_completion') as investment_completion,
        count(*) filter (where status = 'not_scored') as n_not_scored
    from components
    group by year, town_code

),

scored as (

    select
        town_years.*,
        totals.is_pending as pending,
        coalesce(totals.scored_weight, 0) as scorable_weight,
        totals.total_weight,
        case
            when not totals.is_pending then round(totals.points * 100 / nullif(totals.scored_weight, 0), 6)
        end as score,
        coalesce(totals.scored_weight, 0) >= min_share.value * totals.total_weight as has_min_weight,
        min_share.value as min_comparable_weight_share,
        totals.investment_completion,
        totals.n_not_scored
    from town_years
    inner join totals
        on town_years.year = totals.year
        and town_years.town_code = totals.town_code
    left join policy_parameters as min_share
        on min_share.parameter = 'min_comparable_weight_share'
        and {{ in_force('min_share', 'town_years.year') }}

),

final as (

    select
        scored.*,
        (scored.score is not null and coalesce(scored.has_min_weight, false)) as comparable,
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
            and {{ in_force('assessment_grades', 'scored.year') }}
        order by assessment_grades.min_score desc
        limit 1
    ) as grade on true

)

select * from final
