-- The score is the sum of its components: score = sum(points) × 100 / sum of the
-- weights scored, and = sum(scaled_points), up to the rounding of the published
-- components (6 decimals each); a pending result has no score. Fails with each
-- town-year that disagrees, or whose components are missing.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

components as (

    select * from {{ ref('fct_assessment_components') }}

),

sums as (

    select
        year,
        town_code,
        sum(points) as points,
        sum(weight) filter (where scored) as scorable_weight,
        sum(scaled_points) as scaled_points,
        count(*) as n_components
    from components
    group by year, town_code

),

final as (

    select
        annual_assessment.year,
        annual_assessment.town_code,
        annual_assessment.score,
        sums.points,
        sums.scorable_weight,
        sums.scaled_points
    from annual_assessment
    left join sums
        on annual_assessment.year = sums.year
        and annual_assessment.town_code = sums.town_code
    where sums.n_components is null
        or (annual_assessment.pending and annual_assessment.score is not null)
        or (not annual_assessment.pending and (
            annual_assessment.score is null
            or abs(annual_assessment.score - sums.points * 100 / nullif(sums.scorable_weight, 0))
                > 0.000001 * sums.n_components * 100 / nullif(sums.scorable_weight, 0)
        ))
        or abs(annual_assessment.score - sums.scaled_points) > 0.000001 * sums.n_components
        or annual_assessment.scorable_weight is distinct from coalesce(sums.scorable_weight, 0)

)

select * from final
